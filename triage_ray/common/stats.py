"""The statistics helpers both studies and the simulator share: one implementation each, on scipy.

- `sigmoid`: the logistic function (scipy's `expit`, stable for large |z|).
- `cp_upper` / `cp_lower` / `clopper_pearson`: exact binomial (Clopper-Pearson) bounds, from the
  beta quantiles (`scipy.stats.beta.ppf`).
- `t_interval`: the Student-t interval of a mean (`scipy.stats.t.ppf`).
- `bootstrap_weights` / `percentile_interval`: row or cluster bootstrap replicates as frequency
  weights, and the percentile interval of replicate values.

numpy and scipy only: `sim` imports this module, and its import must stay free of torch, Ray,
pandas and SimPy.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy import special, stats


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)), without overflow warnings for large |z|."""
    return special.expit(z)


# ----------------------------------------------------------------------------- exact binomial
def cp_upper(k: np.ndarray, n: np.ndarray, delta: float) -> np.ndarray:
    """One-sided (1 - delta) Clopper-Pearson upper bound on a binomial rate; 1 where k == n
    (including n == 0)."""
    k, n = np.broadcast_arrays(np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64))
    out = np.ones(k.shape)
    ok = k < n
    out[ok] = stats.beta.ppf(1.0 - delta, k[ok] + 1.0, n[ok] - k[ok])
    return out


def cp_lower(k: np.ndarray, n: np.ndarray, delta: float) -> np.ndarray:
    """One-sided (1 - delta) Clopper-Pearson lower bound on a binomial rate; 0 where k == 0."""
    k, n = np.broadcast_arrays(np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64))
    out = np.zeros(k.shape)
    ok = k > 0
    out[ok] = stats.beta.ppf(delta, k[ok], n[ok] - k[ok] + 1.0)
    return out


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Two-sided `level` Clopper-Pearson interval for k events in n trials: each one-sided bound
    at (1 - level) / 2."""
    tail = (1.0 - level) / 2
    return float(cp_lower(k, n, tail)), float(cp_upper(k, n, tail))


# ----------------------------------------------------------------------------- Student t
def t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Student-t interval of the mean of `values` (sd with ddof=1); (nan, nan) with < 2 values."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        return float("nan"), float("nan")
    mean = float(np.mean(x))
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1)) * float(np.std(x, ddof=1)) / np.sqrt(x.size)
    return mean - half, mean + half


# ----------------------------------------------------------------------------- bootstrap
def bootstrap_weights(n: int, n_boot: int, seed: int | np.random.Generator,
                      groups: object = None) -> Iterator[np.ndarray]:
    """Yield `n_boot` frequency-weight vectors (n,): row or cluster (group) bootstrap.

    A replicate reweights the rows (multinomial counts) instead of gathering them, so scoring it
    is O(n). With `groups` (e.g. patient ids) whole groups are resampled and every row gets its
    group's count. `seed` may be a Generator, so several resamplings can share one stream.
    """
    rng = np.random.default_rng(seed)
    if groups is None:
        for _ in range(n_boot):
            yield np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        return
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ValueError(f"groups: expected shape ({n},), got {g.shape}")
    _, gid = np.unique(g, return_inverse=True)
    n_groups = int(gid.max()) + 1
    for _ in range(n_boot):
        counts = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)
        yield counts[gid].astype(np.float64)


def percentile_interval(reps: np.ndarray, level: float) -> tuple[float, float]:
    """The central `level` percentile interval of bootstrap replicate values."""
    tail = (1.0 - level) / 2
    lo, hi = np.quantile(reps, [tail, 1.0 - tail])
    return float(lo), float(hi)
