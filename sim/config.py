"""Staffing and read-time assumptions: every number the model takes as given, in one place.

Units: hours for time, studies for counts. A *reading day* is one shift of `hours_per_day` reading
hours per radiologist; a *calendar day* is 24 h. Capacity is counted in reading hours, waits in
calendar hours (see `sim.clock`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

# --- clinical / operational assumptions (units, source) --------------------------------------
DEFAULT_RADIOLOGISTS = 3  # radiologists reading the pile; project brief's reference department
DEFAULT_HOURS_PER_DAY = 6.0  # h of reading per radiologist per day; the rest is clinics, MDTs
#   and procedures (project brief's assumption; a sensitivity axis)
DEFAULT_READS_PER_HOUR = 60.0  # CXR reads/h incl. reporting; Shin et al., npj Digit Med 2023
#   measured 14.8 s mean *viewing* time per CXR, so 60 s/read budgets for dictation and overhead
DEFAULT_READ_TIME_CV = 0.5  # coefficient of variation of one read's duration; no published
#   figure found for CXR reporting time, so an assumption: right-skewed, some reads take 2-3x
DEFAULT_READ_TIME_DIST = "lognormal"  # right-skewed, positive; see READ_TIME_DISTRIBUTIONS
DEFAULT_READING_DAYS_PER_WEEK = 5  # a Monday-to-Friday reporting rota; weekends and nights are
#   calendar time that patients wait through but nobody reads in (7: every day is a reading day)
HOURS_PER_CALENDAR_DAY = 24.0

# --- read-time distributions: unit-mean multipliers, one per study ------------------------------
UnitMeanSampler = Callable[[np.random.Generator, int, float], np.ndarray]
READ_TIME_DISTRIBUTIONS: dict[str, UnitMeanSampler] = {}


def register_read_time(fn: UnitMeanSampler) -> UnitMeanSampler:
    """Register a read-time shape under its function name (CLI choices come from this dict)."""
    READ_TIME_DISTRIBUTIONS[fn.__name__] = fn
    return fn


@register_read_time
def lognormal(rng: np.random.Generator, n: int, cv: float) -> np.ndarray:
    """Mean 1, coefficient of variation `cv` (sigma^2 = ln(1 + cv^2), mu = -sigma^2 / 2)."""
    sigma2 = np.log1p(cv * cv)
    return rng.lognormal(mean=-sigma2 / 2.0, sigma=np.sqrt(sigma2), size=n)


@register_read_time
def gamma(rng: np.random.Generator, n: int, cv: float) -> np.ndarray:
    """Mean 1, coefficient of variation `cv` (shape 1/cv^2)."""
    shape = 1.0 / (cv * cv)
    return rng.gamma(shape, 1.0 / shape, size=n)


@register_read_time
def exponential(rng: np.random.Generator, n: int, cv: float) -> np.ndarray:
    """Mean 1; cv is always 1 (`cv` is ignored). Makes a 24-h pool an M/M/c queue."""
    return rng.exponential(1.0, size=n)


@register_read_time
def fixed(rng: np.random.Generator, n: int, cv: float) -> np.ndarray:
    """Every read takes exactly the mean (`cv` is ignored; no random draws are consumed)."""
    return np.ones(n)


EFFECTIVE_CV: dict[str, float | None] = {"exponential": 1.0, "fixed": 0.0}


@dataclass(frozen=True)
class Staffing:
    """Who reads, for how long, and how fast. Read time of study i (hours) is

    ``(1 / reads_per_hour) * Z_i * class_multiplier(truth_i) * bucket_multiplier(bucket_i)``

    with ``Z_i`` a unit-mean draw from `read_time_dist`. The bucket multiplier (e.g. a faster
    confirmation of an AI-normal study) is an explicit assumption, off by default (all 1.0), and
    applies only under policies that show the AI bucket to the reader (not under `no_ai`).
    Class multipliers need truth: with an unlabeled worklist they must stay 1.0.
    """

    radiologists: int = DEFAULT_RADIOLOGISTS
    hours_per_day: float = DEFAULT_HOURS_PER_DAY
    reads_per_hour: float = DEFAULT_READS_PER_HOUR
    read_time_dist: str = DEFAULT_READ_TIME_DIST
    read_time_cv: float = DEFAULT_READ_TIME_CV
    reading_days_per_week: int = DEFAULT_READING_DAYS_PER_WEEK
    abnormal_read_multiplier: float = 1.0  # assumption, default off: abnormal reads take longer?
    normal_read_multiplier: float = 1.0
    # (AUTO_NORMAL, UNCERTAIN, PRIORITY), indexed by Bucket code; default off
    bucket_read_multiplier: tuple[float, float, float] = field(default=(1.0, 1.0, 1.0))

    def __post_init__(self) -> None:
        if int(self.radiologists) != self.radiologists or self.radiologists < 1:
            raise ValueError(f"Staffing.radiologists must be a positive integer, got "
                             f"{self.radiologists!r}")
        if not 0.0 < self.hours_per_day <= HOURS_PER_CALENDAR_DAY:
            raise ValueError(f"Staffing.hours_per_day must be in (0, 24], got "
                             f"{self.hours_per_day!r}")
        for name in ("reads_per_hour", "abnormal_read_multiplier", "normal_read_multiplier"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"Staffing.{name} must be a positive number, got {value!r}")
        if self.read_time_dist not in READ_TIME_DISTRIBUTIONS:
            raise ValueError(f"Staffing.read_time_dist {self.read_time_dist!r} is unknown; "
                             f"choose from {sorted(READ_TIME_DISTRIBUTIONS)}")
        if not (np.isfinite(self.read_time_cv) and self.read_time_cv > 0):
            raise ValueError(f"Staffing.read_time_cv must be > 0, got {self.read_time_cv!r}")
        if int(self.reading_days_per_week) != self.reading_days_per_week or not (
                1 <= self.reading_days_per_week <= 7):
            raise ValueError("Staffing.reading_days_per_week must be an integer in 1..7, got "
                             f"{self.reading_days_per_week!r}")
        object.__setattr__(self, "reading_days_per_week", int(self.reading_days_per_week))
        mult = tuple(float(m) for m in self.bucket_read_multiplier)
        if len(mult) != 3 or not all(np.isfinite(m) and m > 0 for m in mult):
            raise ValueError("Staffing.bucket_read_multiplier must be 3 positive numbers "
                             f"(auto_normal, uncertain, priority), got {self.bucket_read_multiplier!r}")
        object.__setattr__(self, "bucket_read_multiplier", mult)
        object.__setattr__(self, "radiologists", int(self.radiologists))

    @property
    def mean_read_hours(self) -> float:
        return 1.0 / self.reads_per_hour

    @property
    def reads_per_day(self) -> float:
        """Nominal pool capacity per reading day (1,080 with the defaults)."""
        return self.radiologists * self.hours_per_day * self.reads_per_hour

    @property
    def reads_per_calendar_day(self) -> float:
        """Capacity averaged over the week (a 5-day rota reads 5/7 of `reads_per_day` a day)."""
        return self.reads_per_day * self.reading_days_per_week / 7.0

    @property
    def has_class_multipliers(self) -> bool:
        return self.abnormal_read_multiplier != 1.0 or self.normal_read_multiplier != 1.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["bucket_read_multiplier"] = list(self.bucket_read_multiplier)
        d["read_time_cv_effective"] = EFFECTIVE_CV.get(self.read_time_dist, self.read_time_cv)
        return d


DEFAULT_STAFFING = Staffing()  # frozen, so one shared default instance is safe
