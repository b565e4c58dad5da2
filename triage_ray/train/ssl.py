"""Self-supervised pretraining (SimCLR, with lightly's projection head and NT-Xent loss) as a Ray
Train worker: unlabeled radiographs in, a backbone state dict out. No label is read.

Why SimCLR and these views: a site's unlabeled pile is the one large image set it always has.
Two views of each study are drawn with the chest augmentation at full strength (rotation, shift,
scale, exposure; never a mirror, since laterality matters); the network learns to tell a study's
two views apart from the other studies' views in the batch. The backbone is built with
`num_outputs=0` (timm: pooled features, no classifier), so its weights load into a classifier of
any head size (`models.weights`).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from triage_ray.train.loop import META_FILE, MODEL_FILE  # one checkpoint layout for both workers


def simclr_epoch(backbone, head, batches, optimizer, loss_fn, *, mean: float, std: float,
                 strength: float, generator: torch.Generator) -> tuple[float, int]:
    """One SimCLR epoch over [0, 1] (B, 1, H, W) image batches; returns (mean loss, studies)."""
    from triage_ray.train.augment import chest_augment
    from triage_ray.train.tensors import model_device, normalise

    backbone.train()
    head.train()
    device = model_device(backbone)
    total, n = 0.0, 0
    for x in batches:
        if len(x) < 2:  # NT-Xent needs another study in the batch as a negative
            continue
        # views drawn on the CPU (the generator is a CPU one), then moved to the model's device
        v1 = normalise(chest_augment(x, strength, generator).to(device, non_blocking=True), mean, std)
        v2 = normalise(chest_augment(x, strength, generator).to(device, non_blocking=True), mean, std)
        loss = loss_fn(head(backbone(v1)), head(backbone(v2)))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(x)
        n += len(x)
    return total / max(n, 1), n


def ssl_loop_per_worker(cfg: dict[str, Any]) -> None:
    """cfg keys: backbone, lr, weight_decay, epochs, batch_size, augment, temperature, seed,
    torch_threads. The "train" dataset holds the unlabeled shards (their label column is unread)."""
    import ray.train
    import ray.train.torch
    from lightly.loss import NTXentLoss
    from lightly.models.modules import SimCLRProjectionHead

    from triage_ray.models import create_backbone, grayscale_normalisation
    from triage_ray.train.tensors import images_to_unit

    torch.manual_seed(cfg["seed"])
    torch.set_num_threads(int(cfg.get("torch_threads") or os.cpu_count() or 1))
    backbone = create_backbone(cfg["backbone"], num_outputs=0)
    mean, std = grayscale_normalisation(backbone)
    head = SimCLRProjectionHead(backbone.num_features, 256, 64)
    device = ray.train.torch.get_device()  # the worker's GPU when use_gpu, else the CPU
    backbone, head = backbone.to(device), head.to(device)
    params = list(backbone.parameters()) + list(head.parameters())
    optimizer = torch.optim.AdamW(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg["epochs"])
    loss_fn = NTXentLoss(temperature=cfg["temperature"])
    start, history = 0, []
    checkpoint = ray.train.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as d:
            state = torch.load(Path(d) / MODEL_FILE, map_location="cpu", weights_only=True)
            history = json.loads((Path(d) / META_FILE).read_text())["history"]
        backbone.load_state_dict(state["model"])
        head.load_state_dict(state["head"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start = state["epoch"] + 1
    shard = ray.train.get_dataset_shard("train")
    generator = torch.Generator()
    for epoch in range(start, cfg["epochs"]):
        generator.manual_seed(cfg["seed"] * 1000 + epoch)
        batches = (images_to_unit(b) for b in shard.iter_batches(
            batch_size=cfg["batch_size"], batch_format="numpy", local_shuffle_buffer_size=4096,
            local_shuffle_seed=cfg["seed"] + epoch))
        loss, n = simclr_epoch(backbone, head, batches, optimizer, loss_fn, mean=mean, std=std,
                               strength=cfg["augment"], generator=generator)
        scheduler.step()
        history.append({"epoch_done": epoch + 1, "train_loss": loss, "n_train": n})
        with tempfile.TemporaryDirectory() as tmp:
            torch.save({"model": backbone.state_dict(), "head": head.state_dict(),
                        "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                        "epoch": epoch}, Path(tmp) / MODEL_FILE)
            (Path(tmp) / META_FILE).write_text(json.dumps({"history": history,
                                                            "backbone": cfg["backbone"]}))
            ray.train.report(history[-1], checkpoint=ray.train.Checkpoint.from_directory(tmp))


def build_ssl_trainer(cfg: dict[str, Any], shard_dir: str, *, storage_path: str, name: str,
                      cpus_per_worker: float = 0.5, use_gpu: bool = False):
    """A one-worker TorchTrainer running `ssl_loop_per_worker` over every row of `shard_dir`
    (on one GPU with `use_gpu`)."""
    import ray.train
    from ray.train.torch import TorchTrainer

    from triage_ray.data.stream import read_shards

    return TorchTrainer(
        ssl_loop_per_worker, train_loop_config=cfg,
        scaling_config=ray.train.ScalingConfig(num_workers=1, use_gpu=use_gpu,
                                               resources_per_worker={"CPU": cpus_per_worker}),
        datasets={"train": read_shards(shard_dir)},
        run_config=ray.train.RunConfig(
            name=name, storage_path=storage_path,
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=1),
            failure_config=ray.train.FailureConfig(max_failures=1)),
    )
