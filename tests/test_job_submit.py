"""`ray job submit` of the smoke sweep to a real two-node Ray cluster on this machine, started as the
README says (`make ray-head`, `make ray-worker`, from a shell without the virtualenv on PATH), and
the local run whose driver was killed mid-sweep and resumed with `--resume` (conftest.py) held
against it.

This is also the end-to-end check of the X-ray pipeline: the job must write every artifact, and the
worklist must hold each pile study exactly once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from shell_runs import (
    BIN,
    NODE_LISTENERS,
    PLACEMENT,
    REPO,
    Cluster,
    alive_nodes,
    free_port,
    listener_flags,
    plain_shell_env,
    start_group,
    stop_group,
    trial_footprint,
    wait_for,
)

from triage_ray.common.paths import DATA_DIR_ENV
from triage_ray.common.ray_session import CLUSTER_POINTER


def _forget_head(gcs_port: int) -> None:
    """A head stopped by signal leaves Ray's "current cluster" file naming it; a later bare
    `ray.init()` on this machine would try to join the dead head. Remove the file if it is ours."""
    pointer = CLUSTER_POINTER
    if pointer.exists() and pointer.read_text().strip().endswith(f":{gcs_port}"):
        pointer.unlink()


@pytest.fixture(scope="module")
def two_node_cluster(tmp_path_factory):
    """A head and a second node on this machine, 2 CPUs each, started the README's way from a plain
    shell. The second node keeps its own Ray temp folder, as a separate machine would (sharing the
    head's also races on unpacking the job's working directory: measured, the job then fails to
    import the package)."""
    env = plain_shell_env()
    gcs, dash = free_port(), free_port()
    head_flags = [f"--port={gcs}", "--num-cpus=2", "--include-dashboard=true",
                  f"--dashboard-port={dash}", "--dashboard-host=127.0.0.1",
                  *listener_flags(*NODE_LISTENERS, "ray-client-server-port"), "--block"]
    head = start_group(["make", "-s", "ray-head", f"RAY_HEAD_ARGS={' '.join(head_flags)}"], env)
    address = f"http://127.0.0.1:{dash}"
    worker = None
    try:
        wait_for(lambda: len(alive_nodes(address, env)) == 1, "the head node", head)
        worker_flags = ["--num-cpus=2", f"--temp-dir={tmp_path_factory.mktemp('node2')}",
                        *listener_flags(*NODE_LISTENERS), "--block"]
        worker = start_group(["make", "-s", "ray-worker", f"RAY_HEAD=127.0.0.1:{gcs}",
                         f"RAY_WORKER_ARGS={' '.join(worker_flags)}"], env)
        wait_for(lambda: len(alive_nodes(address, env)) == 2, "the second node", worker)
        nodes = alive_nodes(address, env)
        yield Cluster(address, env, next(n["node_id"] for n in nodes if n["is_head_node"]),
                      next(n["node_id"] for n in nodes if not n["is_head_node"]))
    finally:
        for proc in (worker, head):
            if proc is not None:
                stop_group(proc)
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


@pytest.mark.slow
def test_sweep_driver_killed_mid_sweep_resumes_with_every_trial_once(resumed_dicom_run, smoke_job):
    """The README's local run, SIGKILLed (with the Ray it started) once three of four trials are
    scored, then `sweeps/xray.py --resume <run>` (the `resumed_dicom_run` fixture; its pile is
    DICOM, which no trial reads); compared with the uninterrupted job above."""
    run_dir, before = resumed_dicom_run.run_dir, resumed_dicom_run.scored_before_kill
    assert len(before) == 3
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
