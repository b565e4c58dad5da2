"""Input checks shared by calibration, abstention and prior-shift code.

Every public function here validates at the boundary and raises a ValueError that names the
argument and the first offending row, so a bad score file fails loudly instead of being averaged
into a metric. Nothing is ever dropped silently: callers either get all rows back or an error.
"""

from __future__ import annotations

import numpy as np

# Rows of a probability matrix must sum to 1 within this tolerance (float32 softmax outputs
# drift by ~1e-6; anything larger is a sign the caller passed logits or unnormalised scores).
ROW_SUM_TOL = 1e-4


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1))[0])


def _finite(a: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        rows = bad.reshape(a.shape[0], -1).any(axis=1)
        raise ValueError(
            f"{name}: {int(rows.sum())} row(s) with NaN/inf values, first at row {_first_bad(bad)}"
        )


def as_logits(logits: object, name: str = "logits") -> np.ndarray:
    """Float64 array of shape (n,) (binary) or (n, K) with K >= 2 (multiclass), all finite."""
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim not in (1, 2) or z.shape[0] == 0:
        raise ValueError(f"{name}: expected a non-empty (n,) or (n, K) array, got shape {z.shape}")
    if z.ndim == 2 and z.shape[1] < 2:
        raise ValueError(f"{name}: a (n, K) array needs K >= 2 classes, got shape {z.shape}")
    _finite(z, name)
    return z


def as_probabilities(p: object, name: str = "p") -> np.ndarray:
    """Float64 (n,) array of probabilities in [0, 1]."""
    a = np.asarray(p, dtype=np.float64)
    if a.ndim != 1 or a.shape[0] == 0:
        raise ValueError(f"{name}: expected a non-empty (n,) array of probabilities, got {a.shape}")
    _finite(a, name)
    out = (a < 0.0) | (a > 1.0)
    if out.any():
        i = _first_bad(out)
        raise ValueError(f"{name}: {int(out.sum())} value(s) outside [0, 1], first at row {i}: {a[i]}")
    return a


def as_probability_matrix(P: object, name: str = "P") -> np.ndarray:
    """Float64 (n, K) array whose rows are probability vectors (non-negative, sum to 1)."""
    a = np.asarray(P, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] < 2:
        raise ValueError(f"{name}: expected a non-empty (n, K>=2) probability array, got {a.shape}")
    _finite(a, name)
    neg = (a < 0.0).any(axis=1)
    if neg.any():
        raise ValueError(f"{name}: {int(neg.sum())} row(s) with negative entries, first at row "
                         f"{int(np.flatnonzero(neg)[0])}")
    off = np.abs(a.sum(axis=1) - 1.0) > ROW_SUM_TOL
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise ValueError(f"{name}: {int(off.sum())} row(s) do not sum to 1 (first at row {i}: "
                         f"sum {a[i].sum():.6g}); pass probabilities, not logits")
    return a


def as_scores(p: object, name: str = "p") -> np.ndarray:
    """Probabilities as (n,) for binary or (n, K) for multiclass, validated accordingly."""
    a = np.asarray(p, dtype=np.float64)
    return as_probability_matrix(a, name) if a.ndim == 2 else as_probabilities(a, name)


def as_labels(y: object, n: int, n_classes: int = 2, name: str = "y") -> np.ndarray:
    """Int64 (n,) labels in {0, ..., n_classes - 1}; `n` is the length the scores have."""
    a = np.asarray(y)
    if a.ndim != 1:
        raise ValueError(f"{name}: expected a (n,) label array, got shape {a.shape}")
    if a.shape[0] != n:
        raise ValueError(f"{name}: has {a.shape[0]} rows but the scores have {n}")
    if a.dtype.kind == "b":
        a = a.astype(np.int64)
    if a.dtype.kind == "f":
        _finite(a, name)
        frac = a != np.round(a)
        if frac.any():
            i = _first_bad(frac)
            raise ValueError(f"{name}: non-integer label at row {i}: {a[i]}")
    elif a.dtype.kind not in "iu":
        raise ValueError(f"{name}: labels must be integers, got dtype {a.dtype}")
    lab = a.astype(np.int64)
    bad = (lab < 0) | (lab >= n_classes)
    if bad.any():
        i = _first_bad(bad)
        raise ValueError(f"{name}: {int(bad.sum())} label(s) outside 0..{n_classes - 1}, first at "
                         f"row {i}: {lab[i]} (unknown labels, e.g. -1, must be removed upstream "
                         "and counted there)")
    return lab


def n_classes_of(scores: np.ndarray) -> int:
    """2 for (n,) binary scores, K for (n, K) scores."""
    return 2 if scores.ndim == 1 else int(scores.shape[1])
