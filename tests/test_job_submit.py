"""`ray job submit` of the smoke sweep to a real local head node started as the README says
(`make ray-head`, from a shell without the virtualenv on PATH).

This is also the end-to-end check of the X-ray pipeline: the job must write every artifact, and the
worklist must hold each pile study exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from triage_ray.common.ray_session import CLUSTER_POINTER

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def head_node(tmp_path):
    """A head node in its own process group, stopped by signal (never `ray stop`, which would also
    kill other Ray instances on the machine)."""
    # A user's plain shell: the virtualenv is NOT on PATH (the README's `make ray-head` must put it
    # there for the job's `python`). Ray 2.60 turns token auth on; the CLI finds the head's token
    # only with RAY_AUTH_MODE=token.
    plain_path = os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep)
                                 if Path(d).resolve() != BIN.resolve())
    env = {**os.environ, "PATH": plain_path, "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_AUTH_MODE": "token"}
    env.pop("VIRTUAL_ENV", None)
    gcs, dash = _free_port(), _free_port()
    # Every listener on its own free port: another Ray on the machine (e.g. the session's test
    # cluster) holds the defaults, and a head whose job agent cannot bind accepts no job.
    agent_ports = [f"--{flag}={_free_port()}" for flag in (
        "dashboard-agent-listen-port", "dashboard-agent-grpc-port", "metrics-export-port",
        "runtime-env-agent-port", "node-manager-port", "object-manager-port",
        "ray-client-server-port")]
    flags = [f"--port={gcs}", "--num-cpus=4", "--include-dashboard=true",
             f"--dashboard-port={dash}", "--dashboard-host=127.0.0.1", *agent_ports, "--block"]
    proc = subprocess.Popen(  # the README's command for a local head
        ["make", "-s", "ray-head", f"RAY_HEAD_ARGS={' '.join(flags)}"], cwd=REPO,
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    address = f"http://127.0.0.1:{dash}"
    deadline = time.time() + 90
    while time.time() < deadline:
        ok = subprocess.run([str(BIN / "ray"), "job", "list", "--address", address], env=env,
                            capture_output=True, text=True)
        if ok.returncode == 0:
            break
        time.sleep(2)
    else:
        os.killpg(proc.pid, signal.SIGTERM)
        pytest.fail(f"head node did not come up: {ok.stderr[-2000:]}")
    yield address, env
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    _forget_head(gcs)


def _forget_head(gcs_port: int) -> None:
    """A head stopped by signal leaves Ray's "current cluster" file naming it; a later bare
    `ray.init()` on this machine would try to join the dead head. Remove the file if it is ours."""
    pointer = CLUSTER_POINTER
    if pointer.exists() and pointer.read_text().strip().endswith(f":{gcs_port}"):
        pointer.unlink()


@pytest.mark.slow
def test_smoke_sweep_runs_as_a_ray_job(head_node, tmp_path):
    address, env = head_node
    reports = tmp_path / "reports"
    cmd = [str(BIN / "ray"), "job", "submit", "--address", address, "--working-dir", str(REPO),
           "--", "python", "sweeps/xray.py", "--smoke", "--reports-dir", str(reports)]
    for _ in range(30):  # the head's job agent starts a little after its HTTP server answers
        job = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if "No available agent" not in job.stdout + job.stderr:
            break
        time.sleep(3)
    assert job.returncode == 0, job.stdout[-4000:] + job.stderr[-2000:]
    assert "succeeded" in job.stdout
    (run_dir,) = list(reports.iterdir())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    assert config["smoke"] is True and metrics["generated_data"] is True
    assert "GENERATED DATA" in (run_dir / "summary.md").read_text()
    assert config["search"] == "optuna_asha"
    assert metrics["sweep"]["n_trials"] == config["n_trials"] == 4
    # one epoch: nothing for ASHA to cut, every trial is scored
    assert all(t["status"] == "done" and t["epochs_run"] == 1 for t in metrics["sweep"]["trials"])
    for progress in (run_dir / "tune").glob("*/progress.csv"):  # per-epoch rows reach Tune
        rows = pd.read_csv(progress)
        assert rows["val_auroc"].notna().all() and (rows["epoch_done"] == 1).any()
    truth = metrics["model_vs_truth"]["test"]
    assert truth["auroc_truth"]["ci_low"] <= truth["auroc_truth"]["value"] <= truth["auroc_truth"]["ci_high"]
    assert metrics["model_vs_truth"]["pile"]["n"] == config["pile_size"]
    # the default init is "pretrain": every backbone pretrained by the run, every trial from it
    assert set(metrics["pretrain"]) == set(config["backbones"])
    assert all(Path(p["weights"]).is_file() for p in metrics["pretrain"].values())
    assert {t["init"] for t in metrics["sweep"]["trials"]} == {"pretrain"}
    # the input size is a search axis: the smoke searches 48 and 64 px, one shard set each
    assert {t["image_size"] for t in metrics["sweep"]["trials"]} <= set(config["image_sizes"])
    assert (run_dir / "shards" / "labelled-48px").is_dir() and metrics["best"]["image_size"] in (48, 64)
    curve = metrics["learning_curve"]
    assert [(p["init"], p["n_train"]) for p in curve["points"]] == [
        (init, n) for init in ("scratch", "pretrain") for n in config["learning_curve_sizes"]]
    assert all(0 <= p["auroc_truth"]["value"] <= 1 for p in curve["points"])
    assert "Learning curve (training size)" in (run_dir / "dashboard.html").read_text()
    assert "Pretraining and the learning curve" in (run_dir / "model_card.md").read_text()
    worklist = pd.read_parquet(run_dir / "worklist.parquet")
    assert len(worklist) == config["pile_size"] == metrics["pile"]["n_scored"]
    assert worklist["study_id"].is_unique
    assert set(worklist["bucket"]) <= {0, 1, 2}
    assert (run_dir / "tune").is_dir()
    for split in ("before", "after"):
        ece = metrics["calibration"][split]["ece"]
        assert ece["ci_low"] <= ece["value"] <= ece["ci_high"]


def test_sweep_scripts_name_the_missing_dependencies_under_the_wrong_python():
    """What a job on a head started outside the virtualenv meets: a plain message, not a
    ModuleNotFoundError deep in an import (`-S`: this Python without its site-packages)."""
    for script in ("sweeps/xray.py", "sweeps/intake.py"):
        out = subprocess.run([sys.executable, "-S", script, "--smoke"], cwd=REPO,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 1, out.stderr
        assert "lacks numpy, pandas" in out.stderr and "make ray-head" in out.stderr
