"""Build and run the TorchTrainer for one trial's parameters (backbone, lr, augmentation)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from triage_ray.train.heldout import HELDOUT_SPLITS, VALIDATION_SPLIT
from triage_ray.train.loop import train_loop_per_worker
from triage_ray.xray.config import XrayConfig


def weights_for(cfg: XrayConfig, init: str, backbone: str,
                pretrained: Mapping[str, str] | None) -> str | None:
    """The weights file an init starts `backbone` from (None: scratch, or timm's hub)."""
    if init == "file":
        return cfg.weights_file
    if init == "pretrain":
        if not pretrained or backbone not in pretrained:
            raise ValueError(f"init 'pretrain' for {backbone}: no pretrained weights were made for "
                             f"it (have {sorted(pretrained or {})}); the pipeline's pretrain stage "
                             "makes them for every backbone in cfg.backbones")
        return pretrained[backbone]
    return None


def train_loop_config(cfg: XrayConfig, params: Mapping[str, Any], vocabulary: Sequence[str],
                      n_train: int, pretrained: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The worker's config: the study's training settings, overridden by the trial's `params`
    (what the sweep searches: backbone, lr, augment, init); `vocabulary` is the source's finding names
    (the per-finding outputs of `supervision="multilabel"`); `n_train` training rows size the
    per-step schedule; `pretrained` maps a backbone to its weights for init "pretrain"."""
    per_worker = math.ceil(n_train / max(cfg.num_workers, 1))
    init = params.get("init") or cfg.init_choices()[0]
    return {
        "init": init, "pretrained": init != "scratch",
        "weights_file": weights_for(cfg, init, params["backbone"], pretrained),
        "finetune": cfg.finetune, "probe_epochs": cfg.probe_epochs,
        "schedule": cfg.schedule, "steps_per_epoch": max(1, math.ceil(per_worker / cfg.batch_size)),
        "backbone": params["backbone"], "lr": float(params["lr"]),
        "augment": float(params.get("augment", cfg.augment)),
        "weight_decay": cfg.weight_decay, "epochs": cfg.epochs, "batch_size": cfg.batch_size,
        "seed": cfg.seed,
        "torch_threads": cfg.torch_threads, "supervision": cfg.supervision,
        "concurrent_workers": cfg.max_concurrent_trials * cfg.num_workers,
        "findings": list(vocabulary),
        "precision": cfg.precision, "channels_last": cfg.channels_last,
    }


def build_trainer(
    cfg: XrayConfig,
    params: Mapping[str, Any],
    shard_dir: str,
    *,
    vocabulary: Sequence[str],
    storage_path: str,
    name: str,
    callbacks: list | None = None,
    pretrained: Mapping[str, str] | None = None,
):
    """A TorchTrainer streaming the ingested shards; same `name` + `storage_path` resumes a run."""
    import ray.train
    from ray.data.expressions import col
    from ray.train.torch import TorchTrainer

    from triage_ray.data.stream import read_shards, shard_splits

    # the final pass scores the validation split from its last-epoch pass, so "heldout" holds
    # only the other held-out splits (read once, after the last epoch)
    others = [s for s in HELDOUT_SPLITS if s != VALIDATION_SPLIT]
    datasets = {
        "train": read_shards(shard_dir, split="train"),
        "val": read_shards(shard_dir, split=VALIDATION_SPLIT),
        "heldout": read_shards(shard_dir).filter(expr=col("split").is_in(others)),
    }
    return TorchTrainer(
        train_loop_per_worker,
        train_loop_config={**train_loop_config(cfg, params, vocabulary,
                                               shard_splits(shard_dir).get("train", 0),
                                               pretrained), "shard_dir": str(shard_dir)},
        scaling_config=ray.train.ScalingConfig(
            num_workers=cfg.num_workers,
            use_gpu=cfg.use_gpu,
            resources_per_worker={"CPU": cfg.cpus_per_worker},
        ),
        datasets=datasets,
        # only the training split is sharded; every worker sees all validation/held-out rows
        dataset_config=ray.train.DataConfig(datasets_to_split=["train"]),
        run_config=ray.train.RunConfig(
            name=name,
            storage_path=storage_path,
            callbacks=callbacks,
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=1),
            failure_config=ray.train.FailureConfig(max_failures=1),
        ),
    )
