"""Reading policies: which studies a radiologist reads, and in which order.

A policy is a small function from the worklist's arrays to a `QueuePlan`, registered by name in
`POLICIES` (the CLI and sweeps list their choices from it). Order is lexicographic on
(rank, key, arrival time, worklist index): lower reads sooner; the AI policies take (rank, key) from
`triage_ray.abstain.worklist.read_priority`, the one definition of the reading order, which
`worklist.parquet`'s read ranks come from too. An aging cap, when set, overrides
the order for studies waiting too long (see `sim.ready`); it is not part of a policy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from triage_ray.abstain.buckets import Bucket
from triage_ray.abstain.worklist import read_priority


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


@register_policy(shows_ai=False)
def no_ai(bucket: np.ndarray, order_key: np.ndarray | None, audited: np.ndarray) -> QueuePlan:
    """FIFO baseline: every study read in arrival order; the reader never sees the AI."""
    n = bucket.size
    return QueuePlan(np.ones(n, bool), np.zeros(n, np.int8), np.zeros(n))


@register_policy()
def prioritise(bucket: np.ndarray, order_key: np.ndarray | None, audited: np.ndarray) -> QueuePlan:
    """All read: priority bucket first, uncertain next, auto-normal last; within each by `order_key`."""
    rank, key = read_priority(bucket, order_key)
    return QueuePlan(np.ones(bucket.size, bool), rank, key)


@register_policy(auto_clears=True)
def auto_clear(bucket: np.ndarray, order_key: np.ndarray | None, audited: np.ndarray) -> QueuePlan:
    """As prioritise, but auto-normal studies are cleared unread except a random audit sample."""
    rank, key = read_priority(bucket, order_key)
    read = (bucket != Bucket.AUTO_NORMAL) | audited
    return QueuePlan(read, rank, key)
