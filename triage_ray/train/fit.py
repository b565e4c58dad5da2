"""Build and run the TorchTrainer for one (backbone, lr) configuration."""

from __future__ import annotations

from triage_ray.train.loop import train_loop_per_worker
from triage_ray.xray.config import XrayConfig


def train_loop_config(cfg: XrayConfig, backbone: str, lr: float) -> dict:
    return {
        "backbone": backbone, "lr": lr, "weight_decay": cfg.weight_decay, "epochs": cfg.epochs,
        "batch_size": cfg.batch_size, "pretrained": cfg.pretrained,
        "weights_file": cfg.weights_file, "seed": cfg.seed, "torch_threads": cfg.torch_threads,
    }


def build_trainer(
    cfg: XrayConfig,
    backbone: str,
    lr: float,
    shard_dir: str,
    *,
    storage_path: str,
    name: str,
    callbacks: list | None = None,
):
    """A TorchTrainer streaming the ingested shards; same `name` + `storage_path` resumes a run."""
    import ray.train
    from ray.data.expressions import col
    from ray.train.torch import TorchTrainer

    from triage_ray.data.stream import read_shards

    datasets = {
        "train": read_shards(shard_dir, split="train"),
        "heldout": read_shards(shard_dir).filter(expr=col("split") != "train"),
    }
    return TorchTrainer(
        train_loop_per_worker,
        train_loop_config=train_loop_config(cfg, backbone, lr),
        scaling_config=ray.train.ScalingConfig(
            num_workers=cfg.num_workers,
            use_gpu=cfg.use_gpu,
            resources_per_worker={"CPU": cfg.cpus_per_worker},
        ),
        datasets=datasets,
        # only the training split is sharded; every worker sees all held-out rows
        dataset_config=ray.train.DataConfig(datasets_to_split=["train"]),
        run_config=ray.train.RunConfig(
            name=name,
            storage_path=storage_path,
            callbacks=callbacks,
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=1),
            failure_config=ray.train.FailureConfig(max_failures=1),
        ),
    )
