"""The queue of studies waiting for a read, and the one rule for which comes next.

Shared by both engines (the SimPy reference puts it inside a `simpy.Store`; the fast engine calls
it directly), so they cannot disagree on order. Rule, at work hour `now`:

1. aging cap (if set): any study that has waited strictly longer than the cap in calendar hours
   is read first, the longest-waiting first (ties: worklist order);
2. otherwise the policy order (`pos`: 0 = first).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

import numpy as np

from sim.clock import start_to_calendar


def total_order(*keys: np.ndarray) -> np.ndarray:
    """pos[i] = place of study i when sorted by keys (first key most significant), then index."""
    n = keys[0].size
    order = np.lexsort((np.arange(n),) + tuple(reversed(keys)))
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    return pos


class ReadyQueue:
    """Studies arrived and not yet taken. `pos` (m,) is the policy order, `arrival_cal` (m,) the
    calendar arrival hours; `aging_cap_hours` None disables the cap."""

    def __init__(self, pos: np.ndarray, arrival_cal: np.ndarray, aging_cap_hours: float | None,
                 hours_per_day: float, days_per_week: int = 7) -> None:
        self._by_pos = np.argsort(pos).tolist()  # pos -> study
        self._pos = pos.tolist()  # study -> pos
        self._heap: list[int] = []
        self._cap = aging_cap_hours
        self._h = hours_per_day
        self._k = days_per_week
        self._size = 0
        if aging_cap_hours is not None:
            age = total_order(arrival_cal)
            self._age = age.tolist()
            self._by_age = np.argsort(age).tolist()
            self._arrival = arrival_cal.tolist()
            self._age_heap: list[int] = []
            self._taken = bytearray(pos.size)

    def __len__(self) -> int:
        return self._size

    def add(self, studies: Iterable[int]) -> None:
        for s in studies:
            self._size += 1
            heapq.heappush(self._heap, self._pos[s])
            if self._cap is not None:
                heapq.heappush(self._age_heap, self._age[s])

    def pop(self, now: float) -> int:
        """Take the study a radiologist free at work hour `now` reads next."""
        self._size -= 1
        if self._cap is None:
            return self._by_pos[heapq.heappop(self._heap)]
        taken, age_heap, heap = self._taken, self._age_heap, self._heap
        while taken[self._by_age[age_heap[0]]]:
            heapq.heappop(age_heap)
        oldest = self._by_age[age_heap[0]]
        if start_to_calendar(now, self._h, self._k) - self._arrival[oldest] > self._cap:
            heapq.heappop(age_heap)
            taken[oldest] = 1
            return oldest
        while True:
            s = self._by_pos[heapq.heappop(heap)]
            if not taken[s]:
                taken[s] = 1
                return s
