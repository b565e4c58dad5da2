"""How many torch threads one training process uses when the config leaves it open."""

from __future__ import annotations

import math
import os


def alive_cpu_nodes() -> int:
    """Live Ray nodes with CPUs (1 when Ray is not running or cannot say)."""
    try:
        import ray

        if not ray.is_initialized():
            return 1
        nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0)]
    except Exception:  # a state query that fails must not stop training: assume one machine
        return 1
    return max(1, len(nodes))


def training_threads(requested: int | None, concurrent: int, nodes: int | None = None) -> int:
    """`requested` if set; else this machine's cores shared by the training processes that may run
    at once on it: `concurrent` of them spread over `nodes` (default: the live Ray nodes).

    Why: each trial sized itself to every core, so two concurrent trials on one 2-core machine
    ran 4 threads on 2 cores and the sweep got slower, not faster (measured 0.88x; shared, 1.07x:
    docs/performance.md). Ray cannot say which node a trial will land on, so the spread is assumed
    even; set `torch_threads` where trials pack unevenly."""
    if requested:
        return int(requested)
    per_node = math.ceil(max(1, concurrent) / (nodes or alive_cpu_nodes()))
    return max(1, (os.cpu_count() or 1) // per_node)
