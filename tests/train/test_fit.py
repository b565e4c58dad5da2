"""A real TorchTrainer on real shards: held-out logits per split, and resume from a checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest

from triage_ray.calibrate.metrics import auroc
from triage_ray.common.stats import sigmoid
from triage_ray.data.ingest import ingest_to_shards
from triage_ray.data.nih import load_nih
from triage_ray.data.schema import NIH_FINDINGS
from triage_ray.data.splits import patient_split
from triage_ray.data.synth import generate_nih_tree
from triage_ray.train.fit import build_trainer
from triage_ray.train.heldout import HeldOutLogits
from triage_ray.xray.config import XrayConfig

PARAMS = {"backbone": "mobilenetv3_small_050", "lr": 1e-3, "init": "scratch"}


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("gen")
    generate_nih_tree(root / "tree", 160, image_size=32, seed=3, parallel=False, ceiling_sample=0)
    studies = load_nih(root / "tree")
    cfg = XrayConfig()
    studies["split"] = patient_split(studies, cfg.splits, seed=0).to_numpy()
    ingest_to_shards(studies, root / "shards", image_size=32, parallel=False)
    return root / "shards", studies


# the Train run below computes as a GPU profile run does (autocast to bfloat16, channels-last;
# a CPU runs both): the float32 path is every smoke study's
MIXED = {"precision": "bf16", "channels_last": True}


@pytest.mark.slow
def test_fit_writes_heldout_logits_and_resumes(ray_local, shards, tmp_path):
    shard_dir, studies = shards
    cfg = XrayConfig.from_dict({"epochs": 1, "batch_size": 32, "torch_threads": 1, **MIXED})
    trainer = build_trainer(cfg, PARAMS, str(shard_dir), vocabulary=NIH_FINDINGS,
                            storage_path=str(tmp_path), name="run")
    result = trainer.fit()
    held = HeldOutLogits.load(result.checkpoint.path)
    for split in ("calib", "select", "test"):
        expected = studies.loc[studies["split"] == split].set_index("study_id")["label"]
        got = held.study_id[split]
        assert sorted(got) == sorted(expected.index), split  # every held-out study exactly once
        assert np.array_equal(held.label[split], expected.loc[got].to_numpy()), split
        assert np.isfinite(held.logit[split]).all()
    assert result.metrics["n_train"] == int((studies["split"] == "train").sum())
    assert 0 <= result.metrics["val_auroc"] <= 1 and result.metrics["val_loss"] > 0
    # the calib logits are the last epoch's validation pass (the final model's, not re-predicted)
    y = held.label["calib"].astype(float)
    assert auroc(y, sigmoid(held.logit["calib"])) == pytest.approx(result.metrics["val_auroc"])

    # Same name + storage: the new trainer starts from the saved epoch instead of from scratch.
    cfg2 = XrayConfig.from_dict({"epochs": 2, "batch_size": 32, "torch_threads": 1, **MIXED})
    resumed = build_trainer(cfg2, PARAMS, str(shard_dir), vocabulary=NIH_FINDINGS,
                            storage_path=str(tmp_path), name="run").fit()
    assert resumed.metrics["epoch"] == 1
    meta = json.loads((tmp_path / "run").joinpath(
        resumed.checkpoint.path.split("/")[-1], "meta.json").read_text())
    assert meta["backbone"] == "mobilenetv3_small_050"
    assert (meta["precision"], meta["channels_last"]) == ("bf16", True)


@pytest.mark.slow
def test_two_workers_share_the_training_split_and_resume_from_their_checkpoint(ray_local, shards,
                                                                             tmp_path):
    """Distributed data parallel (gloo, 2 CPU workers): each worker trains on its part of the
    training split, rank 0 scores every held-out study exactly once, and a checkpoint the two
    wrote (the unwrapped model's weights) resumes under DDP again, then on one worker."""
    shard_dir, studies = shards
    two = {"num_workers": 2, "cpus_per_worker": 0.5, "batch_size": 32, "torch_threads": 1}
    result = build_trainer(XrayConfig.from_dict({**two, "epochs": 1}), PARAMS, str(shard_dir),
                           vocabulary=NIH_FINDINGS, storage_path=str(tmp_path), name="ddp").fit()
    n_train = int((studies["split"] == "train").sum())
    assert 0 < result.metrics["n_train"] < n_train  # rank 0's part of the split, not all of it
    held = HeldOutLogits.load(result.checkpoint.path)
    for split in ("calib", "select", "test"):
        expected = studies.loc[studies["split"] == split, "study_id"]
        assert sorted(held.study_id[split]) == sorted(expected), split
        assert np.isfinite(held.logit[split]).all()

    resumed = build_trainer(XrayConfig.from_dict({**two, "epochs": 2}), PARAMS, str(shard_dir),
                            vocabulary=NIH_FINDINGS, storage_path=str(tmp_path), name="ddp").fit()
    assert resumed.metrics["epoch"] == 1
    meta = json.loads((tmp_path / "ddp").joinpath(
        resumed.checkpoint.path.split("/")[-1], "meta.json").read_text())
    assert [r["resumed_after_epoch"] for r in meta["restarts"]] == [0]

    # ... and on one worker: what the two wrote is the plain model's weights, not DDP's
    one = build_trainer(XrayConfig.from_dict({"epochs": 3, "batch_size": 32, "torch_threads": 1}),
                        PARAMS, str(shard_dir), vocabulary=NIH_FINDINGS,
                        storage_path=str(tmp_path), name="ddp").fit()
    assert one.metrics["epoch"] == 2 and one.metrics["n_train"] == n_train
    meta = json.loads((tmp_path / "ddp").joinpath(
        one.checkpoint.path.split("/")[-1], "meta.json").read_text())
    assert [r["resumed_after_epoch"] for r in meta["restarts"]] == [0, 1]


@pytest.mark.slow
def test_fit_per_finding_supervision_from_pretrained_weights_probe_then_full(ray_local, shards,
                                                                            tmp_path):
    """multilabel + augmentation from init "pretrain" with a linear probe first: 15 outputs
    trained, validation reported after each epoch, the first epoch head-only, the held-out logits
    are the abnormal output's."""
    import torch

    from triage_ray.models import create_backbone

    shard_dir, studies = shards
    weights = tmp_path / "pretrained.pth"
    torch.save(create_backbone("mobilenetv3_small_050", num_outputs=15).state_dict(), weights)
    cfg = XrayConfig.from_dict({"epochs": 2, "batch_size": 32, "torch_threads": 1,
                                "supervision": "multilabel", "finetune": "probe_then_full"})
    result = build_trainer(cfg, {**PARAMS, "augment": 0.5, "init": "pretrain"}, str(shard_dir),
                           vocabulary=NIH_FINDINGS, storage_path=str(tmp_path), name="ml",
                           pretrained={"mobilenetv3_small_050": str(weights)}).fit()
    # every epoch's report carries validation (Tune's per-trial progress shows both: see
    # tests/xray/test_pipeline_smoke.py); the last one has no scheduler time (train.reporting)
    assert result.metrics["epoch_done"] == 2 and 0 <= result.metrics["val_auroc"] <= 1
    assert "epochs_before_last" not in result.metrics
    meta = json.loads((tmp_path / "ml").joinpath(
        result.checkpoint.path.split("/")[-1], "meta.json").read_text())
    assert meta["n_outputs"] == 1 + len(NIH_FINDINGS) and meta["augment"] == 0.5
    assert meta["init"] == "pretrain" and meta["weights_file"] == str(weights)
    assert [h["head_only"] for h in meta["history"]] == [1, 0]  # probe, then every layer
    held = HeldOutLogits.load(result.checkpoint.path)
    assert held.logit["test"].ndim == 1
