"""Shared fixtures: one real local Ray cluster per test session, started only by tests that ask."""

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from shell_runs import (
    BIN,
    PLACEMENT,
    REPO,
    ResumedRun,
    finished_trials,
    kill_driver_when,
    kill_group_when,
    plain_shell_env,
    readme_job,
    run_logged,
    submit_logged,
    trial_footprint,
    two_node_cluster,
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
    """One TRIAGE_RAY_DATA_DIR for the shell runs that use the default generated training data,
    as one user's cache across their runs: the generated tree and the pretrained weights are made
    by the first and read by the rest, which is what the cache is for."""
    return tmp_path_factory.mktemp("smoke-data")


@dataclass(frozen=True)
class SmokePretraining:
    """`sweeps/pretrain.py --smoke` run from a plain shell into `smoke_data_dir`: its weights
    folder and its output."""

    out_dir: Path
    log: str


@pytest.fixture(scope="session")
def smoke_pretrain(smoke_data_dir) -> SmokePretraining:
    """The smoke pretraining, made the way a user makes it before a smoke study: the weights the
    smoke sweeps then find cached (its parameters are the smoke study's own, `smoke_overrides`).
    One pretraining serves tests/xray/test_pretrain.py and the `dicom_job` run."""
    log = smoke_data_dir.parent / "smoke-pretrain.log"
    env = {**plain_shell_env(), DATA_DIR_ENV: str(smoke_data_dir)}
    run_logged([str(BIN / "python"), "sweeps/pretrain.py", "--smoke"], log, env, 900)
    text = log.read_text()
    weights = Path(next(line.split(": ", 1)[1] for line in text.splitlines()
                        if line.startswith("weights: ")))
    return SmokePretraining(weights.parent, text)


@pytest.fixture
def kill_when():
    """`kill_group_when`, for the fault-injection tests."""
    return kill_group_when


@pytest.fixture(scope="session")
def dicom_job(tmp_path_factory, smoke_data_dir, smoke_pretrain) -> ResumedRun:
    """The README's full smoke sweep on a generated PACS-style DICOM export (made with the
    project's CLI), submitted from a plain shell with `ray job submit` to a two-node cluster
    started the README's way; its driver SIGKILLed once three of its four trials are scored, then
    the run continued by a second job, `sweeps/xray.py --resume <run dir>`. The resnet10t weights
    come from `smoke_pretrain` (cached), the other backbone's the job pretrains itself. One run serves the
    two-node, driver-kill, DICOM pile and review-page checks (tests/test_job_submit.py,
    tests/test_dicom_pile_run.py). The cluster is stopped before the tests read the run."""
    base = tmp_path_factory.mktemp("dicom-job")
    export, reports = base / "pacs-export", base / "shared" / "reports"  # shared: both nodes' disk
    run_logged([str(BIN / "python"), "-m", "triage_ray.data.synth.dicom", "--n", "240", "--size",
                "64", "--out", str(export), "--out-of-scope", "--broken"], base / "export.log",
               plain_shell_env(), 600)
    args = ["--smoke", "--pile-source", "dicom", "--pile-root", str(export), "--reports-dir",
            str(reports), *PLACEMENT]

    def three_scored() -> bool:
        tune_dirs = list(reports.glob("*/tune"))
        return bool(tune_dirs) and len(finished_trials(tune_dirs[0])) >= 3

    job_log, resume_log = base / "job.log", base / "resume.log"
    with two_node_cluster(tmp_path_factory.mktemp("node2")) as cluster:
        client = submit_logged(readme_job(cluster.address, smoke_data_dir, args), cluster.env,
                               job_log)
        kill_driver_when(str(reports), three_scored, client, timeout_s=900, log=job_log)
        (run_dir,) = list(reports.iterdir())
        assert not (run_dir / "metrics.json").exists()  # killed mid-sweep, not after
        before = {name: trial_footprint(run_dir, d) for name, d in
                  finished_trials(run_dir / "tune").items()}
        with resume_log.open("w") as out:  # closed before the log is read
            resumed = subprocess.run(readme_job(cluster.address, smoke_data_dir,
                                                ["--resume", str(run_dir)]),
                                     env=cluster.env, cwd=REPO, stdout=out,
                                     stderr=subprocess.STDOUT, timeout=1200, check=False)
        text = resume_log.read_text()
        assert resumed.returncode == 0 and "succeeded" in text, text[-4000:]
        head_id, worker_id = cluster.head_id, cluster.worker_id
    return ResumedRun(run_dir, export, pd.read_csv(export / "manifest.csv"), before, job_log,
                      resume_log, head_id, worker_id)


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
