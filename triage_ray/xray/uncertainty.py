"""Intervals that cover what varies: the studies, the thresholds fitted on them, and the reading.

`simulate`'s own intervals cover only replications of reading time on one fixed worklist, so a
30,000-study pile drawn from 1,600 test studies reports "0.54 (0.54-0.54)". Here every replicate
redoes what the procedure would do on another sample of studies:

1. resample the certifying (`select`) studies and re-fit the thresholds on them, as the pile step
   does (same deployment prior interval);
2. resample the pile (studies keep their arrival order) and the test split, bucket them with the
   re-fitted thresholds;
3. simulate ONE replication of reading on each, on its own seed, so reading-time noise sits inside
   the same interval.

The 2.5th and 97.5th percentiles of the replicates are the 95% interval (percentile bootstrap;
docs/uncertainty.md). Studies are resampled one by one: the certifying split keeps no patient ids.
`trial_intervals` adds intervals to each swept configuration's AUROC and a paired comparison with
the chosen one, so a choice that rests on a difference within noise is reported as a tie.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from triage_ray.abstain.buckets import BUCKET_NAMES, Bucket
from triage_ray.common.stats import percentile_interval
from triage_ray.xray.config import XrayConfig
from triage_ray.xray.operating import ScoredSet
from triage_ray.xray.score import abstention_policy, simulate_scores

LEVEL = 0.95
N_BOOT = 500  # replicates; each costs one threshold fit and two one-replication simulations
SIM_METRICS = (
    "throughput_multiplier", "days_to_clear", "days_to_clear_no_ai", "auto_cleared",
    "missed_per_1000_auto_cleared",
    "abnormal_ttr_median_hours", "abnormal_ttr_median_hours_no_ai", "abnormal_ttr_median_ratio",
    "abnormal_ttr_p90_hours", "abnormal_ttr_p90_hours_no_ai", "abnormal_ttr_p90_ratio",
    "abnormal_read_later_share",
    "normal_wait_median_hours", "normal_wait_median_hours_no_ai",
    "normal_wait_max_hours", "normal_wait_max_hours_no_ai",
)


@dataclass(frozen=True)
class PileSample:
    """The scored pile in arrival order: calibrated p, prior-adjusted p (the read order's key)
    and the truth where it is known (generated piles only)."""

    p: np.ndarray
    p_adjusted: np.ndarray
    truth: np.ndarray | None = None
    # False for a study the intended-use gate refused: NOT_TRIAGED in every replicate, as in the
    # run (re-bucketing it by score let a replicate clear studies the gate never lets through)
    in_scope: np.ndarray | None = None


def resample(rng: np.random.Generator, n: int) -> np.ndarray:
    """Indices of a with-replacement resample of n items, sorted: a resampled pile keeps the order
    its studies arrived in."""
    return np.sort(rng.integers(0, n, n))


def interval(point: float | None, reps: Iterable[float], level: float = LEVEL) -> dict[str, Any]:
    """{"value", "ci_low", "ci_high", "n"}: the full-data figure and the percentile interval of
    its finite replicates (None where fewer than 10 are finite, e.g. a miss rate with nothing
    cleared)."""
    x = np.asarray([r for r in reps if r is not None], dtype=float)
    x = x[np.isfinite(x)]
    lo, hi = percentile_interval(x, level) if x.size >= 10 else (None, None)
    value = None if point is None or not np.isfinite(point) else float(point)
    return {"value": value, "ci_low": lo, "ci_high": hi, "n": int(x.size)}


def _one_replicate(cfg: XrayConfig, select: ScoredSet, test: ScoredSet, pile: PileSample,
                   deploy_prior: tuple[float, float], rng: np.random.Generator,
                   seed: int) -> dict[str, Any]:
    s = resample(rng, select.n)
    policy = abstention_policy(cfg, deploy_prior=deploy_prior).fit(select.p[s], select.y[s])
    feasible = bool(policy.feasible_)
    i = resample(rng, pile.p.size)
    bucket = policy.assign(pile.p[i])
    if pile.in_scope is not None:
        bucket[~pile.in_scope[i]] = Bucket.NOT_TRIAGED
    truth = None if pile.truth is None else pile.truth[i]
    sim_pile = simulate_scores(pile.p_adjusted[i], bucket, truth, cfg, feasible=feasible,
                               seed=seed, n_reps=1).to_dict()["metrics"]
    # the test-split pile as score_heldout draws it: pile_size draws from a resampled test split
    t = resample(rng, test.n)
    j = t[rng.integers(0, test.n, cfg.pile_size)]
    sim_test = simulate_scores(test.p[j], policy.assign(test.p[j]), test.y[j].astype(bool), cfg,
                               feasible=feasible, seed=seed + 1, n_reps=1).to_dict()["metrics"]
    shares = {BUCKET_NAMES[k]: float(np.mean(bucket == k)) for k in BUCKET_NAMES}
    return {
        "feasible": feasible, "t_low": float(policy.t_low_) if feasible else None,
        "t_high": float(policy.t_high_) if np.isfinite(policy.t_high_) else None,
        "shares": shares,
        "pile": {k: sim_pile[k]["mean"] for k in SIM_METRICS},
        "test": {k: sim_test[k]["mean"] for k in SIM_METRICS},
    }


def study_bootstrap(cfg: XrayConfig, select: ScoredSet, test: ScoredSet, pile: PileSample,
                    deploy_prior: tuple[float, float], *, points: dict[str, dict[str, float]],
                    n_boot: int = N_BOOT, seed: int = 0,
                    log: Callable[[str], None] = print) -> dict[str, Any]:
    """Percentile intervals of the pile's and test split's worklist figures, thresholds and queue
    shares over `n_boot` study resamples (see the module docstring).

    `points`: the run's own figures to report as values: {"pile": {metric: x}, "test": {...},
    "thresholds": {"t_low": x, "t_high": x}, "shares": {bucket: x}}.
    """
    rng = np.random.default_rng(seed)
    t0 = time.time()
    reps = []
    for b in range(n_boot):
        reps.append(_one_replicate(cfg, select, test, pile, deploy_prior, rng, seed + 2 * b))
        if (b + 1) % max(1, n_boot // 5) == 0:
            log(f"uncertainty: {b + 1}/{n_boot} study resamples ({time.time() - t0:.0f} s)")
    out: dict[str, Any] = {
        "method": "percentile bootstrap over studies: select split resampled and thresholds "
                  "re-fitted, pile and test split resampled, one simulated replication each",
        "level": LEVEL, "n_boot": n_boot, "seed": seed,
        "resampled_by": "study",
        "feasible_share": float(np.mean([r["feasible"] for r in reps])),
        "seconds": time.time() - t0,
    }
    for where in ("pile", "test"):
        out[where] = {k: interval(points[where].get(k), (r[where][k] for r in reps))
                      for k in SIM_METRICS}
    out["thresholds"] = {k: interval(points["thresholds"].get(k), (r[k] for r in reps))
                         for k in ("t_low", "t_high")}
    out["shares"] = {k: interval(points["shares"].get(k), (r["shares"][k] for r in reps))
                     for k in BUCKET_NAMES.values()}
    return out


def paired_auroc(y: np.ndarray, scores: dict[str, np.ndarray], chosen: str, *,
                 n_boot: int = N_BOOT, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Per configuration: AUROC with its interval, and its difference from `chosen` on the same
    resamples (paired: the same studies score both), with that interval and whether it is a tie
    (the difference's interval contains 0)."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    idx = [rng.integers(0, y.size, y.size) for _ in range(n_boot)]
    idx = [i for i in idx if 0 < y[i].sum() < i.size]  # both classes present
    auc = {k: np.array([roc_auc_score(y[i], s[i]) for i in idx]) for k, s in scores.items()}
    points = {k: float(roc_auc_score(y, s)) for k, s in scores.items()}
    out = {}
    for k in scores:
        point = points[k]
        d = interval(point - points[chosen], auc[k] - auc[chosen])
        out[k] = {"auroc": interval(point, auc[k]), "diff_vs_chosen": d,
                  "tied_with_chosen": k != chosen and d["ci_low"] is not None
                  and d["ci_low"] <= 0.0 <= d["ci_high"]}
    return out


def trial_intervals(trials: list[dict[str, Any]], chosen_id: str, *, n_boot: int = N_BOOT,
                    seed: int = 0) -> dict[str, Any]:
    """`paired_auroc` on the test split (the figure the reports show) and on the select split
    (where configurations are chosen), for every trial whose held-out logits were saved."""
    from triage_ray.train.heldout import HeldOutLogits

    held = {}
    for t in trials:
        path = t.get("checkpoint_path")
        if path and t.get("trial_id"):
            try:
                held[t["trial_id"]] = HeldOutLogits.load(path)
            except (FileNotFoundError, OSError, KeyError, ValueError):
                continue  # a stopped trial without saved logits: reported as missing
    if chosen_id not in held:
        return {"trials": {}, "missing": sorted(t.get("trial_id") for t in trials)}
    out: dict[str, dict[str, Any]] = {k: {} for k in held}
    for split in ("test", "select"):
        ids = held[chosen_id].study_id[split]
        same = {k: h for k, h in held.items()
                if np.array_equal(h.study_id[split], ids)}  # the same studies, so pairable
        res = paired_auroc(held[chosen_id].label[split].astype(int),
                           {k: h.logit[split] for k, h in same.items()}, chosen_id,
                           n_boot=n_boot, seed=seed)
        for k, r in res.items():
            out[k][split] = r
    tied = sorted(k for k, r in out.items() if r.get("select", {}).get("tied_with_chosen"))
    return {"trials": out, "chosen": chosen_id, "tied_on_select_auroc": tied,
            "missing": sorted({t.get("trial_id") for t in trials} - set(held))}
