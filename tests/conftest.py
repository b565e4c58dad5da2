"""Shared fixtures: one real local Ray cluster per test session, started only by tests that ask."""

import os

import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture(scope="session")
def ray_local():
    """A real single-node Ray (4 logical CPUs on 2 cores: leaves room for Ray Data tasks beside
    a Train worker, see notes on the 2-CPU deadlock)."""
    import ray

    if not ray.is_initialized():
        ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False)
    from ray.data import DataContext

    DataContext.get_current().enable_progress_bars = False
    yield ray
    ray.shutdown()
