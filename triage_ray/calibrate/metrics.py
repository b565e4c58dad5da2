"""Discrimination and calibration metrics for binary p (n,) and multiclass P (n, K).

Binary metrics treat p as p(abnormal) and score it against y in {0, 1}: ECE here is the binary
(positive-class) ECE, not the top-label one (which would fold p around 0.5). Multiclass callers use
`top_label_ece` (Guo et al. 2017) and `classwise_ece` (Kull et al. 2019).

Each metric has a weighted private form taking frequency weights `w` so the bootstrap in
`report.py` can resample by reweighting already-sorted arrays (O(n) per replicate, no re-sort).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from triage_ray.calibrate.validation import (
    as_labels,
    as_probabilities,
    as_probability_matrix,
)

N_BINS = 15  # Guo et al. 2017 use 15 equal-width bins; kept as the default for comparability
NLL_EPS = 1e-12  # probabilities are clipped to [eps, 1 - eps] so one p = 0 cannot make NLL inf


# ---------------------------------------------------------------- binary, pre-sorted form
@dataclass(frozen=True)
class SortedBinary:
    """Binary scores sorted ascending once, with tie groups and bin indices precomputed."""

    p: np.ndarray  # (n,) ascending
    y: np.ndarray  # (n,) float 0/1, same order
    group: np.ndarray  # (n,) tie-group id of each p (equal p -> same id)
    width_bin: np.ndarray  # (n,) equal-width bin index in 0..n_bins-1
    n_bins: int

    @classmethod
    def build(cls, y: np.ndarray, p: np.ndarray, n_bins: int = N_BINS) -> SortedBinary:
        order = np.argsort(p, kind="stable")
        ps = p[order]
        group = np.concatenate([[0], np.cumsum(np.diff(ps) != 0)])
        return cls(ps, y[order].astype(np.float64), group, equal_width_bins(ps, n_bins), n_bins)


def equal_width_bins(conf: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin i holds conf in (i/M, (i+1)/M]; conf == 0 goes to bin 0 (Guo et al.'s convention)."""
    return np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)


def _binned_gap(conf: np.ndarray, hit: np.ndarray, bins: np.ndarray, w: np.ndarray,
                n_bins: int) -> float:
    """sum_b |sum_{i in b} w_i (hit_i - conf_i)| / sum w: the ECE for a given binning."""
    gap = np.bincount(bins, weights=w * (hit - conf), minlength=n_bins)
    return float(np.abs(gap).sum() / w.sum())


def _auroc_w(s: SortedBinary, w: np.ndarray) -> float:
    pos, neg = w * s.y, w * (1.0 - s.y)
    wp, wn = pos.sum(), neg.sum()
    if wp == 0 or wn == 0:
        return float("nan")
    neg_in_group = np.bincount(s.group, weights=neg)
    neg_below = np.cumsum(neg_in_group) - neg_in_group
    # Mann-Whitney: each positive beats the negatives below its tie group, and half of its ties
    return float(np.sum(pos * (neg_below[s.group] + 0.5 * neg_in_group[s.group])) / (wp * wn))


def _ece_w(s: SortedBinary, w: np.ndarray) -> float:
    return _binned_gap(s.p, s.y, s.width_bin, w, s.n_bins)


def _adaptive_ece_w(s: SortedBinary, w: np.ndarray) -> float:
    before = np.cumsum(w) - w  # weight strictly earlier in the sort order
    bins = np.minimum((before * s.n_bins / w.sum()).astype(np.int64), s.n_bins - 1)
    return _binned_gap(s.p, s.y, bins, w, s.n_bins)


def _brier_w(s: SortedBinary, w: np.ndarray) -> float:
    return float(np.sum(w * (s.p - s.y) ** 2) / w.sum())


def _nll_w(s: SortedBinary, w: np.ndarray) -> float:
    q = np.clip(s.p, NLL_EPS, 1.0 - NLL_EPS)
    return float(-np.sum(w * (s.y * np.log(q) + (1 - s.y) * np.log1p(-q))) / w.sum())


# Binned calibration errors: sums of |bin gaps|, biased upward on finite samples (noise in a bin
# adds |noise|), so their bootstrap summary is bias-corrected (`calibrate.report`).
BINNED_GAP_METRICS = frozenset({"ece", "adaptive_ece", "top_label_ece", "classwise_ece"})

BINARY_METRICS = {
    "auroc": _auroc_w, "ece": _ece_w, "adaptive_ece": _adaptive_ece_w,
    "brier": _brier_w, "nll": _nll_w,
}


# ---------------------------------------------------------------- multiclass, weighted form
@dataclass(frozen=True)
class PreparedMulticlass:
    P: np.ndarray  # (n, K)
    y: np.ndarray  # (n,) int
    onehot: np.ndarray  # (n, K)
    n_bins: int

    @classmethod
    def build(cls, y: np.ndarray, P: np.ndarray, n_bins: int = N_BINS) -> PreparedMulticlass:
        return cls(P, y, np.eye(P.shape[1])[y], n_bins)


def _top_label_ece_w(m: PreparedMulticlass, w: np.ndarray) -> float:
    conf = m.P.max(axis=1)
    hit = (m.P.argmax(axis=1) == m.y).astype(np.float64)
    return _binned_gap(conf, hit, equal_width_bins(conf, m.n_bins), w, m.n_bins)


def _classwise_ece_w(m: PreparedMulticlass, w: np.ndarray) -> float:
    k = m.P.shape[1]
    return float(np.mean([
        _binned_gap(m.P[:, j], m.onehot[:, j], equal_width_bins(m.P[:, j], m.n_bins), w, m.n_bins)
        for j in range(k)
    ]))


def _mc_brier_w(m: PreparedMulticlass, w: np.ndarray) -> float:
    return float(np.sum(w * ((m.P - m.onehot) ** 2).sum(axis=1)) / w.sum())


def _mc_nll_w(m: PreparedMulticlass, w: np.ndarray) -> float:
    q = np.clip(m.P[np.arange(m.y.shape[0]), m.y], NLL_EPS, 1.0)
    return float(-np.sum(w * np.log(q)) / w.sum())


MULTICLASS_METRICS = {
    "top_label_ece": _top_label_ece_w, "classwise_ece": _classwise_ece_w,
    "brier": _mc_brier_w, "nll": _mc_nll_w,
}


# ---------------------------------------------------------------- public, validated API
def _binary(y: object, p: object, n_bins: int = N_BINS) -> SortedBinary:
    pa = as_probabilities(p)
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    return SortedBinary.build(as_labels(y, pa.shape[0]), pa, n_bins)


def _multiclass(y: object, P: object, n_bins: int = N_BINS) -> PreparedMulticlass:
    Pa = as_probability_matrix(P)
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    return PreparedMulticlass.build(as_labels(y, Pa.shape[0], Pa.shape[1]), Pa, n_bins)


def _ones(n: int) -> np.ndarray:
    return np.ones(n, dtype=np.float64)


def auroc(y: object, p: object) -> float:
    """Area under the ROC curve of binary p (ties count one half); needs both classes."""
    s = _binary(y, p)
    v = _auroc_w(s, _ones(s.p.shape[0]))
    if np.isnan(v):
        raise ValueError("y: AUROC needs both classes present")
    return v


def ece(y: object, p: object, n_bins: int = N_BINS) -> float:
    """Binary expected calibration error with `n_bins` equal-width bins over p(positive)."""
    s = _binary(y, p, n_bins)
    return _ece_w(s, _ones(s.p.shape[0]))


def adaptive_ece(y: object, p: object, n_bins: int = N_BINS) -> float:
    """ECE with equal-mass bins (each holds ~n / n_bins studies): robust when p piles up near 0."""
    s = _binary(y, p, n_bins)
    return _adaptive_ece_w(s, _ones(s.p.shape[0]))


def brier(y: object, p: object) -> float:
    """Binary: mean (p - y)^2. Multiclass (n, K): mean over rows of sum_k (P_k - 1[y = k])^2."""
    if np.ndim(p) == 2:
        m = _multiclass(y, p)
        return _mc_brier_w(m, _ones(m.y.shape[0]))
    s = _binary(y, p)
    return _brier_w(s, _ones(s.p.shape[0]))


def nll(y: object, p: object) -> float:
    """Mean negative log-likelihood (nats) of the labels; probabilities clipped at NLL_EPS."""
    if np.ndim(p) == 2:
        m = _multiclass(y, p)
        return _mc_nll_w(m, _ones(m.y.shape[0]))
    s = _binary(y, p)
    return _nll_w(s, _ones(s.p.shape[0]))


def top_label_ece(y: object, P: object, n_bins: int = N_BINS) -> float:
    """ECE of the top-label confidence max_k P_k against whether argmax_k P_k == y."""
    m = _multiclass(y, P, n_bins)
    return _top_label_ece_w(m, _ones(m.y.shape[0]))


def classwise_ece(y: object, P: object, n_bins: int = N_BINS) -> float:
    """Mean over classes k of the binary ECE of P[:, k] against 1[y == k]."""
    m = _multiclass(y, P, n_bins)
    return _classwise_ece_w(m, _ones(m.y.shape[0]))
