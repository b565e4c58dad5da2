"""How the sweep chooses among trained configurations (`triage_ray.xray.select.rank_trials`)."""

from __future__ import annotations

import numpy as np

from triage_ray.train.heldout import HeldOutLogits
from triage_ray.xray.config import XrayConfig
from triage_ray.xray.score import score_heldout
from triage_ray.xray.select import rank_trials, select_best


def _row(tid: str, *, feasible: float = 0.0, tp: float = 1.0, ci: float = 0.001,
         ttr: float = 1.0, auroc: float = 0.7, status: str = "done") -> dict:
    return {"trial_id": tid, "status": status, "feasible": feasible,
            "select_throughput_multiplier": tp, "select_throughput_ci_low": tp - ci,
            "select_throughput_ci_high": tp + ci, "select_abnormal_ttr_median_ratio": ttr,
            "select_auroc": auroc}


def test_throughput_noise_is_a_tie_broken_by_what_happens_to_abnormal_studies() -> None:
    # the default run that found the bug: nothing may auto-clear, so both multipliers are 1.00
    # up to noise; the noisy "winner" had AUROC 0.57 and barely moved abnormal studies up
    weak = _row("weak", tp=1.0000118, ci=0.00002, ttr=0.91, auroc=0.57)
    good = _row("good", tp=0.9999952, ci=0.00002, ttr=0.53, auroc=0.79)
    assert select_best([weak, good])["trial_id"] == "good"


def test_a_real_throughput_gain_beats_a_faster_abnormal_read() -> None:
    fast = _row("fast", tp=1.40, ci=0.01, ttr=0.9)
    slow = _row("slow", tp=1.20, ci=0.01, ttr=0.5)
    assert [r["trial_id"] for r in rank_trials([slow, fast])] == ["fast", "slow"]


def test_a_configuration_whose_bound_holds_always_comes_first() -> None:
    infeasible = _row("x", feasible=0.0, tp=1.0, ttr=0.2, auroc=0.95)
    feasible = _row("ok", feasible=1.0, tp=1.05, ttr=0.9, auroc=0.6)
    errored = _row("err", feasible=1.0, tp=3.0, status="error")
    assert [r["trial_id"] for r in rank_trials([infeasible, errored, feasible])] == ["ok", "x"]


def test_equal_workflow_figures_fall_back_to_auroc() -> None:
    a, b = _row("a", auroc=0.70), _row("b", auroc=0.75)
    assert select_best([a, b])["trial_id"] == "b"


def test_selection_figures_come_from_the_select_split_not_test() -> None:
    rng = np.random.default_rng(0)
    sizes = {"calib": 300, "select": 600, "test": 300}
    y = {s: (rng.random(n) < 0.45).astype(np.int64) for s, n in sizes.items()}
    # informative on select, pure noise on test: a selection that read test would see AUROC ~0.5
    logit = {s: rng.normal((2.0 * y[s] - 1.0) * (s != "test"), 1.0) for s in sizes}
    held = HeldOutLogits({s: np.arange(n).astype(str) for s, n in sizes.items()}, y, logit)
    m = score_heldout(held, XrayConfig.smoke_config(pile_size=2000), n_boot=20).trial_metrics().to_dict()
    assert m["select_auroc"] > 0.8 and abs(m["test_auroc"] - 0.5) < 0.1
    assert m["select_abnormal_ttr_median_ratio"] < 1.0  # likely-abnormal studies read sooner
