"""Ray Tune over the training space (`xray.search`); each finished trial is judged by the SimPy model.

Ray 2.60 (Train V2): a Tune trial is a *driver function* that builds and fits a TorchTrainer; the
trainer's TuneReportCallback forwards per-epoch metrics to Tune, and the driver reports the final
operational score (throughput under the miss-rate bound) once training is done.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from triage_ray.train.reporting import EPOCH_KEY
from triage_ray.xray.config import XrayConfig
from triage_ray.xray.reference import WRITTEN
from triage_ray.xray.results import TrialRow

TUNE_DIR_NAME = "tune"
METRIC = "throughput_multiplier"  # a TrialMetrics field: what the dashboard plots first


def xray_trial(
    config: dict[str, Any], *, cfg_dict: dict[str, Any], shard_dirs: dict[int, str],
    train_storage: str,
    vocabulary: tuple[str, ...] = (), reference: pd.Series | None = None,
    label_source: str = WRITTEN, pretrained: dict[str, str] | None = None,
) -> None:
    """One Tune trial: train with `config` (backbone, lr, augment), then score it on held-out data.

    Per-epoch metrics reach Tune through the trainer's callback (a scheduler may stop the trial
    there); the final report adds the operational score and the last epoch's validation figures,
    without the epoch counter, so a scheduler never judges the final report as another epoch."""
    import ray
    import ray.tune
    from ray.tune.integration.ray_train import TuneReportCallback

    from triage_ray.train.fit import build_trainer
    from triage_ray.train.heldout import HeldOutLogits
    from triage_ray.xray.score import score_heldout

    cfg = XrayConfig.from_dict(cfg_dict)
    ctx = ray.tune.get_context()
    trial_id = ctx.get_trial_id()
    # The resolved config beside each trial's params.json (Tune's table shows only what is swept),
    # written to the experiment's storage: get_trial_dir() is a node-local staging folder on a
    # worker node (measured on a two-node cluster: missing there, and never synced back).
    trial_store = Path(train_storage).parent / TUNE_DIR_NAME / Path(ctx.get_trial_dir()).name
    trial_store.mkdir(parents=True, exist_ok=True)
    cfg.save(trial_store / "xray_config.json")
    shard_dir = shard_dirs[int(config.get("image_size") or cfg.image_size)]  # the trial's size
    trainer = build_trainer(
        cfg, config, shard_dir, vocabulary=vocabulary,
        storage_path=train_storage,
        name=f"train-{trial_id}",  # stable across Tuner.restore: the TorchTrainer resumes too
        callbacks=[TuneReportCallback()], pretrained=pretrained,
    )
    result = trainer.fit()
    scored = score_heldout(HeldOutLogits.load(result.checkpoint.path), cfg, reference=reference,
                           label_source=label_source)
    last = result.metrics or {}
    ray.tune.report({
        **scored.trial_metrics().to_dict(), "final": 1, "checkpoint_path": result.checkpoint.path,
        "val_auroc": last.get("val_auroc"), "val_loss": last.get("val_loss"),
        "epochs_run": last.get(EPOCH_KEY),
        # where it ran: this trial's driver and its (rank 0) Train worker, by Ray node id
        "trial_node_id": ray.get_runtime_context().get_node_id(), "train_node_id": last.get("node_id"),
    })


def run_sweep(cfg: XrayConfig, shard_dirs: dict[int, Path], run_dir: Path, *, resume: bool = False,
              vocabulary: tuple[str, ...] = (), reference: pd.Series | None = None,
              label_source: str = WRITTEN, pretrained: dict[str, str] | None = None):
    """The configured search (cfg.search); returns Tune's ResultGrid. Resumable with `resume`.

    shard_dirs: input size -> the labelled shards at that size (a trial reads its size's);
    vocabulary: the source's finding names (per-finding supervision); reference: the adjudicated
    studies' labels each trial's bound is certified against; pretrained: backbone -> weights file
    for init "pretrain" (`xray.pretrain.pretrain_backbones`)."""
    from ray import tune

    from triage_ray.xray.search import SEARCHES

    trainable = tune.with_resources(
        tune.with_parameters(
            xray_trial, cfg_dict=cfg.to_dict(),
            shard_dirs={int(px): str(d) for px, d in shard_dirs.items()},
            train_storage=str(run_dir / "train"), vocabulary=tuple(vocabulary),
            reference=reference, label_source=label_source, pretrained=pretrained,
        ),
        {"cpu": cfg.cpus_per_trial},
    )
    tune_path = run_dir / TUNE_DIR_NAME
    if resume and tune.Tuner.can_restore(str(tune_path)):
        tuner = tune.Tuner.restore(str(tune_path), trainable=trainable, resume_errored=True)
        return tuner.fit()
    plan = SEARCHES[cfg.search](cfg)
    tuner = tune.Tuner(
        trainable,
        param_space=plan.param_space,
        tune_config=tune.TuneConfig(max_concurrent_trials=cfg.max_concurrent_trials,
                                    **plan.tune_config),
        run_config=tune.RunConfig(name=TUNE_DIR_NAME, storage_path=str(run_dir)),
    )
    return tuner.fit()


def trial_rows(results) -> list[TrialRow]:
    """One row per trial with its final (operational) metrics; errored trials are listed too."""
    return [TrialRow.from_tune(r) for r in results]
