"""One replication's random draws, shared by the policy and the `no_ai` baseline.

Common random numbers: within a replication both policies see the same read times, the same
inflow and the same audit draws, so their difference is the policy's effect, not noise. Each
random element has its own stream (spawned from the replication's SeedSequence), so e.g. turning
inflow on does not change the pile's read times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.clock import calendar_to_work
from sim.config import HOURS_PER_CALENDAR_DAY, READ_TIME_DISTRIBUTIONS, Staffing
from sim.worklist import Worklist

INFLOW_MAX_DAYS = 365.0  # inflow horizon when the backlog would never clear


@dataclass(frozen=True)
class Scenario:
    """The non-staffing knobs of a run (simulate's keyword arguments, validated)."""

    audit_fraction: float = 0.05  # share of auto-normal studies still read under auto_clear
    aging_cap_days: float | None = None  # calendar days; None = no cap
    inflow_per_day: float = 0.0  # mean new studies per calendar day (Poisson), on top of the pile
    inflow_days: float | None = None  # inflow lasts this many calendar days; None: see below
    pile_at_start: bool = True  # False: no initial pile; the worklist is only inflow's template
    miss_bound_ok: bool = True  # the abstention side's miss-rate bound held

    def __post_init__(self) -> None:
        if not 0.0 <= self.audit_fraction <= 1.0:
            raise ValueError(f"audit_fraction must be in [0, 1], got {self.audit_fraction!r}")
        if self.aging_cap_days is not None and not self.aging_cap_days >= 0:
            raise ValueError(f"aging_cap_days must be >= 0 or None, got {self.aging_cap_days!r}")
        if not (math.isfinite(self.inflow_per_day) and self.inflow_per_day >= 0):
            raise ValueError(f"inflow_per_day must be >= 0, got {self.inflow_per_day!r}")
        if self.inflow_days is not None and not self.inflow_days > 0:
            raise ValueError(f"inflow_days must be > 0 or None, got {self.inflow_days!r}")
        if not self.pile_at_start and self.inflow_per_day == 0:
            raise ValueError("pile_at_start=False needs inflow_per_day > 0 (nothing to read)")

    @property
    def aging_cap_hours(self) -> float | None:
        return None if self.aging_cap_days is None else self.aging_cap_days * HOURS_PER_CALENDAR_DAY

    def inflow_days_for(self, n_pile: int, staffing: Staffing) -> float:
        """Calendar days the inflow runs. Default: the days reading in arrival order nominally
        needs to work through the pile *while the inflow keeps arriving* (pile / (weekly-average
        capacity - inflow)), so new studies keep coming until the pile is gone; when the inflow
        meets or exceeds capacity the backlog never clears and the horizon is
        `INFLOW_MAX_DAYS`. Reports state the horizon (`assumptions["inflow_days"]`)."""
        if self.inflow_days is not None:
            return self.inflow_days
        spare = staffing.reads_per_calendar_day - self.inflow_per_day
        if spare <= 0 or not self.pile_at_start:
            return INFLOW_MAX_DAYS
        return float(min(INFLOW_MAX_DAYS, max(1, math.ceil(max(n_pile, 1) / spare))))


@dataclass(frozen=True, eq=False)
class Draws:
    """Arrays (N,) over pile + inflow studies, in arrival order."""

    studies: Worklist
    arrival_cal: np.ndarray  # calendar hour of arrival (0 for the pile)
    arrival_work: np.ndarray  # work hour it can first be read
    base_read: np.ndarray  # hours, with the class multiplier; the bucket one is per policy
    audit_u: np.ndarray  # U(0,1): audited under auto_clear iff audit_u < audit_fraction
    n_pile: int


def _unit_reads(rng: np.random.Generator, n: int, staffing: Staffing) -> np.ndarray:
    return READ_TIME_DISTRIBUTIONS[staffing.read_time_dist](rng, n, staffing.read_time_cv)


def draw_replication(worklist: Worklist, staffing: Staffing, scenario: Scenario,
                     seed: np.random.SeedSequence) -> Draws:
    read_rng, inflow_rng, audit_rng = (np.random.default_rng(s) for s in seed.spawn(3))
    n = len(worklist)
    n_pile = n if scenario.pile_at_start else 0
    parts: list[Worklist] = [worklist] if n_pile else []
    unit = [_unit_reads(read_rng, n_pile, staffing)]
    audit = [audit_rng.random(n_pile)]
    arrival = [np.zeros(n_pile)]
    if scenario.inflow_per_day > 0:
        days = scenario.inflow_days_for(n, staffing)
        k = int(inflow_rng.poisson(scenario.inflow_per_day * days))
        arrival.append(np.sort(inflow_rng.uniform(0.0, days * HOURS_PER_CALENDAR_DAY, k)))
        parts.append(worklist.take(inflow_rng.integers(0, n, k)))  # resampled from the pile
        unit.append(_unit_reads(inflow_rng, k, staffing))
        audit.append(inflow_rng.random(k))
    studies = parts[0] if len(parts) == 1 else Worklist(
        bucket=np.concatenate([p.bucket for p in parts]),
        order_key=None if worklist.order_key is None else np.concatenate(
            [p.order_key for p in parts]),
        is_abnormal=None if worklist.is_abnormal is None else np.concatenate(
            [p.is_abnormal for p in parts]),
    )
    base = np.concatenate(unit) * staffing.mean_read_hours
    if staffing.has_class_multipliers:
        base *= np.where(studies.is_abnormal, staffing.abnormal_read_multiplier,
                         staffing.normal_read_multiplier)
    arrival_cal = np.concatenate(arrival)
    return Draws(studies, arrival_cal, calendar_to_work(arrival_cal, staffing.hours_per_day,
                                                  staffing.reading_days_per_week),
                 base, np.concatenate(audit), n_pile)
