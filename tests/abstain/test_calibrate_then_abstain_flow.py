"""The stages fit together: logits -> split -> calibrate -> thresholds -> buckets -> worklist,
and a shifted pile -> prevalence estimate -> thresholds recomputed for the worst prior in its CI."""

from __future__ import annotations

import json

import numpy as np
from binormal_scores import draw
from scipy.special import logit

from triage_ray.abstain import AbstentionPolicy, prior_shift_report, worklist_order
from triage_ray.abstain.buckets import Bucket
from triage_ray.calibrate import TemperatureScaler, calibration_split


def test_flow_from_logits_to_worklist_and_shifted_pile() -> None:
    rng = np.random.default_rng(5)
    p_true, y = draw(rng, 12_000, 0.3)
    logits = 2.0 * logit(p_true)  # an over-confident network
    fit, sel = calibration_split(y.size, seed=0)
    ts = TemperatureScaler().fit(logits[fit], y[fit])
    assert abs(ts.temperature_ - 2.0) < 0.15
    p_sel = ts.predict_proba(logits[sel])
    policy = AbstentionPolicy(t_high_rule="capacity", capacity_fraction=0.15).fit(p_sel, y[sel])
    assert policy.feasible_ and policy.bound_ <= 0.01

    p_pile_true, _ = draw(rng, 30_000, 0.45, score_prior=0.3)
    p_pile = ts.predict_proba(2.0 * logit(p_pile_true))
    buckets = policy.assign(p_pile)
    order = worklist_order(p_pile, buckets)
    first = buckets[order]
    assert (np.diff(np.select([first == Bucket.PRIORITY, first == Bucket.UNCERTAIN], [0, 1], 2))
            >= 0).all()

    shift = prior_shift_report(p_pile, p_sel, y[sel], train_prior=0.3,
                               validated_range=(0.2, 0.4), n_boot=30)
    assert not shift["in_validated_range"]  # 45% is outside what the thresholds were fitted for
    lo, hi = shift["em"]["ci_low"], shift["em"]["ci_high"]
    shifted = AbstentionPolicy(t_high_rule="capacity", capacity_fraction=0.15,
                               deploy_prior=(lo, hi)).fit(p_sel, y[sel])
    assert shifted.t_low_ <= policy.t_low_  # a higher prevalence can only shrink auto-normal
    json.dumps({"policy": policy.to_dict(), "shifted": shifted.to_dict(), "shift": shift},
               allow_nan=False)
