"""The memo's intervals: they must cover what they claim to, and cover more than replications do."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from triage_ray.xray.config import XrayConfig
from triage_ray.xray.operating import ScoredSet
from triage_ray.xray.score import simulate_scores
from triage_ray.xray.uncertainty import (
    PileSample,
    interval,
    paired_auroc,
    resample,
    study_bootstrap,
)

REPEATS, N, N_BOOT = 400, 300, 300


def _coverage(draw, statistic, truth: float, seed: int = 0) -> float:
    """Share of REPEATS samples whose bootstrap interval (the module's own resample + interval)
    contains `truth`."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(REPEATS):
        x = draw(rng)
        reps = [statistic(x[resample(rng, x.size)]) for _ in range(N_BOOT)]
        ci = interval(statistic(x), reps)
        hits += ci["ci_low"] <= truth <= ci["ci_high"]
    return hits / REPEATS


@pytest.mark.slow
@pytest.mark.parametrize(("name", "draw", "statistic", "truth"), [
    # a queue share: scores below a fixed threshold (known share = the Beta CDF there)
    ("queue share", lambda r: r.beta(2.0, 5.0, N), lambda x: float(np.mean(x < 0.15)),
     float(stats.beta.cdf(0.15, 2.0, 5.0))),
    # a mean with known variance (normal, sd 3)
    ("mean, known variance", lambda r: r.normal(10.0, 3.0, N), lambda x: float(x.mean()), 10.0),
    # a median of a skewed quantity, like a time-to-read (lognormal: median exp(mu))
    ("median of a skewed wait", lambda r: r.lognormal(5.0, 0.8, N),
     lambda x: float(np.median(x)), float(np.exp(5.0))),
])
def test_reported_95_interval_covers_the_truth_about_95_percent(name, draw, statistic, truth):
    cov = _coverage(draw, statistic, truth)
    # 400 repeats: binomial sd of a 95% coverage is 1.1 points; +-3 sd
    assert 0.917 <= cov <= 0.983, f"{name}: coverage {cov:.3f}"


def test_interval_needs_ten_finite_replicates():
    assert interval(1.0, [1.0] * 9 + [float("nan")] * 5)["ci_low"] is None
    out = interval(2.0, np.arange(100.0))
    assert out["value"] == 2.0 and out["n"] == 100 and out["ci_low"] < out["ci_high"]


def test_resample_keeps_arrival_order():
    idx = resample(np.random.default_rng(0), 50)
    assert idx.size == 50 and (np.diff(idx) >= 0).all()


def _scored(rng: np.random.Generator, n: int) -> ScoredSet:
    p = rng.beta(1.2, 2.0, n)
    return ScoredSet(p, (rng.random(n) < p).astype(np.int64), "synthetic")


def test_study_bootstrap_is_wider_than_replications_alone():
    cfg = XrayConfig.smoke_config(pile_size=3000, sim_reps=5, alpha=0.05)
    rng = np.random.default_rng(3)
    select, test = _scored(rng, 1500), _scored(rng, 800)
    p = rng.beta(1.2, 2.0, 3000)
    pile = PileSample(p, p, rng.random(3000) < p)
    from triage_ray.xray.score import abstention_policy

    policy = abstention_policy(cfg, deploy_prior=(0.35, 0.45)).fit(select.p, select.y)
    sim = simulate_scores(p, policy.assign(p), pile.truth, cfg,
                          feasible=bool(policy.feasible_), seed=1).to_dict()["metrics"]
    points = {"pile": {k: v["mean"] for k, v in sim.items()}, "test": {},
              "thresholds": {"t_low": policy.t_low_}, "shares": {}}
    out = study_bootstrap(cfg, select, test, pile, (0.35, 0.45), points=points, n_boot=60,
                          seed=0, log=lambda m: None)
    assert 0.0 <= out["feasible_share"] <= 1.0 and out["n_boot"] == 60
    tm, rep = out["pile"]["throughput_multiplier"], sim["throughput_multiplier"]
    assert tm["value"] == rep["mean"]
    assert tm["ci_low"] <= tm["value"] <= tm["ci_high"]
    # resampling the studies and re-fitting the thresholds varies more than reading times do
    assert tm["ci_high"] - tm["ci_low"] > rep["ci_high"] - rep["ci_low"]
    for k in ("auto_normal", "uncertain", "priority"):
        s = out["shares"][k]
        assert s["ci_low"] is not None and 0.0 <= s["ci_low"] <= s["ci_high"] <= 1.0
    assert out["thresholds"]["t_low"]["n"] > 0
    later = out["pile"]["abnormal_read_later_share"]
    assert 0.0 <= later["ci_low"] <= later["ci_high"] <= 1.0


def test_paired_auroc_calls_a_tie_only_when_the_difference_is_within_noise():
    rng = np.random.default_rng(1)
    y = (rng.random(600) < 0.4).astype(int)
    strong = y * 1.5 + rng.normal(0, 1, 600)
    twin = strong + rng.normal(0, 0.05, 600)  # the same model, a hair of noise
    weak = y * 0.3 + rng.normal(0, 1, 600)
    out = paired_auroc(y, {"a": strong, "b": twin, "c": weak}, "a", n_boot=200, seed=0)
    assert out["b"]["tied_with_chosen"] and not out["c"]["tied_with_chosen"]
    assert not out["a"]["tied_with_chosen"]  # the chosen one is not its own tie
    assert out["c"]["diff_vs_chosen"]["ci_high"] < 0
    a = out["a"]["auroc"]
    assert a["ci_low"] < a["value"] < a["ci_high"]


def test_study_bootstrap_never_triages_a_study_the_gate_refused():
    """A replicate re-buckets the resampled pile by score; a study outside the intended use must
    stay NOT_TRIAGED there too (it did not: a pile refused entirely got a gain interval up to
    2.4 with nothing cleared in the run itself)."""
    cfg = XrayConfig.smoke_config(pile_size=600, sim_reps=2, alpha=0.05)
    rng = np.random.default_rng(4)
    select, test = _scored(rng, 1500), _scored(rng, 400)
    p = rng.beta(1.2, 2.0, 600)
    in_scope = rng.random(600) < 0.5
    points = {"pile": {}, "test": {}, "thresholds": {}, "shares": {}}
    half = study_bootstrap(cfg, select, test, PileSample(p, p, None, in_scope), (0.3, 0.5),
                           points=points, n_boot=20, seed=0, log=lambda m: None)
    assert half["shares"]["not_triaged"]["ci_low"] > 0.4
    none = study_bootstrap(cfg, select, test, PileSample(p, p, None, np.zeros(600, bool)),
                           (0.3, 0.5), points=points, n_boot=20, seed=0, log=lambda m: None)
    assert none["shares"]["not_triaged"]["ci_low"] == none["shares"]["not_triaged"]["ci_high"] == 1
    cleared = none["pile"]["auto_cleared"]
    assert cleared["ci_high"] == 0 and none["pile"]["throughput_multiplier"]["ci_high"] == 1.0
