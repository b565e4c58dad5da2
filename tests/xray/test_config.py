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


@pytest.mark.parametrize(("key", "value", "registry"), [
    ("source", "dicom", "triage_ray.xray.sources:SOURCES"),
    ("calibrator", "beta", "triage_ray.calibrate:CALIBRATORS"),
    ("t_low_rule", "ltt", "triage_ray.abstain:T_LOW_RULES"),
    ("t_high_rule", "npv", "triage_ray.abstain:T_HIGH_RULES"),
    ("sim_policy", "auto-clear", "sim:POLICIES"),
    ("uncertain_order", "fifo", "triage_ray.abstain:UNCERTAIN_ORDERS"),
    ("op_uncertain_orders", ["fifo"], "triage_ray.abstain:UNCERTAIN_ORDERS"),
    ("op_priority_rules", ["npv"], "triage_ray.abstain:T_HIGH_RULES"),
    ("backbones", ["resnet10t", "resnet9000"], "triage_ray.models:BACKBONES"),
])
def test_every_registered_choice_is_checked_at_start_up_naming_the_allowed_values(key, value,
                                                                                 registry):
    import importlib

    module, name = registry.split(":")
    allowed = sorted(getattr(importlib.import_module(module), name))
    assert len(allowed) >= 2  # a registry, not a constant
    with pytest.raises(ValueError) as e:
        XrayConfig.from_dict({key: value})
    assert str(allowed) in str(e.value) and key in str(e.value)
    ok = allowed[:1] if isinstance(value, list) else allowed[0]
    extra = {"data_root": "/data"} if key == "source" else {}
    XrayConfig.from_dict({key: ok, **extra})  # and each allowed value is accepted


@pytest.mark.parametrize(("key", "value"), [
    ("epochs", "3"), ("epochs", 2.5), ("alpha", "0.01"), ("smoke", 1), ("lrs", 0.001),
    ("lrs", ["0.001"]), ("splits", {"train": "0.5"}), ("backbones", "resnet10t"),
    ("aging_cap_days", True), ("data_root", 3),
])
def test_wrong_value_types_fail_naming_the_field_and_type(key, value):
    with pytest.raises(TypeError, match=f"XrayConfig.{key} must be"):
        XrayConfig.from_dict({key: value})


def test_ints_are_accepted_for_floats_and_none_for_optionals():
    cfg = XrayConfig.from_dict({"hours_per_day": 6, "aging_cap_days": None, "lrs": [1, 0.5]})
    assert cfg.hours_per_day == 6 and cfg.aging_cap_days is None


def test_the_generic_csv_source_is_selectable(tmp_path):
    from triage_ray.xray.sources import SOURCES

    assert "generic" in SOURCES and SOURCES["generic"].needs_data_root
    XrayConfig.from_dict({"source": "generic", "data_root": str(tmp_path)})


def test_resume_applies_no_silent_override(tmp_path):
    from triage_ray.xray.config import resumed_config

    saved = tmp_path / "config.json"
    cfg = XrayConfig.smoke_config(epochs=2)
    cfg.save(saved)
    assert resumed_config(saved, {}) == cfg
    assert resumed_config(saved, {"epochs": 2}) == cfg  # the same value is no change
    with pytest.raises(ValueError, match="epochs: saved 2, asked 3"):
        resumed_config(saved, {"epochs": 3})
    with pytest.raises(ValueError, match="unknown XrayConfig keys"):
        resumed_config(saved, {"epoch": 3})
    with pytest.raises(FileNotFoundError, match="run directory"):
        resumed_config(tmp_path / "nope" / "config.json", {})


def test_sweep_script_refuses_resume_with_a_changing_set(tmp_path):
    """The way a user calls it: `sweeps/xray.py --resume RUN --set epochs=5`."""
    import subprocess
    import sys
    from pathlib import Path

    XrayConfig.smoke_config().save(tmp_path / "config.json")
    root = Path(__file__).parents[2]
    out = subprocess.run([sys.executable, "sweeps/xray.py", "--resume", str(tmp_path), "--set",
                          "epochs=5"], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "epochs: saved 1, asked 5" in out.stderr


def test_reference_choices_are_checked_at_start_up():
    from triage_ray.xray.reference import REFERENCES

    with pytest.raises(ValueError) as e:
        XrayConfig.from_dict({"reference": "panal"})
    assert str(sorted([*REFERENCES, "auto"])) in str(e.value)
    assert XrayConfig().reference_source == "panel"
    assert XrayConfig.from_dict({"source": "nih", "data_root": "/d"}).reference_source == "written"
    with pytest.raises(ValueError, match="generated data's simulated panel"):
        XrayConfig.from_dict({"source": "nih", "data_root": "/d", "reference": "panel"})
    with pytest.raises(ValueError, match="needs reference_labels"):
        XrayConfig.from_dict({"reference": "csv"})


def test_default_init_is_pretrain_on_generated_data_only():
    assert XrayConfig().init_choices() == ["pretrain"]
    assert XrayConfig(source="nih", data_root="x").init_choices() == ["scratch"]
    assert XrayConfig(inits=["scratch", "pretrain"]).init_choices() == ["scratch", "pretrain"]
    with pytest.raises(ValueError, match="probe_epochs"):
        XrayConfig.from_dict({"finetune": "probe_then_full", "epochs": 1})
    with pytest.raises(ValueError, match="num_workers=1"):
        XrayConfig.from_dict({"finetune": "probe_then_full", "num_workers": 2})


def test_resuming_a_config_saved_before_versioning_keeps_what_it_ran_under(tmp_path):
    """A run saved before per-finding supervision, search and pretraining existed must not be
    resumed under today's defaults: its checkpoints have one output and were grid-searched."""
    import json

    from triage_ray.xray.config import resumed_config

    old = {k: v for k, v in XrayConfig.smoke_config().to_dict().items()
           if k not in {"config_version", "supervision", "search", "augments", "augment",
                        "inits", "finetune", "learning_curve_sizes", "schedule"}}
    saved = tmp_path / "config.json"
    saved.write_text(json.dumps(old))
    cfg = resumed_config(saved, {}, smoke=True)
    assert (cfg.supervision, cfg.search, cfg.augments, cfg.init_choices()) == (
        "binary", "grid", [0.0], ["scratch"])
    assert cfg.learning_curve_sizes == [] and cfg.config_version == 1


def test_resuming_a_run_saved_before_the_time_budget_keeps_its_unbudgeted_plan(tmp_path):
    """A version-2 run trained as configured; today's default budget must not re-plan it."""
    import json

    from triage_ray.xray.config import resumed_config

    old = {k: v for k, v in XrayConfig().to_dict().items() if k != "time_budget_min"}
    saved = tmp_path / "config.json"
    saved.write_text(json.dumps({**old, "config_version": 2}))
    assert resumed_config(saved, {}).time_budget_min is None
    assert XrayConfig().time_budget_min is not None  # while a new run has one
    with pytest.raises(ValueError, match="time_budget_min"):
        XrayConfig.from_dict({"time_budget_min": 0})
