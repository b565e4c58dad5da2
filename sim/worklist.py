"""The worklist the model reads: plain arrays, one entry per study, validated once here."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from triage_ray.abstain.buckets import Bucket


def _first_bad(mask: np.ndarray) -> str:
    idx = np.flatnonzero(mask)
    return f"{idx.size} entries, first at index {int(idx[0])}"


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly
class Worklist:
    """A pile of studies to read.

    bucket: (N,) Bucket codes (any integer dtype in; stored as int8).
    order_key: (N,) float or None; within UNCERTAIN, higher = read sooner (value of a read).
    is_abnormal: (N,) bool truth or None for a real unlabeled pile (truth-based metrics are NaN).
    Array order is arrival (FIFO) order.
    """

    bucket: np.ndarray
    order_key: np.ndarray | None = None
    is_abnormal: np.ndarray | None = None

    def __post_init__(self) -> None:
        bucket = np.asarray(self.bucket)
        if bucket.ndim != 1:
            raise ValueError(f"Worklist.bucket must be 1-D, got shape {bucket.shape}")
        if bucket.dtype.kind not in "iu":
            if bucket.dtype.kind == "f" and np.all(np.isfinite(bucket)) and np.all(
                bucket == np.round(bucket)
            ):
                bucket = bucket.astype(np.int64)
            else:
                raise ValueError(f"Worklist.bucket must hold integer Bucket codes, got dtype "
                                 f"{bucket.dtype}")
        codes = [b.value for b in Bucket]
        bad = ~np.isin(bucket, codes)
        if bad.any():
            raise ValueError(f"Worklist.bucket: codes must be in {codes}; "
                             f"{_first_bad(bad)} (value {bucket[bad][0].item()!r})")
        object.__setattr__(self, "bucket", bucket.astype(np.int8))
        n = bucket.size
        if self.order_key is not None:
            key = np.asarray(self.order_key, dtype=float)
            if key.shape != (n,):
                raise ValueError(f"Worklist.order_key must have shape ({n},), got {key.shape}")
            if not np.all(np.isfinite(key)):
                raise ValueError(f"Worklist.order_key must be finite; "
                                 f"{_first_bad(~np.isfinite(key))}")
            object.__setattr__(self, "order_key", key)
        if self.is_abnormal is not None:
            truth = np.asarray(self.is_abnormal)
            if truth.shape != (n,):
                raise ValueError(f"Worklist.is_abnormal must have shape ({n},), got {truth.shape}")
            if truth.dtype != bool:
                ok = np.isin(truth, [0, 1]) if truth.dtype.kind in "iuf" else np.zeros(n, bool)
                if not ok.all():
                    raise ValueError(f"Worklist.is_abnormal must be bool or 0/1; "
                                     f"{_first_bad(~ok)}")
                truth = truth.astype(bool)
            object.__setattr__(self, "is_abnormal", truth)

    def __len__(self) -> int:
        return int(self.bucket.size)

    @property
    def has_truth(self) -> bool:
        return self.is_abnormal is not None

    def take(self, idx: np.ndarray) -> Worklist:
        """The studies at `idx`, in that order (used to resample piles and inflow)."""
        return Worklist(
            bucket=self.bucket[idx],
            order_key=None if self.order_key is None else self.order_key[idx],
            is_abnormal=None if self.is_abnormal is None else self.is_abnormal[idx],
        )


def with_prevalence(worklist: Worklist, prevalence: float, seed: int = 0) -> Worklist:
    """Resample (with replacement) to a target share of true abnormals, keeping each class's
    bucket/order-key mix: a label shift in which the model behaves per class as it did."""
    if worklist.is_abnormal is None:
        raise ValueError("with_prevalence needs Worklist.is_abnormal (truth) to resample by class")
    if not 0.0 <= prevalence <= 1.0:
        raise ValueError(f"prevalence must be in [0, 1], got {prevalence!r}")
    n = len(worklist)
    pos, neg = np.flatnonzero(worklist.is_abnormal), np.flatnonzero(~worklist.is_abnormal)
    n_pos = int(round(prevalence * n))
    if (n_pos and not pos.size) or (n - n_pos and not neg.size):
        raise ValueError("with_prevalence: the worklist lacks the class the target needs")
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.choice(pos, n_pos), rng.choice(neg, n - n_pos)])
    return worklist.take(rng.permutation(idx))


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def dprime_for_auc(auc: float) -> float:
    """Separation d' of a binormal (equal-variance) score with this AUROC: AUC = Phi(d'/sqrt 2)."""
    if not 0.5 <= auc < 1.0:
        raise ValueError(f"auc must be in [0.5, 1), got {auc!r}")
    lo, hi = 0.0, 20.0
    for _ in range(100):  # bisection: exact to float precision, no scipy needed
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _phi(mid / math.sqrt(2.0)) < auc else (lo, mid)
    return 0.5 * (lo + hi)


def synthetic_worklist(
    n: int, *, prevalence: float = 0.5, auc: float = 0.95, auto_normal_fraction: float = 0.3,
    priority_fraction: float = 0.2, seed: int = 0,
) -> Worklist:
    """A labelled pile from a binormal model of given AUROC: the lowest-scoring
    `auto_normal_fraction` go to AUTO_NORMAL, the highest `priority_fraction` to PRIORITY, the
    rest to UNCERTAIN ordered by score. Lets sensitivity tables ask what model quality a target
    throughput needs without a trained model."""
    if min(auto_normal_fraction, priority_fraction) < 0 or (
            auto_normal_fraction + priority_fraction > 1):
        raise ValueError("auto_normal_fraction and priority_fraction must be >= 0 and sum to <= 1")
    rng = np.random.default_rng(seed)
    truth = rng.random(n) < prevalence
    score = rng.standard_normal(n) + dprime_for_auc(auc) * truth
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(score, kind="stable")] = np.arange(n)
    bucket = np.full(n, Bucket.UNCERTAIN, dtype=np.int8)
    bucket[rank < int(round(auto_normal_fraction * n))] = Bucket.AUTO_NORMAL
    bucket[rank >= n - int(round(priority_fraction * n))] = Bucket.PRIORITY
    return Worklist(bucket=bucket, order_key=score, is_abnormal=truth)
