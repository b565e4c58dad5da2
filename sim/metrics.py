"""The simulation's outputs, defined once: docs/simulation.md, the sweep metric, the reports and
the memo all read these names and these definitions.

Per replication, for the policy P and the `no_ai` baseline B run on the same draws:

- a study is *dispositioned* when its read ends, or on arrival if the policy clears it unread;
- T = work hour of the last disposition; days are reading days (T / hours_per_day);
- reading hours = radiologists x T (staffed hours, idle or not, until the worklist is clear);
- time to read (TTR) = calendar hours from arrival to the end of the read (report available);
- wait = calendar hours from arrival to the start of the read;
- auto-cleared = dispositioned unread (unaudited auto-normal under `auto_clear`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.clock import ends_to_calendar, reading_days_through, starts_to_calendar


@dataclass(frozen=True)
class MetricSpec:
    unit: str
    needs_truth: bool  # NaN when Worklist.is_abnormal is None
    definition: str


METRICS: dict[str, MetricSpec] = {
    "throughput_multiplier": MetricSpec(
        "x", False, "dispositioned_per_reading_hour of P / that of no_ai on the same draws; "
        "auto-cleared studies are credited only if the configuration is feasible"),
    "days_to_clear": MetricSpec("reading days", False, "T / hours_per_day under P"),
    "days_to_clear_no_ai": MetricSpec("reading days", False, "T / hours_per_day under no_ai"),
    "dispositioned_per_reading_hour": MetricSpec(
        "studies/h", False, "(studies read + auto-cleared if feasible) / reading hours under P"),
    "abnormal_ttr_median_hours": MetricSpec(
        "calendar h", True, "median TTR of truly abnormal studies that are read under P"),
    "abnormal_ttr_p90_hours": MetricSpec(
        "calendar h", True, "90th percentile of the same"),
    "abnormal_ttr_median_ratio": MetricSpec(
        "x", True, "abnormal_ttr_median_hours of P / that of no_ai (< 1: abnormals reported sooner)"),
    "abnormal_ttr_p90_ratio": MetricSpec("x", True, "abnormal_ttr_p90_hours of P / that of no_ai"),
    "abnormal_ttr_median_hours_no_ai": MetricSpec(
        "calendar h", True, "median TTR of truly abnormal studies under no_ai"),
    "abnormal_ttr_p90_hours_no_ai": MetricSpec("calendar h", True, "90th percentile of the same"),
    "abnormal_read_later_share": MetricSpec(
        "fraction", True, "share of truly abnormal studies read under both P and no_ai whose read "
        "ends later under P (the reordering's losers; same draws, so no noise from the draws)"),
    "normal_wait_median_hours": MetricSpec(
        "calendar h", True, "median wait of a truly normal study that is read under P"),
    "normal_wait_median_hours_no_ai": MetricSpec("calendar h", True, "the same under no_ai"),
    "normal_wait_max_hours": MetricSpec(
        "calendar h", True, "longest wait of a truly normal study that is read under P "
        "(auto-cleared ones do not wait)"),
    "normal_wait_max_hours_no_ai": MetricSpec("calendar h", True, "the same under no_ai"),
    "normal_wait_p99_hours": MetricSpec("calendar h", True, "99th percentile of the same"),
    "missed_abnormals": MetricSpec(
        "studies", True, "truly abnormal studies auto-cleared (unread, unaudited) under P"),
    "missed_abnormal_rate": MetricSpec(
        "fraction", True, "missed_abnormals / auto_cleared (NaN when nothing is auto-cleared)"),
    "missed_per_1000_auto_cleared": MetricSpec("per 1000", True, "1000 x missed_abnormal_rate"),
    "auto_cleared": MetricSpec("studies", False, "studies dispositioned unread under P"),
    "utilisation": MetricSpec(
        "fraction", False, "hours spent reading / reading hours under P"),
}


@dataclass(frozen=True, eq=False)
class Outcome:
    """One policy's run of one replication. Arrays (N,) over pile + inflow studies."""

    read: np.ndarray  # bool
    start_work: np.ndarray  # NaN where not read
    end_work: np.ndarray  # NaN where not read
    read_time: np.ndarray  # hours (as drawn for this policy)


def clear_hour(outcome: Outcome, arrival_work: np.ndarray) -> float:
    """T: work hour of the last disposition (a cleared study is dispositioned on arrival)."""
    return float(np.max(np.where(outcome.read, outcome.end_work, arrival_work), initial=0.0))


def _q(x: np.ndarray, q: float) -> float:
    return float(np.quantile(x, q)) if x.size else math.nan


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


def _per_hour(n: int, hours: float) -> float:
    return n / hours if hours > 0 else math.inf


def policy_metrics(out: Outcome, base: Outcome, arrival_cal: np.ndarray,
                   arrival_work: np.ndarray, truth: np.ndarray | None, *, radiologists: int,
                   hours_per_day: float, feasible: bool,
                   days_per_week: int = 7) -> dict[str, float]:
    """Every METRICS entry for one replication (policy `out` vs baseline `base`)."""
    c, h, k = radiologists, hours_per_day, days_per_week
    t_p, t_b = clear_hour(out, arrival_work), clear_hour(base, arrival_work)
    n_read, n_cleared = int(out.read.sum()), int((~out.read).sum())
    dph = _per_hour(n_read + (n_cleared if feasible else 0), c * t_p)
    dph_base = _per_hour(int(base.read.sum()), c * t_b)
    m: dict[str, float] = {
        "throughput_multiplier": dph / dph_base if math.isfinite(dph_base) else math.nan,
        "days_to_clear": t_p / h,
        "days_to_clear_no_ai": t_b / h,
        "dispositioned_per_reading_hour": dph,
        "auto_cleared": float(n_cleared),
        "utilisation": float(out.read_time[out.read].sum()) / (c * t_p) if t_p > 0 else math.nan,
    }
    if truth is None:
        m.update({k: math.nan for k, spec in METRICS.items() if spec.needs_truth})
        return m
    ttr_p = _ttr(out, arrival_cal, truth, h, k)
    ttr_b = _ttr(base, arrival_cal, truth, h, k)
    wait = _normal_wait(out, arrival_cal, truth, h, k)
    wait_b = _normal_wait(base, arrival_cal, truth, h, k)
    both = out.read & base.read & truth
    missed = int((~out.read & truth).sum())
    rate = missed / n_cleared if n_cleared else math.nan
    m.update({
        "abnormal_ttr_median_hours": _q(ttr_p, 0.5),
        "abnormal_ttr_p90_hours": _q(ttr_p, 0.9),
        "abnormal_ttr_median_ratio": _ratio(_q(ttr_p, 0.5), _q(ttr_b, 0.5)),
        "abnormal_ttr_p90_ratio": _ratio(_q(ttr_p, 0.9), _q(ttr_b, 0.9)),
        "abnormal_ttr_median_hours_no_ai": _q(ttr_b, 0.5),
        "abnormal_ttr_p90_hours_no_ai": _q(ttr_b, 0.9),
        "abnormal_read_later_share": float(np.mean(out.end_work[both] > base.end_work[both]))
        if both.any() else math.nan,
        "normal_wait_median_hours": _q(wait, 0.5),
        "normal_wait_median_hours_no_ai": _q(wait_b, 0.5),
        "normal_wait_max_hours": float(wait.max()) if wait.size else math.nan,
        "normal_wait_max_hours_no_ai": float(wait_b.max()) if wait_b.size else math.nan,
        "normal_wait_p99_hours": _q(wait, 0.99),
        "missed_abnormals": float(missed),
        "missed_abnormal_rate": rate,
        "missed_per_1000_auto_cleared": 1000.0 * rate,
    })
    return m


def _ttr(out: Outcome, arrival_cal: np.ndarray, truth: np.ndarray, h: float,
         k: int) -> np.ndarray:
    sel = out.read & truth
    return ends_to_calendar(out.end_work[sel], h, k) - arrival_cal[sel]


def _normal_wait(out: Outcome, arrival_cal: np.ndarray, truth: np.ndarray, h: float,
                 k: int) -> np.ndarray:
    sel = out.read & ~truth
    return starts_to_calendar(out.start_work[sel], h, k) - arrival_cal[sel]


def backlog_by_day(out: Outcome, arrival_cal: np.ndarray, hours_per_day: float,
                   n_days: int, days_per_week: int = 7) -> np.ndarray:
    """(n_days + 1,) studies not yet dispositioned: [0] before the first shift, [k] at the end
    of calendar day k (arrived before hour 24 k, read not ended by the last shift on or before
    calendar day k)."""
    arrivals = np.sort(arrival_cal[out.read])
    ends = np.sort(out.end_work[out.read])
    k = np.arange(1, n_days + 1)
    arrived = np.searchsorted(arrivals, 24.0 * k, side="left")
    done = np.searchsorted(ends, hours_per_day * reading_days_through(k, days_per_week),
                           side="right")
    first = np.searchsorted(arrivals, 0.0, side="right")
    return np.concatenate([[first], arrived - done]).astype(float)
