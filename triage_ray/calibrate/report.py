"""Metrics with bootstrap confidence intervals, paired before/after tables, reliability curves.

CIs are bootstrap intervals (`triage_ray.common.stats`): percentile intervals around plug-in
values, except for the binned ECEs, which are bias-corrected with a basic interval (`_summary`).
Replicates reweight the rows (multinomial counts) instead of gathering them, so each replicate
is O(n). Pass `groups` (e.g. patient ids) to resample whole patients: studies of one patient are
correlated and a row bootstrap would understate the width.
In `calibration_table` every method is scored on the *same* replicates, so the CI of a difference
("after minus before") is paired and much narrower than comparing two separate CIs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from triage_ray.calibrate.metrics import (
    BINARY_METRICS,
    BINNED_GAP_METRICS,
    MULTICLASS_METRICS,
    N_BINS,
    PreparedMulticlass,
    SortedBinary,
    equal_width_bins,
)
from triage_ray.calibrate.validation import as_labels, as_scores, n_classes_of
from triage_ray.common.stats import bootstrap_weights, percentile_interval

CI_LEVEL = 0.95


def _prepare(y: object, p: object, n_bins: int) -> tuple[Any, dict[str, Callable], np.ndarray]:
    """Validated, prepared scores, the metric set for their shape, and the permutation applied."""
    s = as_scores(p)
    lab = as_labels(y, s.shape[0], n_classes_of(s))
    if s.ndim == 1:
        order = np.argsort(s, kind="stable")
        return SortedBinary.build(lab, s, n_bins), BINARY_METRICS, order
    return PreparedMulticlass.build(lab, s, n_bins), MULTICLASS_METRICS, np.arange(s.shape[0])


PLUG_IN = "plug-in value, percentile bootstrap interval"
BIAS_CORRECTED = ("bias-corrected value (plug-in minus the bootstrap bias), basic bootstrap "
                  "interval")


def _summary(value: float, reps: np.ndarray, level: float, *, corrected: bool = False,
             bounds: tuple[float, float] | None = None) -> dict[str, Any]:
    """The value, its interval and the bootstrap bias estimate mean(replicates) - value.

    Plug-in metrics get the percentile interval. Binned ECEs (`corrected`) are biased upward on
    finite samples (empty-ish bins add |noise|) and resampling adds that bias again, so their
    percentile interval can sit wholly above the plug-in value ("0.126 (95% CI 0.137-0.267)").
    For them the value is the plug-in minus the bias, with the basic bootstrap interval
    [2 x plug-in - upper, 2 x plug-in - lower] around it (Davison & Hinkley 1997, ch. 5): one
    computation, the value inside its interval. The plug-in stays in `plug_in`. `bounds` clip
    the value and interval to the metric's range.
    """
    ok = reps[np.isfinite(reps)]  # AUROC is undefined on a replicate with one class only
    if not ok.size:
        return {"value": float(value), "ci_low": float("nan"), "ci_high": float("nan"),
                "bias": float("nan"), "estimator": PLUG_IN}
    lo, hi = percentile_interval(ok, level)
    bias = float(ok.mean() - value)
    out = {"value": float(value), "ci_low": lo, "ci_high": hi, "bias": bias, "estimator": PLUG_IN}
    if corrected:
        out |= {"value": value - bias, "ci_low": 2 * value - hi, "ci_high": 2 * value - lo,
                "plug_in": float(value), "estimator": BIAS_CORRECTED}
    if bounds is not None:
        for k in ("value", "ci_low", "ci_high"):
            out[k] = float(np.clip(out[k], *bounds))
    return out


def _replicates(y: object, scores: Mapping[str, object], n_boot: int, seed: int, n_bins: int,
                groups: object) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, np.ndarray]]]:
    """Point values and (n_boot,) replicate arrays per method and metric, on shared replicates."""
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    prepared = {name: _prepare(y, p, n_bins) for name, p in scores.items()}
    n = next(iter(prepared.values()))[0].y.shape[0]
    point = {name: {m: f(d, np.ones(n)) for m, f in fns.items()}
             for name, (d, fns, _) in prepared.items()}
    reps = {name: {m: np.empty(n_boot) for m in fns} for name, (_, fns, _) in prepared.items()}
    g = None if groups is None else np.asarray(groups)
    for b, w in enumerate(bootstrap_weights(n, n_boot, seed, g)):
        for name, (d, fns, order) in prepared.items():
            wb = w[order]  # weights follow each method's own sort order
            for m, f in fns.items():
                reps[name][m][b] = f(d, wb)
    return point, reps


def calibration_report(y: object, p: object, *, n_boot: int = 1000, seed: int = 0,
                       n_bins: int = N_BINS, groups: object = None,
                       level: float = CI_LEVEL) -> dict[str, dict[str, Any]]:
    """{metric: {"value", "ci_low", "ci_high", "bias", "estimator"[, "plug_in"]}}: binary p (n,)
    -> auroc, ece, adaptive_ece, brier, nll; multiclass P (n, K) -> top_label_ece, classwise_ece,
    brier, nll."""
    point, reps = _replicates(y, {"p": p}, n_boot, seed, n_bins, groups)
    return {m: _summary(v, reps["p"][m], level, **_estimator(m)) for m, v in point["p"].items()}


def _estimator(metric: str) -> dict[str, Any]:
    """How a metric's summary is made (`_summary`): binned ECEs bias-corrected, within [0, 1]."""
    return {"corrected": True, "bounds": (0.0, 1.0)} if metric in BINNED_GAP_METRICS else {}


def calibration_table(y: object, scores: Mapping[str, object], *, reference: str | None = None,
                      n_boot: int = 1000, seed: int = 0, n_bins: int = N_BINS,
                      groups: object = None, level: float = CI_LEVEL) -> dict[str, Any]:
    """Score several calibrations of the same rows (e.g. "uncalibrated", "temperature", ...).

    Returns {"metrics": {method: report}, "difference": {method: {metric: summary of method minus
    reference}}, "reference", "n", "n_boot", "ci"}; `reference` defaults to the first method.
    """
    if not scores:
        raise ValueError("scores: pass at least one method")
    ref = reference or next(iter(scores))
    if ref not in scores:
        raise ValueError(f"reference {ref!r} is not one of {list(scores)}")
    point, reps = _replicates(y, scores, n_boot, seed, n_bins, groups)
    metrics = {name: {m: _summary(v, reps[name][m], level, **_estimator(m))
                      for m, v in point[name].items()} for name in scores}
    diff = {  # a difference of two biased ECEs is bias-corrected too (unbounded: it may be < 0)
        name: {m: _summary(point[name][m] - point[ref][m], reps[name][m] - reps[ref][m], level,
                           corrected=m in BINNED_GAP_METRICS)
               for m in point[name]}
        for name in scores if name != ref
    }
    n = int(np.shape(next(iter(scores.values())))[0])
    ci = (f"{level:.0%} bootstrap, paired across methods (binned ECEs: {BIAS_CORRECTED}; the "
          f"rest: {PLUG_IN}), ") + (
        "resampling rows" if groups is None else "resampling groups (patients)")
    return {"metrics": metrics, "difference": diff, "reference": ref, "n": n,
            "n_boot": n_boot, "ci": ci}


def reliability_curve(y: object, p: object, n_bins: int = N_BINS) -> dict[str, list]:
    """Per non-empty equal-width bin: mean confidence, observed frequency, count (JSON-able).

    Binary p: confidence = p(abnormal), accuracy = abnormal fraction in the bin. Multiclass P:
    top-label confidence and top-label accuracy.
    """
    s = as_scores(p)
    lab = as_labels(y, s.shape[0], n_classes_of(s))
    if s.ndim == 1:
        conf, hit = s, lab.astype(np.float64)
    else:
        conf, hit = s.max(axis=1), (s.argmax(axis=1) == lab).astype(np.float64)
    bins = equal_width_bins(conf, n_bins)
    count = np.bincount(bins, minlength=n_bins)
    keep = count > 0
    sum_conf = np.bincount(bins, weights=conf, minlength=n_bins)[keep]
    sum_hit = np.bincount(bins, weights=hit, minlength=n_bins)[keep]
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return {
        "bin_confidence": (sum_conf / count[keep]).tolist(),
        "bin_accuracy": (sum_hit / count[keep]).tolist(),
        "bin_count": count[keep].astype(int).tolist(),
        "bin_lower": edges[:-1][keep].tolist(),
        "bin_upper": edges[1:][keep].tolist(),
    }
