"""The fast engine: the same radiologist pool as `sim.reference`, without an event loop object.

`simulate` uses this engine; tests/sim check it gives the SimPy reference's start and end times
exactly, on the same draws. It is list scheduling: radiologists are interchangeable, so the pool
is a heap of "free at" times and each study goes to the earliest-free reader once it is next.

- static pile (every study present at hour 0): the order is fixed up front, so the loop is one
  heap operation per study (an aging cap only switches the order to FIFO once hour 0 is older
  than the cap, because every study then qualifies);
- arrivals over time: the pool's clock jumps to the next arrival when nothing waits, and the
  shared `ReadyQueue` picks the next study exactly as the SimPy store does.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from heapq import heapreplace

import numpy as np

from sim.clock import start_to_calendar
from sim.ready import ReadyQueue

Schedule = tuple[np.ndarray, np.ndarray]  # (start, end) work hours, each (m,)


def schedule_fast(arrival_work: np.ndarray, arrival_cal: np.ndarray, read_time: np.ndarray,
                  pos: np.ndarray, radiologists: int, hours_per_day: float,
                  aging_cap_hours: float | None, days_per_week: int = 7) -> Schedule:
    """Start and end work hours of each read. All arrays (m,); `pos` is the policy order."""
    m = read_time.size
    if m == 0:
        return np.zeros(0), np.zeros(0)
    if not arrival_work.any():
        start = _static(read_time, pos, radiologists, hours_per_day, aging_cap_hours,
                        days_per_week)
    else:
        start = _dynamic(arrival_work, arrival_cal, read_time, pos, radiologists, hours_per_day,
                         aging_cap_hours, days_per_week)
    return start, start + read_time


def _static(read_time: np.ndarray, pos: np.ndarray, c: int, h: float,
            cap: float | None, k: int) -> np.ndarray:
    m = read_time.size
    order = np.argsort(pos)
    free = [0.0] * c  # a heap of the hours each radiologist is next free
    start = np.empty(m)
    if cap is None:
        start[order] = np.fromiter(_in_turn(read_time[order].tolist(), free), float, m)
        return start
    # Before the pile is older than the cap: policy order. From then on every study qualifies
    # for promotion, so the rest go oldest (= first listed) first.
    early = list(itertools.takewhile(lambda t: start_to_calendar(t, h, k) <= cap,
                                     _in_turn(read_time[order].tolist(), free, peek=True)))
    k = len(early)
    start[order[:k]] = early
    rest = np.sort(order[k:])
    start[rest] = np.fromiter(_in_turn(read_time[rest].tolist(), free), float, rest.size)
    return start


def _in_turn(reads: list[float], free: list[float], peek: bool = False) -> Iterator[float]:
    """Start hours of `reads` taken in turn by the earliest-free radiologist (mutates `free`).
    With `peek`, each start is yielded *before* the read is booked, so a consumer that stops
    early leaves that read unbooked."""
    for r in reads:
        t = free[0]
        if peek:
            yield t
            heapreplace(free, t + r)
        else:
            heapreplace(free, t + r)
            yield t


def _dynamic(arrival_work: np.ndarray, arrival_cal: np.ndarray, read_time: np.ndarray,
             pos: np.ndarray, c: int, h: float, cap: float | None, k: int) -> np.ndarray:
    m = read_time.size
    rt = read_time.tolist()
    by_arrival = np.lexsort((np.arange(m), arrival_work)).tolist()
    aw = arrival_work.tolist()
    queue = ReadyQueue(pos, arrival_cal, cap, h, k)
    start = [0.0] * m
    free = [0.0] * c
    now, k = 0.0, 0
    for _ in range(m):
        t = max(free[0], now)  # a reader idle since before `now` picks up at `now`
        j = k
        while k < m and aw[by_arrival[k]] <= t:
            k += 1
        if j == k and not len(queue):  # nothing waiting: idle until the next arrival
            t = aw[by_arrival[k]]
            while k < m and aw[by_arrival[k]] <= t:
                k += 1
        queue.add(by_arrival[j:k])
        now = t
        s = queue.pop(t)
        start[s] = t
        heapreplace(free, t + rt[s])
    return np.array(start)
