"""Scores per setup and task: macro-F1 with a seed x record bootstrap CI, calibration before and
after temperature scaling, and the cost of training.

The bootstrap is two-level and shared: each replicate resamples test records and seeds (with
replacement), and the same replicate is applied to every setup of a data setting, so differences
between setups get paired CIs (`transfer.py`) from the same draws.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from triage_ray.calibrate import TemperatureScaler, metrics
from triage_ray.calibrate.functional import softmax_rows
from triage_ray.common.stats import bootstrap_weights, percentile_interval, t_interval


@dataclass
class TaskPredictions:
    """One setup's predictions for one task, aligned by record_id across seeds."""

    record_id: np.ndarray  # (n,) sorted
    y: np.ndarray  # (n,) int labels, all >= 0
    logits: np.ndarray  # (S, n, K)
    val_y: np.ndarray  # (m,)
    val_logits: np.ndarray  # (S, m, K)
    n_unlabelled: dict[str, int] = field(default_factory=dict)  # rows left out, by split


def macro_f1(y: np.ndarray, pred: np.ndarray, k: int) -> float:
    """Macro-F1 over the classes present in y or pred (scikit-learn's default set of labels)."""
    cm = np.bincount(y * k + pred, minlength=k * k).reshape(k, k)
    return float(_macro_f1_from_cm(cm[None])[0])


def _macro_f1_from_cm(cm: np.ndarray) -> np.ndarray:
    """(R, K, K) confusion matrices (rows = truth) -> (R,) macro-F1."""
    tp = np.diagonal(cm, axis1=1, axis2=2).astype(float)
    support, predicted = cm.sum(axis=2), cm.sum(axis=1)
    denom = support + predicted
    present = denom > 0
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=present)
    return (f1 * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)


class BootstrapPlan:
    """Shared replicates for one data setting: record counts (B, n) and seed weights (B, S).

    Both are `triage_ray.common.stats.bootstrap_weights` draws from one stream (records first,
    then seeds). A replicate's confusion matrix is counts @ one-hot(y * K + pred): one sparse
    product per seed instead of B resampled copies of the test set.
    """

    def __init__(self, n: int, n_seeds: int, n_boot: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.counts = np.stack(list(bootstrap_weights(n, n_boot, rng))).astype(np.float32)
        self.seed_w = np.stack(list(bootstrap_weights(n_seeds, n_boot, rng))) / n_seeds

    def f1_replicates(self, y: np.ndarray, preds: np.ndarray, k: int) -> np.ndarray:
        """(B,) seed-averaged macro-F1 per replicate; preds is (S, n) class indices."""
        if preds.shape[0] != self.seed_w.shape[1]:
            raise ValueError(f"plan has {self.seed_w.shape[1]} seeds, predictions {preds.shape[0]}")
        if y.shape[0] != self.counts.shape[1]:
            raise ValueError(f"plan has {self.counts.shape[1]} records, labels {y.shape[0]}")
        n = y.shape[0]
        per_seed = np.empty((self.counts.shape[0], preds.shape[0]))
        for s in range(preds.shape[0]):
            onehot = sparse.csr_matrix((np.ones(n, np.float32), (np.arange(n), y * k + preds[s])),
                                       shape=(n, k * k))
            cm = np.asarray((onehot.T @ self.counts.T).T)  # (B, K*K)
            per_seed[:, s] = _macro_f1_from_cm(cm.reshape(-1, k, k))
        return (per_seed * self.seed_w).sum(axis=1)


def f1_summary(y: np.ndarray, preds: np.ndarray, k: int, plan: BootstrapPlan,
               level: float) -> tuple[dict[str, float], np.ndarray]:
    """({"f1", "f1_ci_low", "f1_ci_high", "f1_seed_sd"}, replicates (B,))."""
    per_seed = np.array([macro_f1(y, p, k) for p in preds])
    reps = plan.f1_replicates(y, preds, k)
    lo, hi = percentile_interval(reps, level)
    sd = float(per_seed.std(ddof=1)) if per_seed.size > 1 else 0.0
    return {"f1": float(per_seed.mean()), "f1_ci_low": lo, "f1_ci_high": hi,
            "f1_seed_sd": sd}, reps


def seed_interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """Student-t interval of the mean over seeds (seed-to-seed variation only)."""
    if values.size < 2:
        return float(values.mean()), float(values.mean())
    return t_interval(values, level)


CAL_METRICS = {"top_label_ece": metrics.top_label_ece, "classwise_ece": metrics.classwise_ece,
               "brier": metrics.brier, "nll": metrics.nll}


def calibration_summary(p: TaskPredictions, level: float, n_bins: int) -> dict[str, float]:
    """Per calibration metric, before and after temperature scaling (T fitted on validation
    logits per seed): seed mean and a seed-level t-interval; plus the mean temperature."""
    vals: dict[str, list[float]] = {}
    temps = []
    for s in range(p.logits.shape[0]):
        ts = TemperatureScaler().fit(p.val_logits[s], p.val_y)
        temps.append(ts.temperature_)
        for when, P in (("before", softmax_rows(p.logits[s])), ("after", ts.predict_proba(p.logits[s]))):
            for name, fn in CAL_METRICS.items():
                kw = {"n_bins": n_bins} if "ece" in name else {}
                vals.setdefault(f"{name}_{when}", []).append(float(fn(p.y, P, **kw)))
    out: dict[str, float] = {"temperature": float(np.mean(temps))}
    for key, v in vals.items():
        arr = np.array(v)
        lo, hi = seed_interval(arr, level)
        out |= {key: float(arr.mean()), f"{key}_ci_low": lo, f"{key}_ci_high": hi}
    return out


def align_seeds(parts: list[Mapping[str, np.ndarray]], split: str, task: str
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Stack one split's per-seed arrays sorted by record_id; drops unknown labels (counted).

    Returns (record_id (n,), y (n,), logits (S, n, K), n_unlabelled)."""
    ids0 = None
    ys, zs = [], []
    for part in parts:
        order = np.argsort(part[f"{split}_record_id"], kind="stable")
        ids = part[f"{split}_record_id"][order]
        if ids0 is None:
            ids0 = ids
        elif not np.array_equal(ids, ids0):
            raise ValueError(f"{split}: seeds predicted different records; cannot pair them")
        ys.append(part[f"{split}_{task}_y"][order])
        zs.append(part[f"{split}_{task}_logits"][order])
    y = ys[0]
    known = y >= 0
    return ids0[known], y[known], np.stack(zs)[:, known], int((~known).sum())  # type: ignore[index]


def class_calibration(y: np.ndarray, P: np.ndarray, names: tuple[str, ...], *, n_boot: int,
                      level: float, n_bins: int, seed: int = 0) -> list[dict[str, float | str]]:
    """One row per class of calibrated probabilities P (n, K): how often it occurs, how likely the
    model says it is on average, its one-vs-rest ECE (bootstrap CI), and its recall and precision
    at the argmax decision (Clopper-Pearson CIs). Rare classes get the widest intervals."""
    from triage_ray.calibrate import calibration_report
    from triage_ray.common.stats import clopper_pearson

    pred = P.argmax(1)
    rows: list[dict[str, float | str]] = []
    for k, name in enumerate(names):
        hit = (y == k).astype(int)
        n_k, n_pred = int(hit.sum()), int((pred == k).sum())
        rep = calibration_report(hit, P[:, k], n_boot=n_boot, seed=seed + k, n_bins=n_bins,
                                 level=level)["ece"] if 0 < n_k < len(y) else None
        tp = int(((pred == k) & (y == k)).sum())
        r_lo, r_hi = clopper_pearson(tp, n_k, level) if n_k else (np.nan, np.nan)
        p_lo, p_hi = clopper_pearson(tp, n_pred, level) if n_pred else (np.nan, np.nan)
        rows.append({"class": name, "n": n_k, "observed_rate": float(hit.mean()),
                     "mean_predicted": float(P[:, k].mean()),
                     "ece": rep["value"] if rep else np.nan,
                     "ece_ci_low": rep["ci_low"] if rep else np.nan,
                     "ece_ci_high": rep["ci_high"] if rep else np.nan,
                     "recall": tp / n_k if n_k else np.nan, "recall_ci_low": r_lo,
                     "recall_ci_high": r_hi, "precision": tp / n_pred if n_pred else np.nan,
                     "precision_ci_low": p_lo, "precision_ci_high": p_hi})
    return rows
