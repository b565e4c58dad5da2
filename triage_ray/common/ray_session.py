"""Start or join Ray for the sweep scripts, the same way for both studies.

Why not a bare `ray.init()`: with no address it joins the cluster named in Ray's
`ray_current_cluster` file, and that file outlives a head that was killed rather than stopped. A user
whose last `ray start --head` died would then get "When connecting to an existing cluster, num_cpus
... must not be provided" from a plain local run. So: inside `ray job submit` (RAY_ADDRESS is set)
join that cluster; with `--address auto` or an explicit address join it; otherwise always start a
fresh local Ray (`address="local"`).
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
from pathlib import Path

logger = logging.getLogger(__name__)
# Where `ray start` records the head it began (Ray's default temp dir).
CLUSTER_POINTER = Path("/tmp/ray/ray_current_cluster")
# Ray Train settings the project's runs start with unless the environment sets them. The
# controller polls its workers every RAY_TRAIN_HEALTH_CHECK_INTERVAL_S (Ray's default 2 s), and a
# finished run returns only at the next poll: 2-4 s of every Train run, measured (every sweep
# trial, pretraining run and intake setup pays it). At 0.5 s a run ends 2-3 s sooner
# (benchmarks/train_startup.py: teardown 3.2 -> 1.2 s) for one small remote call per half second.
TRAIN_ENV_DEFAULTS = {"RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.5"}


def add_address_argument(parser: argparse.ArgumentParser) -> None:
    """The `--address` flag both sweep scripts share."""
    parser.add_argument("--address", help="join this Ray cluster ('auto': the one `ray start` began); "
                        "default: RAY_ADDRESS if set, else a fresh local Ray")


def resolve_address(address: str | None) -> str:
    """The address to pass to `ray.init`: the explicit one, else RAY_ADDRESS, else "local"."""
    return address or os.environ.get("RAY_ADDRESS") or "local"


def train_env() -> dict[str, str]:
    """TRAIN_ENV_DEFAULTS, each unless the environment sets it, put into this process's
    environment (a Train run started here passes them to its controller) and returned (for the
    runtime env of the Ray processes that start Train runs: Tune trials, on any node)."""
    for key, value in TRAIN_ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    return {key: os.environ[key] for key in TRAIN_ENV_DEFAULTS}


def start_ray(address: str | None, num_cpus: int | None, env_vars: dict[str, str],
              include_dashboard: bool | None = None) -> str:
    """Initialise Ray unless a caller (a test, a notebook) already did; return the address used.

    `num_cpus` applies only to a fresh local Ray: a running cluster has its own resources.
    """
    import ray

    target = resolve_address(address)
    if ray.is_initialized():
        return target
    local = target == "local"
    if local:
        warn_if_stale_pointer(CLUSTER_POINTER)
    ray.init(address=target, num_cpus=num_cpus if local else None, include_dashboard=include_dashboard,
             runtime_env={"env_vars": {**train_env(), **env_vars}})
    return target


def stale_pointer_address(pointer: Path, timeout_s: float = 1.0) -> str | None:
    """The address in Ray's current-cluster file if nothing answers there, else None."""
    try:
        address = pointer.read_text().strip()
    except OSError:
        return None
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return address
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return None
    except OSError:
        return address


def warn_if_stale_pointer(pointer: Path) -> None:
    """Ray's state API, which Ray Train's placement-group cleaner polls, falls back to the head named
    in this file and waits ~12 s per training run when that head is gone (measured: every trial of
    the smoke sweep paid it). The file is Ray's, so say what to do rather than delete it."""
    dead = stale_pointer_address(pointer)
    if dead:
        logger.warning("%s names a Ray head at %s that does not answer (it was killed, not stopped). "
                       "Each training run will stall ~12 s on Ray's state API; run `ray stop` or "
                       "delete that file.", pointer, dead)
