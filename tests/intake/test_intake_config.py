import json

import pytest

from triage_ray.intake.config import IntakeConfig
from triage_ray.intake.setups import Setup, study_setups


def test_defaults_respect_the_issue():
    cfg = IntakeConfig()
    assert cfg.n_records == 40_000 and cfg.seeds == 5
    assert len(cfg.train_sizes) == 2 and len(cfg.relatedness) == 2
    keys = [s.key for s in study_setups(cfg)]
    assert keys == ["mtl_fixed_0.25", "mtl_fixed_0.5", "mtl_fixed_0.75", "mtl_uncertainty",
                    "tf_urgency", "tf_specialty", "xgb"]
    assert all(Setup.from_key(k).key == k for k in keys)


def test_unknown_keys_and_bad_values_raise(tmp_path):
    with pytest.raises(ValueError, match="unknown IntakeConfig key.*'epoch'"):
        IntakeConfig.from_dict({"epoch": 3})
    with pytest.raises(ValueError, match="relatedness"):
        IntakeConfig.from_dict({"relatedness": [1.2]})
    with pytest.raises(ValueError, match="train_sizes"):
        IntakeConfig.from_dict({"train_sizes": [500, 100]})
    with pytest.raises(ValueError, match="unknown setup key"):
        Setup.from_key("mlp")
    cfg = IntakeConfig.smoke_config(seeds=1)
    cfg.save(tmp_path / "c.json")
    assert IntakeConfig.from_dict(json.loads((tmp_path / "c.json").read_text())) == cfg


def test_sweep_script_builds_configs():
    from importlib.util import module_from_spec, spec_from_file_location
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "sweeps" / "intake.py"
    spec = spec_from_file_location("intake_sweep", path)
    mod = module_from_spec(spec)
    spec.loader.exec_module(mod)
    cfg = mod.build_config(mod.parse_args(["--smoke", "--seeds", "1", "--set", "n_boot=50"]))
    assert cfg.smoke and cfg.seeds == 1 and cfg.n_boot == 50
    assert mod.build_config(mod.parse_args([])) == IntakeConfig()
    assert len(path.read_text().splitlines()) < 120  # the entry script stays thin
