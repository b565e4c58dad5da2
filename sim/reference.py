"""The reference model, in SimPy: radiologists are processes pulling from a shared worklist.

Scenario: a pool of interchangeable radiologists reads a worklist on the work clock (see
`sim.clock`). Studies arrive in batches (the pile at hour 0, then any inflow); each radiologist
repeatedly takes the next study the `ReadyQueue` rule gives, reads it for its drawn read time,
and takes the next. This is the model; `sim.fast` is a faster implementation of it that the tests
hold to the same start and end times on the same draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import simpy

from sim.ready import ReadyQueue


class WorklistStore(simpy.Store):
    """A Store of study indices whose `get` hands out the next study by the `ReadyQueue` rule."""

    def __init__(self, env: simpy.Environment, queue: ReadyQueue) -> None:
        super().__init__(env)
        self.queue = queue

    def _do_put(self, event) -> None:  # the item is a batch: studies arriving together
        self.queue.add(event.item)
        event.succeed()

    def _do_get(self, event) -> bool:
        if not len(self.queue):
            return False
        event.succeed(self.queue.pop(self._env.now))
        return True  # keep serving radiologists waiting on the same batch


@dataclass
class Trace:
    start: np.ndarray  # (m,) work hour each read starts
    end: np.ndarray  # (m,) work hour each read ends
    sample_hours: np.ndarray  # (k,) monitor sample times (empty without a monitor)
    waiting: np.ndarray  # (k,) studies waiting (not in a read) at each sample
    reading: np.ndarray  # (k,) reads in progress at each sample


def arrive(env: simpy.Environment, store: WorklistStore, at: float, batch: list[int]):
    yield env.timeout(at)  # scheduled from hour 0, so the batch lands at exactly `at`
    store.put(batch)


def radiologist(env: simpy.Environment, store: WorklistStore, read_time: list[float],
                start: np.ndarray, end: np.ndarray, busy: list[int]):
    while True:
        s = yield store.get()
        start[s] = env.now
        busy[0] += 1
        yield env.timeout(read_time[s])
        busy[0] -= 1
        end[s] = env.now


def monitor(env: simpy.Environment, store: WorklistStore, busy: list[int], end: np.ndarray,
            every: float, out: list[tuple[float, int, int]]):
    """Samples queue length and busy readers every `every` hours until every read has ended."""
    while np.isnan(end).any():
        out.append((env.now, len(store.queue), busy[0]))
        yield env.timeout(every)


def schedule_reference(arrival_work: np.ndarray, arrival_cal: np.ndarray, read_time: np.ndarray,
                       pos: np.ndarray, radiologists: int, hours_per_day: float,
                       aging_cap_hours: float | None, days_per_week: int = 7, *,
                       monitor_every: float | None = None) -> Trace:
    """Run the SimPy model once. Arrays (m,) as in `sim.fast.schedule_fast`."""
    m = read_time.size
    if m == 0:  # everything was cleared unread
        return Trace(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
    env = simpy.Environment()
    store = WorklistStore(env, ReadyQueue(pos, arrival_cal, aging_cap_hours, hours_per_day,
                                              days_per_week))
    start, end = np.full(m, np.nan), np.full(m, np.nan)
    times = np.unique(arrival_work)
    order = np.lexsort((np.arange(m), arrival_work))
    for at, batch in zip(times, np.split(order, np.searchsorted(arrival_work[order], times)[1:]),
                         strict=True):
        if at == 0.0:
            store.put(batch.tolist())  # the pile is there before anyone starts
        else:
            env.process(arrive(env, store, float(at), batch.tolist()))
    busy = [0]
    rt = read_time.tolist()
    for _ in range(radiologists):
        env.process(radiologist(env, store, rt, start, end, busy))
    samples: list[tuple[float, int, int]] = []
    if monitor_every is not None:
        env.process(monitor(env, store, busy, end, monitor_every, samples))
    env.run()
    s = np.array(samples, dtype=float).reshape(-1, 3)
    return Trace(start, end, s[:, 0], s[:, 1], s[:, 2])
