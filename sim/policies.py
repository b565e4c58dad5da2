"""Reading policies: which studies a radiologist reads, and in which order.

A policy is a small function from the worklist's arrays to a `QueuePlan`, registered by name in
`POLICIES` (the CLI and sweeps list their choices from it). Order is lexicographic on
(rank, key, arrival time, worklist index): lower reads sooner. An aging cap, when set, overrides
the order for studies waiting too long (see `sim.ready`); it is not part of a policy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.buckets import Bucket


@dataclass(frozen=True, eq=False)
class QueuePlan:
    read: np.ndarray  # (N,) bool: enters the reading queue (False: dispositioned on arrival)
    rank: np.ndarray  # (N,) int: lower = read sooner
    key: np.ndarray  # (N,) float: within a rank, lower = read sooner; ties go by arrival


PlanFn = Callable[[np.ndarray, "np.ndarray | None", np.ndarray], QueuePlan]


@dataclass(frozen=True)
class Policy:
    name: str
    plan: PlanFn  # (bucket, order_key | None, audited) -> QueuePlan
    auto_clears: bool  # leaves studies unread: credit for them needs the miss-rate bound
    shows_ai: bool  # the reader sees the AI bucket, so bucket read multipliers apply
    doc: str


POLICIES: dict[str, Policy] = {}


def register_policy(*, auto_clears: bool = False, shows_ai: bool = True):
    """Register `fn` under its own name, timm-style; the docstring is the policy's description."""

    def deco(fn: PlanFn) -> PlanFn:
        POLICIES[fn.__name__] = Policy(fn.__name__, fn, auto_clears, shows_ai,
                                       (fn.__doc__ or "").strip().splitlines()[0])
        return fn

    return deco


def get_policy(name: str) -> Policy:
    if name not in POLICIES:
        raise ValueError(f"unknown policy {name!r}; choose from {sorted(POLICIES)}")
    return POLICIES[name]


# bucket code -> rank: priority first, uncertain next, auto-normal last
_AI_RANK = np.zeros(len(Bucket), dtype=np.int8)
_AI_RANK[[Bucket.PRIORITY, Bucket.UNCERTAIN, Bucket.AUTO_NORMAL]] = [0, 1, 2]


def _ai_order(bucket: np.ndarray, order_key: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    key = np.zeros(bucket.size)
    if order_key is not None:
        unc = bucket == Bucket.UNCERTAIN
        key[unc] = -order_key[unc]  # higher value of a read -> sooner
    return _AI_RANK[bucket], key


@register_policy(shows_ai=False)
def no_ai(bucket: np.ndarray, order_key: np.ndarray | None, audited: np.ndarray) -> QueuePlan:
    """FIFO baseline: every study read in arrival order; the reader never sees the AI."""
    n = bucket.size
    return QueuePlan(np.ones(n, bool), np.zeros(n, np.int8), np.zeros(n))


@register_policy()
def prioritise(bucket: np.ndarray, order_key: np.ndarray | None, audited: np.ndarray) -> QueuePlan:
    """All read: priority bucket first, uncertain by value of a read, auto-normal last."""
    rank, key = _ai_order(bucket, order_key)
    return QueuePlan(np.ones(bucket.size, bool), rank, key)


@register_policy(auto_clears=True)
def auto_clear(bucket: np.ndarray, order_key: np.ndarray | None, audited: np.ndarray) -> QueuePlan:
    """As prioritise, but auto-normal studies are cleared unread except a random audit sample."""
    rank, key = _ai_order(bucket, order_key)
    read = (bucket != Bucket.AUTO_NORMAL) | audited
    return QueuePlan(read, rank, key)
