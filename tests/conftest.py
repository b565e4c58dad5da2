"""Shared fixtures: one real local Ray cluster per test session, started only by tests that ask."""

import os
import subprocess

import pandas as pd
import pytest
from shell_runs import (
    BIN,
    PLACEMENT,
    REPO,
    ResumedRun,
    finished_trials,
    kill_group_when,
    plain_shell_env,
    run_logged,
    trial_footprint,
)

from triage_ray.common.paths import DATA_DIR_ENV

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
    """One TRIAGE_RAY_DATA_DIR for the tests that run the whole smoke sweep from a shell (the
    killed and resumed DICOM pile run, the two-node job), as one user's cache across their runs:
    the generated training tree and the pretrained weights are made by the first of them and read
    by the rest, which is what the cache is for. Each run still writes its own reports."""
    return tmp_path_factory.mktemp("smoke-data")


@pytest.fixture
def kill_when():
    """`kill_group_when`, for the fault-injection tests."""
    return kill_group_when


@pytest.fixture(scope="session")
def resumed_dicom_run(tmp_path_factory, smoke_data_dir) -> ResumedRun:
    """The README's local smoke run on a generated PACS-style DICOM export (made with the
    project's CLI), from a plain shell: SIGKILLed with the Ray it started once three of its four
    trials are scored, then continued with `sweeps/xray.py --resume <run dir>`. One run serves the
    DICOM pile checks, the review page in Chromium and the driver-kill resume check
    (tests/test_dicom_pile_run.py, tests/test_job_submit.py)."""
    base = tmp_path_factory.mktemp("dicom-run")
    env = {**plain_shell_env(), DATA_DIR_ENV: str(smoke_data_dir)}
    export, reports = base / "pacs-export", base / "reports"
    run_logged([str(BIN / "python"), "-m", "triage_ray.data.synth.dicom", "--n", "240", "--size",
                "64", "--out", str(export), "--out-of-scope", "--broken"], base / "export.log", env,
               600)
    cmd = [str(BIN / "python"), "sweeps/xray.py", "--smoke", "--pile-source", "dicom",
           "--pile-root", str(export), "--reports-dir", str(reports), *PLACEMENT]

    def three_scored() -> bool:
        tune_dirs = list(reports.glob("*/tune"))
        return bool(tune_dirs) and len(finished_trials(tune_dirs[0])) >= 3

    log = base / "sweep.log"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    kill_group_when(proc, three_scored, timeout_s=900, poll_s=0.5, what="three scored trials",
                    log=log)
    (run_dir,) = list(reports.iterdir())
    assert not (run_dir / "metrics.json").exists()  # killed mid-sweep, not after
    before = {name: trial_footprint(run_dir, d) for name, d in
              finished_trials(run_dir / "tune").items()}
    resume_log = base / "resume.log"
    run_logged([str(BIN / "python"), "sweeps/xray.py", "--resume", str(run_dir)], resume_log, env,
               1200)
    return ResumedRun(run_dir, export, pd.read_csv(export / "manifest.csv"), before, resume_log)


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
