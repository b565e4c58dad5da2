"""Two clocks: the *work clock* the radiologists live on, and the *calendar* patients live on.

The engines run on the work clock: reading hours laid end to end, `hours_per_day` per reading
day, with no nights. A read still unfinished when a shift ends resumes at the next shift's start
(as if finished in overtime and the next day started that much later: the reading-hour budget is
exact either way). Calendar time starts at the first shift's start; day d's shift covers calendar
hours [24 d, 24 d + H). Waits and times-to-read are reported in calendar hours because that is
what patients and referrers experience; capacity and days-to-clear in reading days.

    work w  ->  calendar: d = floor(w / H) for a read *start* (a start at w = dH is the next
                shift's first minute), d = ceil(w / H) - 1 for a read *end* (an end at dH is the
                last minute of shift d-1); calendar = 24 d + (w - d H)
    calendar t -> work: inside a shift, the same instant; outside, the next shift's start
"""

from __future__ import annotations

import math

import numpy as np

from sim.config import HOURS_PER_CALENDAR_DAY as DAY


def start_to_calendar(w: float, h: float) -> float:
    """Calendar hour of a read that starts at work hour `w` (scalar; used inside engine loops)."""
    if h == DAY:
        return w
    d = math.floor(w / h)
    return d * DAY + (w - d * h)


def starts_to_calendar(w: np.ndarray, h: float) -> np.ndarray:
    if h == DAY:
        return w.astype(float, copy=True)
    d = np.floor(w / h)
    return d * DAY + (w - d * h)


def ends_to_calendar(w: np.ndarray, h: float) -> np.ndarray:
    if h == DAY:
        return w.astype(float, copy=True)
    d = np.maximum(np.ceil(w / h) - 1.0, 0.0)
    return d * DAY + (w - d * h)


def calendar_to_work(t: np.ndarray, h: float) -> np.ndarray:
    """Work hour at which a study arriving at calendar hour `t` can first be read."""
    if h == DAY:
        return t.astype(float, copy=True)
    d = np.floor(t / DAY)
    r = t - d * DAY
    return np.where(r < h, d * h + r, (d + 1.0) * h)
