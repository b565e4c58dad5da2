"""`simulate`'s contract: every policy, every metric, the baseline, feasibility, assumptions."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sim import METRICS, POLICIES, Bucket, Staffing, Worklist, simulate, synthetic_worklist

WL = synthetic_worklist(3000, prevalence=0.3, auc=0.95, auto_normal_fraction=0.4, seed=0)


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_every_policy_reports_every_metric_as_json(policy: str):
    r = simulate(WL, policy, n_reps=3, seed=1)
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["policy"] == policy and d["baseline_policy"] == "no_ai" and d["n_studies"] == 3000
    assert set(d["metrics"]) == set(METRICS)
    for name, m in d["metrics"].items():
        if m["mean"] is not None:
            assert m["ci_low"] <= m["mean"] <= m["ci_high"], name
    b = d["backlog"]
    assert len(b["day"]) == len(b["policy"]) == len(b["no_ai"]) and b["day"][0] == 0
    assert b["no_ai"][0] == 3000 and b["no_ai"][-1] == 0 and b["policy"][-1] == 0
    assert np.all(np.diff(b["no_ai"]) <= 0)  # a static pile only shrinks
    assert d["staffing"]["radiologists"] == 3 and d["assumptions"]["engine"] == "fast"


def test_no_ai_against_itself_is_exactly_one():
    r = simulate(WL, "no_ai", n_reps=2)
    for name in ("throughput_multiplier", "abnormal_ttr_median_ratio", "abnormal_ttr_p90_ratio"):
        assert r.mean(name) == 1.0
    assert r.mean("days_to_clear") == r.mean("days_to_clear_no_ai")
    assert r.mean("auto_cleared") == 0 and math.isnan(r.mean("missed_abnormal_rate"))


def test_auto_clear_multiplier_matches_the_share_left_unread():
    audit = 0.1
    r = simulate(WL, "auto_clear", n_reps=5, audit_fraction=audit)
    unread = (WL.bucket == Bucket.AUTO_NORMAL).mean() * (1 - audit)
    assert r.mean("auto_cleared") / len(WL) == pytest.approx(unread, rel=0.05)
    assert r.mean("throughput_multiplier") == pytest.approx(1 / (1 - unread), rel=0.02)
    assert r.mean("days_to_clear") < r.mean("days_to_clear_no_ai")
    # misses are counted against truth, per replication
    missed = r.per_rep["missed_abnormals"]
    assert np.all(missed > 0) and np.all(missed <= (WL.is_abnormal & (WL.bucket == 0)).sum())
    np.testing.assert_allclose(r.per_rep["missed_abnormal_rate"],
                               missed / r.per_rep["auto_cleared"])


def test_infeasible_auto_clear_gets_no_credit_for_unread_studies():
    ok = simulate(WL, "auto_clear", n_reps=3, miss_bound_ok=True)
    bad = simulate(WL, "auto_clear", n_reps=3, miss_bound_ok=False)
    assert ok.feasible and not bad.feasible
    assert ok.mean("throughput_multiplier") > 1.4
    assert bad.mean("throughput_multiplier") == pytest.approx(1.0, abs=0.01)
    assert bad.to_dict()["feasible"] is False
    assert bad.mean("days_to_clear") == ok.mean("days_to_clear")  # same reading, less credit
    assert simulate(WL, "prioritise", n_reps=1, miss_bound_ok=False).feasible  # reads all


def test_prioritise_reports_abnormals_sooner_and_defers_normals():
    r = simulate(WL, "prioritise", n_reps=3)
    assert r.metrics["abnormal_ttr_median_ratio"].ci_high < 0.8
    assert r.mean("throughput_multiplier") == pytest.approx(1.0, abs=0.01)


def test_aging_cap_bounds_how_long_normals_wait_under_arrivals():
    """A pile plus inflow near capacity: unbounded priority defers auto-normals to the end."""
    kw = dict(n_reps=3, seed=2, inflow_per_day=1050.0, inflow_days=8.0)
    wl = synthetic_worklist(3000, prevalence=0.3, seed=5)
    free = simulate(wl, "prioritise", **kw)
    capped = simulate(wl, "prioritise", aging_cap_days=4.0, **kw)
    assert capped.metrics["normal_wait_max_hours"].ci_high < (
        0.8 * free.metrics["normal_wait_max_hours"].ci_low)
    assert capped.mean("abnormal_ttr_median_ratio") < 0.5  # most of the benefit is kept
    assert capped.mean("abnormal_ttr_median_ratio") > free.mean("abnormal_ttr_median_ratio")


def test_unlabeled_worklist_leaves_truth_metrics_undefined():
    r = simulate(Worklist(bucket=WL.bucket, order_key=WL.order_key), "auto_clear", n_reps=2)
    d = r.to_dict()["metrics"]
    for name, spec in METRICS.items():
        assert (d[name]["mean"] is None) == spec.needs_truth, name
    with pytest.raises(ValueError, match="class read multipliers need"):
        simulate(Worklist(bucket=WL.bucket), staffing=Staffing(abnormal_read_multiplier=1.5))


def test_bucket_read_multiplier_is_off_for_no_ai_and_on_for_ai_policies():
    fast_normals = Staffing(bucket_read_multiplier=(0.5, 1.0, 1.0))
    r = simulate(WL, "prioritise", fast_normals, n_reps=2)
    plain = simulate(WL, "prioritise", n_reps=2)
    assert r.mean("days_to_clear_no_ai") == plain.mean("days_to_clear_no_ai")
    share = (WL.bucket == Bucket.AUTO_NORMAL).mean()
    assert r.mean("throughput_multiplier") == pytest.approx(1 / (1 - 0.5 * share), rel=0.02)


def test_class_read_multiplier_slows_everyone_alike():
    slow = simulate(WL, "no_ai", Staffing(abnormal_read_multiplier=2.0), n_reps=2)
    expected = len(WL) * (1 + WL.is_abnormal.mean()) / Staffing().reads_per_day
    assert slow.mean("days_to_clear") == pytest.approx(expected, rel=0.02)


@pytest.mark.parametrize(("kw", "match"), [
    (dict(policy="triage_everything"), "unknown policy 'triage_everything'; choose from"),
    (dict(engine="gpu"), "unknown engine"),
    (dict(n_reps=0), "n_reps"),
    (dict(audit_fraction=1.5), "audit_fraction"),
    (dict(pile_at_start=False), "pile_at_start=False needs inflow"),
])
def test_bad_arguments_fail_clearly(kw, match):
    with pytest.raises(ValueError, match=match):
        simulate(WL, **kw)
    with pytest.raises(ValueError, match="empty"):
        simulate(Worklist(bucket=np.zeros(0, np.int8)))
