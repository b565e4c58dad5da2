"""The tuning design: the same points in every run, spread over the whole range, the urgency
weight searched only where the weighting has one."""

import numpy as np

from triage_ray.intake.config import IntakeConfig
from triage_ray.intake.setups import Setup
from triage_ray.intake.tuning import design


def test_design_is_fixed_spread_and_shared_by_setups():
    cfg = IntakeConfig()
    single = design(Setup.from_key("tf_urgency"), cfg)
    fixed = design(Setup.from_key("mtl_fixed"), cfg)
    assert design(Setup.from_key("tf_urgency"), cfg) == single  # no draw depends on a run
    assert len(single) == len(fixed) == cfg.tune_trials
    assert [p["lr"] for p in single] == [p["lr"] for p in fixed]  # one budget, one set of rates
    assert "urgency_weight" not in single[0] and "urgency_weight" not in design(
        Setup.from_key("mtl_pcgrad"), cfg)[0]
    lo, hi = np.log(cfg.lr_range)
    u = (np.log([p["lr"] for p in single]) - lo) / (hi - lo)
    assert (u >= 0).all() and (u < 1).all()
    # low discrepancy: every third of the log range holds at least one of the 6 rates
    assert set(np.floor(u * 3).astype(int)) == {0, 1, 2}
    w = np.array([p["urgency_weight"] for p in fixed])
    assert (w >= cfg.urgency_weight_range[0]).all() and (w <= cfg.urgency_weight_range[1]).all()
    assert w.max() - w.min() > 0.4  # spread over the range, not clustered
    other = design(Setup.from_key("tf_urgency"), IntakeConfig(data_seed=1))
    assert [p["lr"] for p in other] != [p["lr"] for p in single]  # seeded, not constant
