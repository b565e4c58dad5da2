"""Faults during training, injected for real on a real local Ray: a Train worker SIGKILLed mid-epoch
(the run resumes from its last checkpoint through FailureConfig) and a shard damaged between two
epochs (a clear error naming the file, never a hang)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from triage_ray.data.ingest import ingest_to_shards
from triage_ray.data.nih import load_nih
from triage_ray.data.schema import NIH_FINDINGS
from triage_ray.data.splits import patient_split
from triage_ray.data.stream import CorruptShardError, shard_files, unreadable_shards
from triage_ray.data.synth import generate_nih_tree
from triage_ray.train.fit import build_trainer
from triage_ray.train.heldout import HeldOutLogits
from triage_ray.xray.config import XrayConfig

PARAMS = {"backbone": "resnet10t", "lr": 1e-3, "init": "scratch"}
EPOCHS = 3
SNAPSHOT = "checkpoint_manager_snapshot.json"  # Ray Train's record of the checkpoints it accepted
TIMEOUT_S = 300


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """~1,000 training studies at 32 px: an epoch of resnet10t takes a few seconds here, long
    enough to kill a worker in the middle of one."""
    root = tmp_path_factory.mktemp("faults")
    generate_nih_tree(root / "tree", 2000, image_size=32, seed=3, parallel=False, ceiling_sample=0)
    studies = load_nih(root / "tree")
    studies["split"] = patient_split(studies, XrayConfig().splits, seed=0).to_numpy()
    ingest_to_shards(studies, root / "shards", image_size=32, parallel=False, rows_per_shard=500)
    return root / "shards", studies


def our_train_workers() -> list[int]:
    """PIDs of Ray Train worker processes of the Ray this test process started (raylet is our
    child, its workers its children): never another Ray on the machine."""
    ours = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            title = (proc / "cmdline").read_bytes().split(b"\0")[0].decode().strip()
            parent = _ppid(int(proc.name))
        except (OSError, ValueError):
            continue
        if title.startswith("ray::RayTrainWorker") and _ppid(parent) == os.getpid():
            ours.append(int(proc.name))
    return ours


def _ppid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def accepted_epochs(run_dir: Path) -> list[int]:
    """Epochs whose checkpoint Ray Train has registered (what a restart resumes from)."""
    try:
        snap = json.loads((run_dir / SNAPSHOT).read_text())
    except (OSError, ValueError):  # not written yet, or caught mid-write
        return []
    return [r["metrics"]["epoch"] for r in snap.get("checkpoint_results", [])]


def after_first_checkpoint(run_dir: Path, action, seen: dict) -> threading.Thread:
    """Run `action` once Ray Train has accepted the first epoch's checkpoint, a moment into the
    next epoch; `seen` records what was accepted at that moment."""
    def watch() -> None:
        deadline = time.time() + TIMEOUT_S
        while time.time() < deadline:
            if accepted_epochs(run_dir):
                time.sleep(0.5)  # into epoch 1 (an epoch takes several seconds)
                seen["accepted"] = accepted_epochs(run_dir)
                seen["result"] = action()
                return
            time.sleep(0.1)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def fit_with_deadline(trainer):
    """trainer.fit() in a thread: a hang fails the test instead of blocking the suite."""
    out: dict = {}

    def run() -> None:
        try:
            out["result"] = trainer.fit()
        except Exception as err:  # the test inspects it
            out["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(TIMEOUT_S)
    if thread.is_alive():
        pytest.fail(f"training neither finished nor failed within {TIMEOUT_S} s (a hang)")
    return out


@pytest.mark.slow
def test_worker_killed_mid_epoch_resumes_from_its_checkpoint(ray_local, shards, tmp_path):
    shard_dir, studies = shards
    cfg = XrayConfig.from_dict({"epochs": EPOCHS, "batch_size": 16, "torch_threads": 1})
    trainer = build_trainer(cfg, PARAMS, str(shard_dir), vocabulary=NIH_FINDINGS,
                            storage_path=str(tmp_path), name="run")

    def kill() -> list[int]:
        pids = our_train_workers()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return pids

    seen: dict = {}
    watcher = after_first_checkpoint(tmp_path / "run", kill, seen)
    out = fit_with_deadline(trainer)
    watcher.join(5)
    assert "error" not in out, out.get("error")
    assert len(seen["result"]) == 1, f"expected one Train worker to kill, found {seen['result']}"
    assert seen["accepted"] == [0]  # killed during epoch 1: only epoch 0 was checkpointed
    result = out["result"]
    meta = json.loads((Path(result.checkpoint.path) / "meta.json").read_text())
    # the training log: every epoch once, one resume, from epoch 0's checkpoint
    assert [h["epoch"] for h in meta["history"]] == list(range(EPOCHS))
    assert [r["resumed_after_epoch"] for r in meta["restarts"]] == [0]
    assert result.metrics["epoch_done"] == EPOCHS
    held = HeldOutLogits.load(result.checkpoint.path)
    for split in ("calib", "select", "test"):  # every held-out study exactly once
        expected = studies.loc[studies["split"] == split, "study_id"]
        assert sorted(held.study_id[split]) == sorted(expected), split
        assert np.isfinite(held.logit[split]).all()


@pytest.mark.slow
def test_shard_damaged_between_epochs_fails_naming_the_file(ray_local, shards, tmp_path):
    shard_dir, _ = shards
    victim = Path(shard_files(shard_dir)[1])
    original = victim.read_bytes()
    cfg = XrayConfig.from_dict({"epochs": EPOCHS, "batch_size": 16, "torch_threads": 1})
    trainer = build_trainer(cfg, PARAMS, str(shard_dir), vocabulary=NIH_FINDINGS,
                            storage_path=str(tmp_path), name="run")
    seen: dict = {}
    watcher = after_first_checkpoint(
        tmp_path / "run", lambda: victim.write_bytes(original[: len(original) // 2]), seen)
    try:
        out = fit_with_deadline(trainer)
        watcher.join(5)
        assert seen["accepted"] == [0], "the shard should be damaged after epoch 0"
        assert [f for f, _ in unreadable_shards(shard_dir)] == [str(victim)]
    finally:
        victim.write_bytes(original)  # the module's other tests share these shards
    assert "error" in out, "training on a damaged shard must not succeed"
    message = str(out["error"])
    assert victim.name in message and CorruptShardError.__name__ in message, message[-3000:]
    assert unreadable_shards(shard_dir) == []
