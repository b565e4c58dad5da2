"""Shared fixtures: one real local Ray cluster per test session, started only by tests that ask."""

import os
from functools import partial
from pathlib import Path

import pandas as pd
import pytest
import smoke_runs
from background import BackgroundLane
from shell_runs import ResumedRun, kill_group_when

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture(scope="session")
def ray_local():
    """A real single-node Ray (4 logical CPUs on 2 cores: leaves room for Ray Data tasks beside
    a Train worker, see notes on the 2-CPU deadlock)."""
    import ray

    from triage_ray.common.ray_session import train_env

    if not ray.is_initialized():
        ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": train_env()})
    from ray.data import DataContext

    DataContext.get_current().enable_progress_bars = False
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def smoke_data_dir(tmp_path_factory):
    """One TRIAGE_RAY_DATA_DIR for the shell runs that use the default generated training data,
    as one user's cache across their runs: the generated tree and the pretrained weights are made
    by the first and read by the rest, which is what the cache is for."""
    return tmp_path_factory.mktemp("smoke-data")


@pytest.fixture
def kill_when():
    """`kill_group_when`, for the fault-injection tests."""
    return kill_group_when


# the runs the background lane can start, longest first, with the fixture that reads each
BACKGROUND_RUNS = ("dicom_job", "real_run", "quick_run")


@pytest.fixture(scope="session", autouse=True)
def background(request, tmp_path_factory, smoke_data_dir) -> BackgroundLane:
    """Starts, at the session's first test, every shell run (tests/smoke_runs.py) that a selected
    test reads, one after another in a background lane; the fixtures below wait for them."""
    wanted = {name for item in request.session.items for name in item.fixturenames
              if name in BACKGROUND_RUNS}
    lane = BackgroundLane()
    for name in (n for n in BACKGROUND_RUNS if n in wanted):
        lane.submit(name, _run_of(name, tmp_path_factory, smoke_data_dir))
    yield lane
    lane.close()


def _run_of(name: str, tmp_path_factory, smoke_data_dir):
    """The named run with its folders made now (in the test process's thread)."""
    if name == "dicom_job":
        base, node2 = tmp_path_factory.mktemp("dicom-job"), tmp_path_factory.mktemp("node2")
        return partial(smoke_runs.dicom_job_run, base, node2, smoke_data_dir)
    if name == "real_run":
        return partial(smoke_runs.real_layout_run, tmp_path_factory.mktemp("real-layouts"))
    return partial(smoke_runs.quick_study_run, tmp_path_factory.mktemp("quick-study"))


@pytest.fixture(scope="session")
def dicom_job(background, tmp_path_factory, smoke_data_dir) -> ResumedRun:
    """`smoke_runs.dicom_job_run`: one run serves the two-node, driver-kill, DICOM pile and
    review-page checks (tests/test_job_submit.py, tests/test_dicom_pile_run.py)."""
    return background.result(
        "dicom_job", lambda: _run_of("dicom_job", tmp_path_factory, smoke_data_dir)())


@pytest.fixture(scope="session")
def real_run(background, tmp_path_factory, smoke_data_dir) -> tuple[Path, Path, pd.DataFrame]:
    """`smoke_runs.real_layout_run` (tests/test_real_layout_run.py)."""
    return background.result(
        "real_run", lambda: _run_of("real_run", tmp_path_factory, smoke_data_dir)())


@pytest.fixture(scope="session")
def quick_run(background, tmp_path_factory, smoke_data_dir) -> Path:
    """`smoke_runs.quick_study_run` (tests/xray/test_quick_study.py, the fast tier)."""
    return background.result(
        "quick_run", lambda: _run_of("quick_run", tmp_path_factory, smoke_data_dir)())


@pytest.fixture(scope="session")
def chromium() -> list[str]:
    """The headless Chromium command (Debian's `chromium`; `make browser` installs it). Missing
    browser fails the test: the dashboard check must not pass by being skipped."""
    import shutil

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("chromium not found: install Debian's `chromium` (`make browser`, or "
                    "`apt-get install -y chromium`) to run the dashboard browser test")
    return [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--enable-logging=stderr", "--v=0"]
