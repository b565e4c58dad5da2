"""`ray job submit` of the smoke sweep to a real two-node Ray cluster on this machine, started as the
README says (`make ray-head`, `make ray-worker`, from a shell without the virtualenv on PATH), and
the sweep driver killed mid-sweep, then resumed with `--resume`.

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
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from triage_ray.common.paths import DATA_DIR_ENV
from triage_ray.common.ray_session import CLUSTER_POINTER

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NODE_LISTENERS = ("dashboard-agent-listen-port", "dashboard-agent-grpc-port", "metrics-export-port",
                  "runtime-env-agent-port", "node-manager-port", "object-manager-port")
# The README's two-node command (section "On a Ray cluster"). Each node has 2 CPUs; a trial driver
# takes 1 and its Train worker 1.5, so the two never share a node: every trial's checkpoints cross
# between nodes through the shared storage.
PLACEMENT = ["--set", "cpus_per_trial=1", "cpus_per_worker=1.5"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listener_flags(*names: str) -> list[str]:
    """Every listener of a node on its own free port: two nodes share this machine, and another
    Ray on it (e.g. the session's test cluster) holds the defaults."""
    return [f"--{name}={_free_port()}" for name in names]


def plain_shell_env() -> dict[str, str]:
    """A user's plain shell: the virtualenv is NOT on PATH (the README's `make ray-head` and
    `make ray-worker` must put it there for the job's `python`). Ray 2.60 turns token auth on; the
    CLI finds the head's token only with RAY_AUTH_MODE=token."""
    plain_path = os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep)
                                 if Path(d).resolve() != BIN.resolve())
    env = {**os.environ, "PATH": plain_path, "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_AUTH_MODE": "token"}
    for key in ("VIRTUAL_ENV", "RAY_ADDRESS", DATA_DIR_ENV):
        env.pop(key, None)
    return env


def _start(cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    """A process in its own group, stopped by signal (never `ray stop`, which would also kill
    other Ray instances on the machine)."""
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL: `ray start --block` may ignore the first (measured)."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)


def alive_nodes(address: str, env: dict[str, str]) -> list[dict]:
    out = subprocess.run([str(BIN / "ray"), "list", "nodes", "--address", address, "--format",
                          "json"], env=env, capture_output=True, text=True)
    try:
        nodes = json.loads(out.stdout) if out.returncode == 0 else []
    except ValueError:  # the head is up but its state API not yet
        return []
    return [n for n in nodes if n["state"] == "ALIVE"]


def _wait_for(ready, what: str, proc: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if ready():
            return
        if proc.poll() is not None:
            pytest.fail(f"{what} exited: {proc.stdout.read()[-3000:]}")
        time.sleep(2)
    pytest.fail(f"{what} did not come up in {timeout_s} s")


def _forget_head(gcs_port: int) -> None:
    """A head stopped by signal leaves Ray's "current cluster" file naming it; a later bare
    `ray.init()` on this machine would try to join the dead head. Remove the file if it is ours."""
    pointer = CLUSTER_POINTER
    if pointer.exists() and pointer.read_text().strip().endswith(f":{gcs_port}"):
        pointer.unlink()


@dataclass
class Cluster:
    address: str  # the head's dashboard: where `ray job submit` goes
    env: dict[str, str]
    head_id: str
    worker_id: str


@pytest.fixture(scope="module")
def two_node_cluster(tmp_path_factory):
    """A head and a second node on this machine, 2 CPUs each, started the README's way from a plain
    shell. The second node keeps its own Ray temp folder, as a separate machine would (sharing the
    head's also races on unpacking the job's working directory: measured, the job then fails to
    import the package)."""
    env = plain_shell_env()
    gcs, dash = _free_port(), _free_port()
    head_flags = [f"--port={gcs}", "--num-cpus=2", "--include-dashboard=true",
                  f"--dashboard-port={dash}", "--dashboard-host=127.0.0.1",
                  *_listener_flags(*NODE_LISTENERS, "ray-client-server-port"), "--block"]
    head = _start(["make", "-s", "ray-head", f"RAY_HEAD_ARGS={' '.join(head_flags)}"], env)
    address = f"http://127.0.0.1:{dash}"
    worker = None
    try:
        _wait_for(lambda: len(alive_nodes(address, env)) == 1, "the head node", head)
        worker_flags = ["--num-cpus=2", f"--temp-dir={tmp_path_factory.mktemp('node2')}",
                        *_listener_flags(*NODE_LISTENERS), "--block"]
        worker = _start(["make", "-s", "ray-worker", f"RAY_HEAD=127.0.0.1:{gcs}",
                         f"RAY_WORKER_ARGS={' '.join(worker_flags)}"], env)
        _wait_for(lambda: len(alive_nodes(address, env)) == 2, "the second node", worker)
        nodes = alive_nodes(address, env)
        yield Cluster(address, env, next(n["node_id"] for n in nodes if n["is_head_node"]),
                      next(n["node_id"] for n in nodes if not n["is_head_node"]))
    finally:
        for proc in (worker, head):
            if proc is not None:
                _stop(proc)
        _forget_head(gcs)


@pytest.fixture(scope="module")
def shared_storage(tmp_path_factory) -> Path:
    """Where both nodes write the job's reports (the data cache, `smoke_data_dir`, is shared too:
    both are on this machine's disk, as NFS would be on a cluster)."""
    return tmp_path_factory.mktemp("shared")


def readme_job(address: str, shared: Path, data: Path) -> list[str]:
    env_json = json.dumps({"env_vars": {DATA_DIR_ENV: str(data)}})
    return [str(BIN / "ray"), "job", "submit", "--address", address, "--working-dir", str(REPO),
            "--runtime-env-json", env_json, "--", "python", "sweeps/xray.py", "--smoke",
            "--reports-dir", str(shared / "reports"), *PLACEMENT]


@pytest.fixture(scope="module")
def smoke_job(two_node_cluster, shared_storage, smoke_data_dir) -> Path:
    """The smoke sweep submitted as a job to the two-node cluster; its run directory."""
    cmd = readme_job(two_node_cluster.address, shared_storage, smoke_data_dir)
    for _ in range(30):  # the head's job agent starts a little after its HTTP server answers
        job = subprocess.run(cmd, env=two_node_cluster.env, capture_output=True, text=True,
                             timeout=900)
        if "No available agent" not in job.stdout + job.stderr:
            break
        time.sleep(3)
    assert job.returncode == 0, job.stdout[-4000:] + job.stderr[-2000:]
    assert "succeeded" in job.stdout
    (run_dir,) = list((shared_storage / "reports").iterdir())
    return run_dir


@pytest.mark.slow
def test_smoke_sweep_runs_as_a_ray_job_on_two_nodes(smoke_job, two_node_cluster, smoke_data_dir):
    run_dir = smoke_job
    metrics = json.loads((run_dir / "metrics.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    trials = metrics["sweep"]["trials"]
    # where each trial ran: its driver on one node and its Train worker on the other
    nodes = {two_node_cluster.head_id, two_node_cluster.worker_id}
    for t in trials:
        assert {t["trial_node_id"], t["train_node_id"]} == nodes, t
    assert config["smoke"] is True and metrics["generated_data"] is True
    assert "GENERATED DATA" in (run_dir / "summary.md").read_text()
    assert config["search"] == "optuna_asha"
    assert metrics["sweep"]["n_trials"] == config["n_trials"] == 4
    # one epoch: nothing for ASHA to cut, every trial is scored
    assert all(t["status"] == "done" and t["epochs_run"] == 1 for t in trials)
    for progress in (run_dir / "tune").glob("*/progress.csv"):  # per-epoch rows reach Tune
        rows = pd.read_csv(progress)
        assert rows["val_auroc"].notna().all() and (rows["epoch_done"] == 1).any()
    assert len(list((run_dir / "tune").glob("*/xray_config.json"))) == 4  # in shared storage
    truth = metrics["model_vs_truth"]["test"]
    assert truth["auroc_truth"]["ci_low"] <= truth["auroc_truth"]["value"] <= truth["auroc_truth"]["ci_high"]
    assert metrics["model_vs_truth"]["pile"]["n"] == config["pile_size"]
    # the default init is "pretrain": every backbone pretrained (by this run, or by an earlier
    # smoke run sharing the cache), every trial from it, the weights in the data folder the job
    # was given (shared storage)
    assert set(metrics["pretrain"]) == set(config["backbones"])
    for p in metrics["pretrain"].values():
        assert Path(p["weights"]).is_file() and p["weights"].startswith(str(smoke_data_dir))
    assert {t["init"] for t in trials} == {"pretrain"}
    # the input size is a search axis: the smoke searches 48 and 64 px, one shard set each
    assert {t["image_size"] for t in trials} <= set(config["image_sizes"])
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
    assert set(worklist["bucket"]) <= {0, 1, 2, 3}  # 3: not triaged (the intended-use gate)
    gated = worklist["bucket_name"] == "not_triaged"
    assert (worklist["gate_reason"] != "").eq(gated).all()  # refused exactly when a reason is given
    assert gated.sum() == metrics["pile"]["gate"]["n_not_triaged"] > 0  # NIH ages include children
    for split in ("before", "after"):
        ece = metrics["calibration"][split]["ece"]
        assert ece["ci_low"] <= ece["value"] <= ece["ci_high"]


def finished_trials(tune_dir: Path) -> dict[str, Path]:
    """Trial folder name -> folder, for trials whose final (scored) report is on disk."""
    done = {}
    for result in tune_dir.glob("*/result.json"):
        try:
            rows = [json.loads(line) for line in result.read_text().splitlines() if line.strip()]
        except ValueError:  # caught mid-write
            continue
        if any(r.get("final") for r in rows):
            done[result.parent.name] = result.parent
    return done


def trial_footprint(run_dir: Path, trial_dir: Path) -> dict:
    """What retraining a trial would change: its Train checkpoints (names and times) and its
    per-epoch rows."""
    trial_id = json.loads((trial_dir / "result.json").read_text().splitlines()[0])["trial_id"]
    ckpts = sorted((run_dir / "train" / f"train-{trial_id}").glob("checkpoint_*"))
    return {"trial_id": trial_id, "checkpoints": [(c.name, c.stat().st_mtime_ns) for c in ckpts],
            "progress_rows": len(pd.read_csv(trial_dir / "progress.csv"))}


@pytest.mark.slow
def test_sweep_driver_killed_mid_sweep_resumes_with_every_trial_once(smoke_job, smoke_data_dir,
                                                                      tmp_path, kill_when):
    """The README's local run, SIGKILLed (with the Ray it started) once three of four trials are
    scored, then `sweeps/xray.py --resume <run>`; compared with the uninterrupted job above."""
    env = {**plain_shell_env(), DATA_DIR_ENV: str(smoke_data_dir)}  # cached data/weights
    reports = tmp_path / "reports"
    cmd = [str(BIN / "python"), "sweeps/xray.py", "--smoke", "--reports-dir", str(reports),
           *PLACEMENT]
    def three_scored() -> bool:
        tune_dirs = list(reports.glob("*/tune"))
        return bool(tune_dirs) and len(finished_trials(tune_dirs[0])) >= 3

    log = tmp_path / "sweep.log"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    kill_when(proc, three_scored, timeout_s=600, poll_s=0.5, what="three scored trials", log=log)
    (run_dir,) = list(reports.iterdir())
    assert not (run_dir / "metrics.json").exists()  # killed mid-sweep, not after
    before = {name: trial_footprint(run_dir, d) for name, d in
              finished_trials(run_dir / "tune").items()}
    assert len(before) == 3

    resumed = subprocess.run([str(BIN / "python"), "sweeps/xray.py", "--resume", str(run_dir)],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    trials = metrics["sweep"]["trials"]
    # every trial finished exactly once
    assert len(trials) == 4 and len({t["trial_id"] for t in trials}) == 4
    assert all(t["status"] == "done" and t["epochs_run"] == 1 for t in trials)
    # the trials scored before the kill were not retrained: same checkpoints, no new epoch rows
    for name, footprint in before.items():
        assert trial_footprint(run_dir, run_dir / "tune" / name) == footprint, name
    # the same results as the uninterrupted run, up to training noise (measured: identical)
    reference = json.loads((smoke_job / "metrics.json").read_text())

    def by_params(rows):
        return {(t["backbone"], round(t["lr"], 12), round(t["augment"], 12), t["image_size"]):
                t["val_auroc"] for t in rows}

    ours, theirs = by_params(trials), by_params(reference["sweep"]["trials"])
    assert ours.keys() == theirs.keys()
    for key, auroc in ours.items():
        assert auroc == pytest.approx(theirs[key], abs=0.02), key
    assert metrics["pile"]["n_scored"] == reference["pile"]["n_scored"]
    chosen = ("backbone", "lr", "augment", "image_size")
    assert {k: metrics["best"][k] for k in chosen} == {k: reference["best"][k] for k in chosen}
    test_auroc = metrics["model_vs_truth"]["test"]["auroc_truth"]["value"]
    assert test_auroc == pytest.approx(
        reference["model_vs_truth"]["test"]["auroc_truth"]["value"], abs=0.02)


def test_sweep_scripts_name_the_missing_dependencies_under_the_wrong_python():
    """What a job on a head started outside the virtualenv meets: a plain message, not a
    ModuleNotFoundError deep in an import (`-S`: this Python without its site-packages)."""
    for script in ("sweeps/xray.py", "sweeps/intake.py"):
        out = subprocess.run([sys.executable, "-S", script, "--smoke"], cwd=REPO,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 1, out.stderr
        assert "lacks numpy, pandas" in out.stderr and "make ray-head" in out.stderr
