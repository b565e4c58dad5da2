"""The operating-point stage: Tune trials over how the chosen model is used, each scored by SimPy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from triage_ray.xray.config import XrayConfig
from triage_ray.xray.operating import (
    POINT_METRICS,
    ScoredSet,
    check_on_test,
    pareto_front,
    recommend,
    run_operating_stage,
    score_point,
)


def _scored(n: int, auc_sep: float, prevalence: float, seed: int) -> ScoredSet:
    """Calibrated-looking binormal scores with reference labels drawn from the same model."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(np.int64)
    z = rng.normal(auc_sep * (y - 0.5), 1.0)
    return ScoredSet(p=expit(z + np.log(prevalence / (1 - prevalence))), y=y,
                     label_source="test panel")


CFG = XrayConfig.smoke_config(pile_size=3000, op_sim_reps=2)
POINT = {"alpha": 0.02, "audit_fraction": 0.05, "priority_rule": "ppv", "aging_cap_days": None,
         "uncertain_order": "expected_wait_harm"}


def test_a_strong_model_certifies_and_gains_a_weak_one_does_not():
    strong = score_point(POINT, _scored(4000, 4.5, 0.4, 1), CFG)
    weak = score_point(POINT, _scored(4000, 1.0, 0.4, 1), CFG)
    assert tuple(strong) == POINT_METRICS  # what the sweep's rows keep
    assert strong["feasible"] == 1.0 and strong["bound"] <= POINT["alpha"]
    assert strong["coverage_auto_normal"] > 0.1 and strong["throughput_multiplier"] > 1.05
    assert weak["feasible"] == 0.0 and weak["throughput_multiplier"] == pytest.approx(1.0, abs=0.01)


def test_each_points_bound_is_at_its_own_alpha():
    s = _scored(4000, 4.5, 0.4, 2)
    lo = score_point({**POINT, "alpha": 0.005}, s, CFG)
    hi = score_point({**POINT, "alpha": 0.05}, s, CFG)
    assert hi["coverage_auto_normal"] >= lo["coverage_auto_normal"]
    assert hi["bound"] <= 0.05 and (not lo["feasible"] or lo["bound"] <= 0.005)


def test_pareto_front_and_recommendation_rule():
    rows = [
        {"status": "done", "alpha": 0.01, "feasible": 1.0, "bound": 0.009, "throughput_multiplier": 1.3,
         "throughput_multiplier_ci_high": 1.31, "abnormal_ttr_median_ratio": 0.6,
         "normal_wait_max_hours": 100.0},
        {"status": "done", "alpha": 0.05, "feasible": 1.0, "bound": 0.04, "throughput_multiplier": 1.6,
         "throughput_multiplier_ci_high": 1.61, "abnormal_ttr_median_ratio": 0.6,
         "normal_wait_max_hours": 100.0},
        {"status": "done", "alpha": 0.01, "feasible": 1.0, "bound": 0.009, "throughput_multiplier": 1.2,
         "throughput_multiplier_ci_high": 1.21, "abnormal_ttr_median_ratio": 0.5,
         "normal_wait_max_hours": 100.0},
        {"status": "done", "alpha": 0.01, "feasible": 1.0, "bound": 0.008, "throughput_multiplier": 1.4,
         "throughput_multiplier_ci_high": 1.41, "abnormal_ttr_median_ratio": 0.5,
         "normal_wait_max_hours": 900.0},  # best certified, but normals wait too long
        {"status": "error", "alpha": 0.01},
    ]
    assert pareto_front(rows) == [1, 3]  # (1.6, 0.04) and (1.4, 0.008) are not dominated
    best = recommend(rows, XrayConfig(alpha=0.01), wait_cap_hours=200.0)
    assert best is rows[0]  # certified at 1%, within the wait cap, highest throughput
    nothing = [dict(r, feasible=0.0, bound=None, throughput_multiplier=1.0,
                    throughput_multiplier_ci_high=1.0) for r in rows[:3]]
    assert recommend(nothing, XrayConfig(alpha=0.01), 200.0) is nothing[2]  # order only: best TTR


def test_recommended_point_is_checked_out_of_sample():
    check = check_on_test(POINT, _scored(4000, 4.5, 0.4, 3), _scored(1500, 4.5, 0.4, 4), CFG)
    assert check["n_test"] == 1500 and check["n_auto_normal"] > 100
    assert check["upper_bound"] >= check["rate"] and check["holds"] in (True, False)


@pytest.mark.slow
@pytest.mark.ray
def test_the_stage_runs_as_tune_trials(ray_local, tmp_path):
    cfg = XrayConfig.smoke_config(pile_size=2000, op_sim_reps=2)
    result = run_operating_stage(cfg, _scored(3000, 4.5, 0.4, 5), _scored(1000, 4.5, 0.4, 6),
                                 tmp_path, log=lambda *_: None)
    n = np.prod([len(v) for v in result.space.values()])
    assert result.n_points == n == len(result.points) and (tmp_path / "tune_operating").is_dir()
    assert all(p["status"] == "done" for p in result.points)
    assert result.pareto and result.recommended is not None and result.test_check is not None
    assert result.recommended["bound"] <= cfg.alpha
