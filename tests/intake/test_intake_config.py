import json

import pytest

from triage_ray.intake.config import IntakeConfig
from triage_ray.intake.prepare import plan_settings
from triage_ray.intake.setups import Setup, headline_setups, map_setups, tuned_setups


def test_defaults_respect_the_issue():
    cfg = IntakeConfig()
    assert cfg.n_records == 40_000 and cfg.pool_size == 28_000 and cfg.full_size
    assert cfg.seeds >= 3 and len(cfg.relatedness) >= 4 and len(cfg.train_sizes) >= 3
    assert min(cfg.relatedness) == 0.0 and max(cfg.relatedness) == 1.0
    roles = [role for _, _, role in plan_settings(cfg)]
    assert roles.count("headline") == 1 and roles.count("control") == 2
    keys = [s.key for s in headline_setups(cfg.weightings, "pcgrad", cfg.matched_params)]
    assert keys == ["mtl_pcgrad_matched", "mtl_fixed", "mtl_uncertainty", "mtl_pcgrad",
                    "tf_urgency", "tf_specialty", "xgb"]
    assert [s.key for s in map_setups("fixed")] == ["mtl_fixed", "tf_urgency", "tf_specialty"]
    assert {s.key for s in tuned_setups(cfg.weightings)} == set(keys) - {"xgb",
                                                                      "mtl_pcgrad_matched"}
    assert all(Setup.from_key(k).key == k for k in keys)
    assert Setup.from_key("mtl_pcgrad_matched").tuned_as == "mtl_pcgrad"


def test_unknown_keys_and_bad_values_raise(tmp_path):
    with pytest.raises(ValueError, match="unknown IntakeConfig key.*'epoch'"):
        IntakeConfig.from_dict({"epoch": 3})
    with pytest.raises(ValueError, match="relatedness"):
        IntakeConfig.from_dict({"relatedness": [1.2]})
    with pytest.raises(ValueError, match="train_sizes"):
        IntakeConfig.from_dict({"train_sizes": [500, 100]})
    with pytest.raises(ValueError, match="unknown setup key"):
        Setup.from_key("mlp")
    with pytest.raises(ValueError, match="weightings must be one of"):
        IntakeConfig.from_dict({"weightings": ["gradnorm"]})
    with pytest.raises(ValueError, match="controls must be one of"):
        IntakeConfig.from_dict({"controls": ["sideways"]})
    with pytest.raises(ValueError, match="headline_relatedness"):
        IntakeConfig.from_dict({"headline_relatedness": 0.3})
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


def default_plan() -> tuple[IntakeConfig, dict, dict]:
    """The default study's data index (sizes per setting) and one learning rate per tuned setup."""
    from triage_ray.intake.fitting import Hyper

    cfg = IntakeConfig()
    index = {key: {"role": role, "relatedness": rel,
                   "sizes": [cfg.control_size] if role == "control" else
                   cfg.train_sizes + ([cfg.pool_size] if role == "headline" else [])}
             for key, rel, role in plan_settings(cfg)}
    return cfg, index, {s.key: Hyper(1e-3) for s in tuned_setups(cfg.weightings)}


def test_trial_plan_covers_the_map_with_the_chosen_setup_only():
    from triage_ray.intake.study import plan_trials

    cfg, index, hypers = default_plan()
    specs = {s.setup: s for s in plan_trials(cfg, index, hypers, "pcgrad")}
    assert set(specs) == {"mtl_pcgrad_matched", "mtl_fixed", "mtl_uncertainty", "mtl_pcgrad",
                          "tf_urgency", "tf_specialty", "xgb"}
    for key in ("mtl_pcgrad", "tf_urgency", "tf_specialty"):
        assert set(specs[key].settings) == set(index)  # headline, map and controls
    for key in ("mtl_fixed", "mtl_uncertainty", "mtl_pcgrad_matched", "xgb"):
        assert specs[key].settings == ("rel0.5",)
    assert specs["xgb"].hyper is None and specs["mtl_pcgrad_matched"].hyper["lr"] == 1e-3
    assert specs["mtl_pcgrad_matched"].sizes(index, "rel0.5") == [cfg.pool_size]  # full size only
    assert specs["mtl_fixed"].sizes(index, "rel0.5") == index["rel0.5"]["sizes"]
    order = [s.setup for s in plan_trials(cfg, index, hypers, "pcgrad")]
    assert order[0] == "mtl_pcgrad" and order[-1] == "xgb"  # longest first


def test_lanes_hold_every_setup_once_xgboost_alone_and_end_close_together():
    from triage_ray.intake.study import _work, plan_trials
    from triage_ray.intake.trials import lane_settings, pack_lanes

    cfg, index, hypers = default_plan()
    specs = plan_trials(cfg, index, hypers, "pcgrad")
    work = {s.setup: _work(cfg, s, index) for s in specs}
    lanes = pack_lanes(specs, 2, lambda s: work[s.setup])
    assert len(lanes) == 3 and [s.setup for s in lanes[-1]] == ["xgb"]  # 2 Train runs + XGBoost
    assert sorted(s.setup for lane in lanes for s in lane) == sorted(work)  # each setup once
    loads = [sum(work[s.setup] for s in lane) for lane in lanes[:2]]
    assert loads[0] >= loads[1] and loads[0] - loads[1] <= max(work.values())  # greedy balance
    assert set(lane_settings(lanes[0]) + lane_settings(lanes[1])) == set(index)
    assert len(pack_lanes(specs, 8, lambda s: work[s.setup])) == len(specs)  # one setup a lane
    assert len(pack_lanes(specs, 1, lambda s: work[s.setup])) == 2
