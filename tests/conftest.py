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


@pytest.fixture(scope="session")
def smoke_data_dir(tmp_path_factory):
    """One TRIAGE_RAY_DATA_DIR for the tests that run the whole smoke sweep from a shell (the DICOM
    pile run, the two-node job, the driver-kill resume), as one user's cache across their runs:
    the generated training tree and the pretrained weights are made by the first of them and read
    by the rest, which is what the cache is for. Each run still writes its own reports."""
    return tmp_path_factory.mktemp("smoke-data")


def kill_group_when(proc, ready, *, timeout_s: float, poll_s: float, what: str, log) -> None:
    """SIGKILL `proc`'s whole process group (a script and the Ray it started) as soon as
    `ready()` holds; fail the test if the process exits or the time runs out first. `log`: the
    file the process writes its output to (a pipe nobody reads would block it)."""
    import os
    import signal
    import time

    deadline = time.time() + timeout_s
    try:
        while time.time() < deadline and proc.poll() is None:
            if ready():
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
                return
            time.sleep(poll_s)
        tail = log.read_text()[-3000:] if log.is_file() else ""
        pytest.fail(f"{what} did not happen before the process ended or {timeout_s} s: {tail}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def kill_when():
    """`kill_group_when`, for the fault-injection tests."""
    return kill_group_when


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
