"""sensitivity_table: one row per grid point, moving the way the assumptions say it should."""

from __future__ import annotations

import pytest

from sim import Staffing, sensitivity_table, synthetic_worklist


def test_staffing_and_policy_axes():
    wl = synthetic_worklist(1500, seed=1)
    rows = sensitivity_table(wl, grid={"radiologists": [2, 4], "audit_fraction": [0.0, 0.5]},
                             n_reps=2, metrics=["days_to_clear", "throughput_multiplier"])
    assert [(r["radiologists"], r["audit_fraction"]) for r in rows] == [
        (2, 0.0), (2, 0.5), (4, 0.0), (4, 0.5)]
    assert set(rows[0]) == {"radiologists", "audit_fraction", "feasible", "days_to_clear",
                            "days_to_clear_ci_low", "days_to_clear_ci_high",
                            "throughput_multiplier", "throughput_multiplier_ci_low",
                            "throughput_multiplier_ci_high"}
    assert rows[0]["days_to_clear"] == pytest.approx(2 * rows[2]["days_to_clear"], rel=0.02)
    assert rows[0]["throughput_multiplier"] > rows[1]["throughput_multiplier"]  # audits cost


def test_prevalence_axis_resamples_the_worklist():
    wl = synthetic_worklist(2000, prevalence=0.5, seed=2)
    rows = sensitivity_table(wl, grid={"prevalence": [0.1, 0.6]}, n_reps=2,
                             metrics=["auto_cleared", "missed_abnormals"])
    assert rows[0]["auto_cleared"] > rows[1]["auto_cleared"]  # more normals -> more cleared
    assert rows[0]["missed_abnormals"] < rows[1]["missed_abnormals"]


def test_model_quality_axis_on_synthetic_piles():
    rows = sensitivity_table(synthetic_n=3000, grid={"auc": [0.8, 0.9, 0.98],
                                                     "auto_normal_fraction": [0.5]},
                             n_reps=2, prevalence=0.3, audit_fraction=0.0,
                             metrics=["missed_per_1000_auto_cleared", "throughput_multiplier"])
    missed = [r["missed_per_1000_auto_cleared"] for r in rows]
    assert missed[0] > missed[1] > missed[2]
    for r in rows:  # half the pile cleared unread -> about 2x, whatever the model quality
        assert r["throughput_multiplier"] == pytest.approx(2.0, rel=0.03)


def test_unknown_keys_and_ambiguous_sources_fail():
    wl = synthetic_worklist(100, seed=3)
    with pytest.raises(ValueError, match=r"unknown sensitivity keys \['radiologist'\]"):
        sensitivity_table(wl, grid={"radiologist": [2]})
    with pytest.raises(ValueError, match="exactly one of"):
        sensitivity_table(wl, grid={}, synthetic_n=10)
    rows = sensitivity_table(wl, grid={"read_time_cv": [0.3]}, staffing=Staffing(radiologists=1),
                             n_reps=1)
    assert len(rows) == 1 and rows[0]["feasible"]
