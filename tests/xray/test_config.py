import pytest

from triage_ray.xray.config import XrayConfig


def test_unknown_keys_are_rejected_with_the_known_ones_listed():
    with pytest.raises(ValueError, match="unknown XrayConfig keys: \\['epoch'\\]"):
        XrayConfig.from_dict({"epoch": 3})


def test_smoke_config_is_small_and_round_trips(tmp_path):
    cfg = XrayConfig.smoke_config()
    assert cfg.smoke and cfg.n_studies < XrayConfig().n_studies
    cfg.save(tmp_path / "c.json")
    import json

    assert XrayConfig.from_dict(json.loads((tmp_path / "c.json").read_text())) == cfg


@pytest.mark.parametrize("bad", [
    {"splits": {"train": 0.5, "test": 0.5}},
    {"alpha": 0.0},
    {"source": "nih"},  # no data_root
    {"source": "dicom"},
])
def test_invalid_values_fail_at_construction(bad):
    with pytest.raises(ValueError):
        XrayConfig.from_dict(bad)
