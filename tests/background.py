"""Shell runs in a background lane, so their waits overlap the in-process tests.

A shell run (the README's command from a plain shell: a sweep, a job on the two-node cluster)
keeps the two cores about three quarters busy: much of its time is Ray starting processes and
polling. The in-process tests leave room too. So the session starts every shell run its selected
tests need at its first test, one after another in one background thread, and each test's
fixture waits for its run's result. The lane's thread only starts processes and waits on them;
the work is in those processes, so it does not compete for the pytest process's GIL.

A fixture that asks for a run the lane did not start (a selection the start-up could not see)
runs it there and then, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class BackgroundLane:
    """Named runs, one at a time in submission order (longest first: the tests that need a
    shorter one then wait least)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shell-runs")
        self._runs: dict[str, Future] = {}

    def submit(self, name: str, run: Callable[[], Any]) -> None:
        self._runs[name] = self._pool.submit(run)

    def result(self, name: str, run: Callable[[], Any]) -> Any:
        """The named run's result (re-raising its failure); `run` runs it here if not started."""
        future = self._runs.get(name)
        return run() if future is None else future.result()

    def close(self) -> None:
        """Wait for what is running (a shell run stopped half-way would leave its Ray behind)."""
        for future in self._runs.values():
            future.cancel()
        self._pool.shutdown(wait=True)
