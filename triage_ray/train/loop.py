"""The Ray Train worker function: fine-tune one backbone, checkpoint each epoch, resume if asked.

Data arrives as two Ray Datasets: `train` (split across workers) and `heldout` (the calib, select
and test rows, whole on every worker). After the last epoch rank 0 predicts `heldout` in one pass and
writes the logits per split into the final checkpoint (`heldout.npz`): calibration and threshold
selection never see training data, and the held-out images are read once, not once per epoch.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from triage_ray.train.heldout import HELDOUT_FILE, HELDOUT_SPLITS

MODEL_FILE = "model.pt"
META_FILE = "meta.json"


def _predict(model, shard, mean: float, std: float, batch_size: int) -> dict[str, dict[str, np.ndarray]]:
    """Logits for every row of a (non-split) dataset shard, grouped by its `split` column."""
    from triage_ray.train.tensors import images_to_tensor

    cols: dict[str, list[np.ndarray]] = {"study_id": [], "label": [], "logit": [], "split": []}
    model.eval()
    with torch.no_grad():
        for batch in shard.iter_batches(batch_size=batch_size, batch_format="numpy"):
            out = model(images_to_tensor(batch, mean, std)).squeeze(1)  # (B,)
            cols["logit"].append(out.numpy().astype(np.float32))
            cols["study_id"].append(batch["study_id"].astype(str))
            cols["label"].append(batch["label"].astype(np.int8))
            cols["split"].append(batch["split"].astype(str))
    flat = {k: np.concatenate(v) for k, v in cols.items()}
    return {
        s: {k: flat[k][flat["split"] == s] for k in ("study_id", "label", "logit")}
        for s in HELDOUT_SPLITS
    }


def _val_metrics(pred: dict[str, np.ndarray]) -> dict[str, float]:
    from triage_ray.calibrate.metrics import auroc
    from triage_ray.common.stats import sigmoid

    y = pred["label"].astype(np.float32)
    z = torch.from_numpy(pred["logit"])
    loss = F.binary_cross_entropy_with_logits(z, torch.from_numpy(y)).item()
    return {"val_loss": loss, "val_auroc": float(auroc(y, sigmoid(pred["logit"])))}


def _save_checkpoint(path: Path, model, optimizer, epoch: int, meta: dict[str, Any]) -> None:
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}
    torch.save(state, path / MODEL_FILE)
    (path / META_FILE).write_text(json.dumps(meta, indent=2))


def train_loop_per_worker(cfg: dict[str, Any]) -> None:
    """cfg keys: backbone, lr, weight_decay, epochs, batch_size, pretrained, weights_file, seed,
    torch_threads."""
    import ray.train
    import ray.train.torch

    from triage_ray.models import create_backbone, grayscale_normalisation
    from triage_ray.train.tensors import images_to_tensor

    torch.manual_seed(cfg["seed"])
    # Ray gives a 1-CPU worker OMP_NUM_THREADS=1; use the cores we were sized for instead.
    torch.set_num_threads(int(cfg.get("torch_threads") or os.cpu_count() or 1))
    model = create_backbone(
        cfg["backbone"], pretrained=cfg["pretrained"], weights_file=cfg.get("weights_file")
    )
    mean, std = grayscale_normalisation(model)
    model = ray.train.torch.prepare_model(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    epochs = int(cfg["epochs"])
    # cosine decay by epoch: the number of steps per epoch is not known up front when streaming
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda e: 0.5 * (1 + math.cos(math.pi * e / max(epochs, 1)))
    )
    start_epoch = 0
    checkpoint = ray.train.get_checkpoint()
    if checkpoint:  # resume after a failure or a restored sweep
        with checkpoint.as_directory() as d:
            state = torch.load(Path(d) / MODEL_FILE, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch = state["epoch"] + 1
        for _ in range(start_epoch):
            scheduler.step()

    ctx = ray.train.get_context()
    train_shard = ray.train.get_dataset_shard("train")
    meta = {
        "backbone": cfg["backbone"], "mean": mean, "std": std, "lr": cfg["lr"],
        "pretrained": cfg["pretrained"], "epochs": epochs,
    }
    for epoch in range(start_epoch, epochs):
        model.train()
        total, n = 0.0, 0
        for batch in train_shard.iter_batches(
            batch_size=cfg["batch_size"], batch_format="numpy", local_shuffle_buffer_size=2048,
            local_shuffle_seed=cfg["seed"] + epoch,
        ):
            x = images_to_tensor(batch, mean, std)  # (B, 1, H, W)
            y = torch.from_numpy(batch["label"].astype(np.float32))  # (B,)
            loss = F.binary_cross_entropy_with_logits(model(x).squeeze(1), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
            n += len(y)
        scheduler.step()
        metrics: dict[str, Any] = {"epoch": epoch, "train_loss": total / max(n, 1), "n_train": n}
        if ctx.get_world_rank() != 0:
            ray.train.report(metrics)
            continue
        net = model.module if hasattr(model, "module") else model
        with tempfile.TemporaryDirectory() as tmp:
            _save_checkpoint(Path(tmp), net, optimizer, epoch, meta)
            if epoch == epochs - 1:
                preds = _predict(net, ray.train.get_dataset_shard("heldout"), mean, std, 256)
                metrics.update(_val_metrics(preds["calib"]))
                flat = {f"{s}_{k}": v for s, p in preds.items() for k, v in p.items()}
                np.savez(Path(tmp) / HELDOUT_FILE, **flat)
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp))
