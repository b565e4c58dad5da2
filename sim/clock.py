"""Two clocks: the *work clock* the radiologists live on, and the *calendar* patients live on.

The engines run on the work clock: reading hours laid end to end, `hours_per_day` per reading
day, with no nights and no days off. A read still unfinished when a shift ends resumes at the next
shift's start (as if finished in overtime and the next day started that much later: the
reading-hour budget is exact either way). Calendar time starts at the first shift's start.

The staffing calendar has `days_per_week` reading days (the first ones of each 7-day week; 5: a
Monday-to-Friday department, 7: every day). Reading day d is calendar day
``D(d) = 7 (d // k) + d % k`` and its shift covers calendar hours [24 D, 24 D + H). Waits and
times-to-read are reported in calendar hours because that is what patients and referrers live
through, weekends included; capacity and days-to-clear in reading days.

    work w  ->  calendar: d = floor(w / H) for a read *start* (a start at w = dH is the next
                shift's first minute), d = ceil(w / H) - 1 for a read *end* (an end at dH is the
                last minute of shift d-1); calendar = 24 D(d) + (w - d H)
    calendar t -> work: inside a shift, the same instant; outside, the next shift's start
"""

from __future__ import annotations

import math

import numpy as np

from sim.config import HOURS_PER_CALENDAR_DAY as DAY

WEEK = 7


def _continuous(h: float, k: int) -> bool:
    """Every hour of every day is a reading hour: the two clocks coincide."""
    return h == DAY and k == WEEK


def calendar_day(d: np.ndarray | float, k: int = WEEK) -> np.ndarray | float:
    """Calendar day of reading day `d` (integer-valued floats)."""
    return WEEK * (d // k) + d % k


def start_to_calendar(w: float, h: float, k: int = WEEK) -> float:
    """Calendar hour of a read that starts at work hour `w` (scalar; used inside engine loops)."""
    if _continuous(h, k):
        return w
    d = math.floor(w / h)
    return (WEEK * (d // k) + d % k) * DAY + (w - d * h)


def starts_to_calendar(w: np.ndarray, h: float, k: int = WEEK) -> np.ndarray:
    if _continuous(h, k):
        return w.astype(float, copy=True)
    d = np.floor(w / h)
    return calendar_day(d, k) * DAY + (w - d * h)


def ends_to_calendar(w: np.ndarray, h: float, k: int = WEEK) -> np.ndarray:
    if _continuous(h, k):
        return w.astype(float, copy=True)
    d = np.maximum(np.ceil(w / h) - 1.0, 0.0)
    return calendar_day(d, k) * DAY + (w - d * h)


def calendar_to_work(t: np.ndarray, h: float, k: int = WEEK) -> np.ndarray:
    """Work hour at which a study arriving at calendar hour `t` can first be read."""
    if _continuous(h, k):
        return t.astype(float, copy=True)
    cal = np.floor(t / DAY)
    r = t - cal * DAY
    week, dow = cal // WEEK, cal % WEEK
    reading = dow < k  # a reading day (its shift may be over)
    d = week * k + np.minimum(dow, k)  # this reading day, or the next week's first if day off
    inside = reading & (r < h)
    return np.where(inside, d * h + r, np.where(reading, (d + 1.0) * h, d * h))


def reading_days_through(calendar_days: np.ndarray, k: int = WEEK) -> np.ndarray:
    """Reading days among calendar days [0, n) for each n in `calendar_days`."""
    n = np.asarray(calendar_days)
    return (n // WEEK) * k + np.minimum(n % WEEK, k)
