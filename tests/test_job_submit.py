"""`ray job submit` of the smoke sweep to a real two-node Ray cluster on this machine, started as the
README says (`make ray-head`, `make ray-worker`, from a shell without the virtualenv on PATH), its
driver killed mid-sweep and the run resumed by a second job (`dicom_job` in conftest.py).

This is also the end-to-end check of the X-ray pipeline from a shell: the job must write every
artifact, and the worklist must hold each pile study exactly once.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from report_intervals import run_interval_violations
from shell_runs import REPO, trial_footprint

from triage_ray.xray.config import XrayConfig
from triage_ray.xray.search import SEARCHES, VAL_METRIC


def trial_number(trial_dir: Path) -> int:
    """Tune's running number of a trial (1 for the first suggested), from its folder name."""
    return int(re.match(r"xray_trial_[0-9a-f]+_(\d+)_", trial_dir.name).group(1))


def searcher_replay(run_dir: Path) -> dict[int, dict]:
    """What an uninterrupted sweep would have tried: the run's own search plan (seeded Optuna),
    asked for each trial in turn and told each trial's final result from the run's records.
    Trial number -> the configuration the searcher proposes for it. A resumed sweep whose
    searcher restarted from nothing would propose trial 1's configuration again."""
    cfg = XrayConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    plan = SEARCHES[cfg.search](cfg)
    search = plan.tune_config["search_alg"]
    search.set_search_properties(VAL_METRIC, "max", plan.param_space)
    finals = {}
    for result in (run_dir / "tune").glob("*/result.json"):
        finals[trial_number(result.parent)] = json.loads(result.read_text().splitlines()[-1])
    proposed = {}
    for number in sorted(finals):
        proposed[number] = search.suggest(f"replay-{number}")
        search.on_trial_complete(f"replay-{number}", finals[number])
    return proposed


@pytest.mark.slow
def test_smoke_sweep_runs_as_a_ray_job_on_two_nodes(dicom_job, smoke_data_dir, smoke_pretrain):
    run_dir = dicom_job.run_dir
    metrics = json.loads((run_dir / "metrics.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    trials = metrics["sweep"]["trials"]
    # where each trial ran: its driver on one node and its Train worker on the other (before the
    # kill and after the resume alike)
    nodes = {dicom_job.head_id, dicom_job.worker_id}
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
    # the default init is "pretrain": every backbone pretrained (by this run, or by an earlier
    # smoke run sharing the cache), every trial from it, the weights in the data folder the job
    # was given (shared storage)
    assert set(metrics["pretrain"]) == set(config["backbones"])
    for p in metrics["pretrain"].values():
        assert Path(p["weights"]).is_file() and p["weights"].startswith(str(smoke_data_dir))
    # resnet10t's are the ones `sweeps/pretrain.py --smoke` made before the job: one cache entry
    assert Path(metrics["pretrain"]["resnet10t"]["weights"]).parent == smoke_pretrain.out_dir
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
    assert len(worklist) == metrics["pile"]["n_scored"] > 0
    assert worklist["study_id"].is_unique
    assert set(worklist["bucket"]) <= {0, 1, 2, 3}  # 3: not triaged (the intended-use gate)
    gated = worklist["bucket_name"] == "not_triaged"
    assert (worklist["gate_reason"] != "").eq(gated).all()  # refused exactly when a reason is given
    assert gated.sum() == metrics["pile"]["gate"]["n_not_triaged"] > 0  # the export's probes
    for split in ("before", "after"):
        ece = metrics["calibration"][split]["ece"]
        assert ece["ci_low"] <= ece["value"] <= ece["ci_high"]
    assert run_interval_violations(run_dir) == {}  # every figure inside its own interval


@pytest.mark.slow
def test_sweep_driver_killed_mid_sweep_resumes_with_every_trial_once(dicom_job):
    """The job's driver, SIGKILLed once three of four trials are scored (the cluster stays up),
    then a second job `sweeps/xray.py --resume <run>` (the `dicom_job` fixture): every trial
    once, the scored ones not retrained, and the trials an uninterrupted sweep would have run."""
    run_dir, before = dicom_job.run_dir, dicom_job.scored_before_kill
    assert len(before) == 3
    assert "succeeded" not in dicom_job.job_log.read_text()  # the first job died with its driver
    metrics = json.loads((run_dir / "metrics.json").read_text())
    trials = metrics["sweep"]["trials"]
    # every trial finished exactly once
    assert len(trials) == 4 and len({t["trial_id"] for t in trials}) == 4
    assert all(t["status"] == "done" and t["epochs_run"] == 1 for t in trials)
    # the trials scored before the kill were not retrained: same checkpoints, no new epoch rows
    for name, footprint in before.items():
        assert trial_footprint(run_dir, run_dir / "tune" / name) == footprint, name
    # the searcher resumed where it stopped: each trial's configuration is the one the seeded
    # search proposes given the results before it (a restarted searcher repeats trial 1's)
    chosen = ("backbone", "lr", "augment", "init", "image_size")
    ran = {}
    for result in (run_dir / "tune").glob("*/result.json"):
        ran[trial_number(result.parent)] = json.loads(result.read_text().splitlines()[0])["config"]
    proposed = searcher_replay(run_dir)
    assert sorted(ran) == sorted(proposed) == [1, 2, 3, 4]
    for number, config in ran.items():
        assert {k: config[k] for k in chosen} == {k: proposed[number][k] for k in chosen}, number
    assert len({tuple(c[k] for k in chosen) for c in ran.values()}) == 4


def test_sweep_scripts_name_the_missing_dependencies_under_the_wrong_python():
    """What a job on a head started outside the virtualenv meets: a plain message, not a
    ModuleNotFoundError deep in an import (`-S`: this Python without its site-packages)."""
    for script in ("sweeps/xray.py", "sweeps/intake.py"):
        out = subprocess.run([sys.executable, "-S", script, "--smoke"], cwd=REPO,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 1, out.stderr
        assert "lacks numpy, pandas" in out.stderr and "make ray-head" in out.stderr
