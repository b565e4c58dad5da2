"""Ray wiring: Ray Tune runs one trial per setup, each a Ray Train run fed by Ray Data.

One Tune trial = one setup (e.g. "mtl_fixed_0.5": the weight grid is a Tune grid). The trial is a
driver function (Train V2 pattern, see shared notes) that fits a TorchTrainer or XGBoostTrainer
whose single worker trains every data setting x training size x seed in turn: Train costs
10-15 s to start on an idle laptop (minutes on a busy one), so one start is shared by all of them.
After each fit the worker reports metrics plus a checkpoint holding the validation and test
logits; Tune's TuneReportCallback forwards both, and `collect.py` reads the checkpoints back.

XGBoost runs in Ray Train's XGBoostTrainer (1 worker; more workers would train data-parallel but
would then need the text vocabulary fitted before sharding, which is why it is fitted on the
worker's full shard here). The fit itself is plain `xgboost.train`, as the V2 trainer expects.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from triage_ray.intake.config import IntakeConfig
from triage_ray.intake.schema import TASKS
from triage_ray.intake.setups import Setup
from triage_ray.intake.streams import ids_column, load_rows, mask_column, select


def _report(metrics: dict[str, Any], arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    import ray.train

    with tempfile.TemporaryDirectory() as d:
        np.savez_compressed(Path(d) / "predictions.npz", **arrays)
        (Path(d) / "log.json").write_text(json.dumps(meta))
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(d))


def _prefixed(prefix: str, preds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {f"{prefix}_{k}": v for k, v in preds.items()}


def _tensors(rows: dict[str, np.ndarray], size: int) -> dict[str, Any]:
    """The model inputs of one training size as int64 tensors (B, L) / (B,)."""
    import torch

    cols = {"input_ids": ids_column(size), "attention_mask": mask_column(size),
            "record_id": "record_id", **{t: t for t in TASKS}}
    return {k: torch.from_numpy(np.ascontiguousarray(rows[c]).astype(np.int64))
            for k, c in cols.items()}


def transformer_worker_loop(config: dict[str, Any]) -> None:
    """Ray Train worker: stream the study's rows in once; then for each setting, training size
    and seed fit, predict validation and test, and report (metrics + a logits checkpoint)."""
    import ray.train
    import torch

    from triage_ray.intake.models.multitask import multitask_transformer, single_task_transformer
    from triage_ray.intake.models.transformer import encoder_config
    from triage_ray.intake.train import epochs_for, fit_transformer, memory_batches, predict_logits
    from triage_ray.intake.weighting import create_weighting

    cfg = IntakeConfig.from_dict(config["study"])
    setup = Setup.from_key(config["setup"])
    torch.set_num_threads(cfg.torch_threads)
    rows = load_rows(ray.train.get_dataset_shard("records"))  # one streamed pass
    for setting, size in ((s, z) for s in config["settings"] for z in cfg.train_sizes):
        train = _tensors(select(rows, setting, "train", size), size)
        evals = select(rows, setting, "eval")
        split = {name: _tensors({k: v[evals["split"] == name] for k, v in evals.items()}, size)
                 for name in ("val", "test")}
        enc = encoder_config(config["vocab"][setting][str(size)], cfg.hidden, cfg.layers, cfg.heads,
                             cfg.intermediate, cfg.max_len, cfg.dropout)
        epochs = epochs_for(size, cfg.samples_per_run, cfg.min_epochs, cfg.max_epochs)
        for seed in range(cfg.seeds):
            torch.manual_seed(1000 * seed + size)  # same init for every setup at (size, seed)
            if setup.kind == "single":
                model = single_task_transformer(enc, setup.task)  # type: ignore[arg-type]
            else:
                model = multitask_transformer(enc)
            weighting = create_weighting(setup.weighting or "fixed", model.tasks,
                                         weight=setup.weight)
            log = fit_transformer(
                model, weighting,
                partial(memory_batches, train, batch_size=cfg.batch_size, seed=seed),
                epochs=epochs, steps_per_epoch=math.ceil(size / cfg.batch_size), lr=cfg.lr,
                weight_decay=cfg.weight_decay,
                grad_cos_every=cfg.grad_cos_every if setup.kind == "multitask" else 0)
            t0 = time.perf_counter()
            arrays: dict[str, np.ndarray] = {}
            for name, data in split.items():
                preds = predict_logits(model, memory_batches(data, 0, batch_size=512, seed=0,
                                                             shuffle=False))
                arrays |= _prefixed(name, preds)
            meta = {"setup": setup.key, "setting": setting, "size": size, "seed": seed,
                    "epochs": log.epochs, "steps": log.steps, "fit_wall_s": log.wall_s,
                    "fit_cpu_s": log.cpu_s,
                    "predict_wall_s": time.perf_counter() - t0, "epoch_loss": log.epoch_loss,
                    "grad_cosine": log.grad_cosine, "task_weights": log.task_weights}
            _report({k: meta[k] for k in ("setting", "size", "seed", "fit_wall_s", "fit_cpu_s")}
                    | {"final_loss": log.epoch_loss[-1] if log.epoch_loss else float("nan")},
                    arrays, meta)


def xgb_worker_loop(config: dict[str, Any]) -> None:
    """Ray Train worker (XGBoostTrainer): one XGBoost model per task, per size and seed."""
    import ray.train

    from triage_ray.intake.features import TabularFeaturizer
    from triage_ray.intake.models.xgb import XGBTaskModel

    cfg = IntakeConfig.from_dict(config["study"])
    rows = load_rows(ray.train.get_dataset_shard("records"))  # one streamed pass
    raw = [c for c, v in rows.items() if v.ndim == 1]
    for setting, size in ((s, z) for s in config["settings"] for z in cfg.train_sizes):
        evals = pd.DataFrame({c: v for c, v in select(rows, setting, "eval").items() if c in raw})
        val, test = (evals[evals["split"] == s].reset_index(drop=True) for s in ("val", "test"))
        train = pd.DataFrame({c: v for c, v in select(rows, setting, "train", size).items()
                              if c in raw})
        feats = TabularFeaturizer(cfg.xgb_text_features).fit(train)  # training split only
        X = {n: feats.transform(d) for n, d in (("train", train), ("val", val), ("test", test))}
        for seed in range(cfg.seeds):
            arrays: dict[str, np.ndarray] = {"val_record_id": val["record_id"].to_numpy(),
                                             "test_record_id": test["record_id"].to_numpy()}
            wall = cpu = 0.0
            rounds = {}
            for task, names in TASKS.items():
                t0, c0 = time.perf_counter(), time.process_time()
                m = XGBTaskModel(len(names), cfg.xgb_rounds, cfg.xgb_max_depth, cfg.xgb_eta,
                                 early_stopping_rounds=cfg.xgb_early_stopping,
                                 n_threads=cfg.torch_threads, seed=seed)
                m.fit(X["train"], train[task].to_numpy(), X["val"], val[task].to_numpy())
                wall += time.perf_counter() - t0
                cpu += time.process_time() - c0
                rounds[task] = m.best_iteration_ + 1
                for split, df in (("val", val), ("test", test)):
                    arrays[f"{split}_{task}_logits"] = m.logits(X[split])
                    arrays[f"{split}_{task}_y"] = df[task].to_numpy()
            meta = {"setup": "xgb", "setting": setting, "size": size, "seed": seed,
                    "fit_wall_s": wall, "fit_cpu_s": cpu, "rounds": rounds,
                    "n_features": len(feats.feature_names_)}
            _report({k: meta[k] for k in ("setting", "size", "seed", "fit_wall_s", "fit_cpu_s")},
                    arrays, meta)


def setup_trial(config: dict[str, Any], dataset: Any) -> None:
    """Ray Tune trainable (driver function): fit one Ray Train run for one setup."""
    import ray.train
    from ray.data import DataContext
    from ray.train.torch import TorchTrainer
    from ray.train.xgboost import XGBoostTrainer
    from ray.tune.integration.ray_train import TuneReportCallback

    DataContext.get_current().enable_progress_bars = config.get("progress_bars", False)
    cfg = IntakeConfig.from_dict(config["study"])
    setup = Setup.from_key(config["setup"])
    trainer_cls, loop = ((XGBoostTrainer, xgb_worker_loop) if setup.kind == "xgb"
                         else (TorchTrainer, transformer_worker_loop))
    trainer = trainer_cls(
        loop,
        train_loop_config={"study": config["study"], "setup": setup.key,
                           "settings": sorted(config["data"]),
                           "vocab": {k: v["vocab"] for k, v in config["data"].items()}},
        scaling_config=ray.train.ScalingConfig(
            num_workers=1, resources_per_worker={"CPU": cfg.worker_cpus}),
        run_config=ray.train.RunConfig(
            name=setup.key, storage_path=config["storage"], callbacks=[TuneReportCallback()],
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=None)),
        datasets={"records": dataset},
        dataset_config=ray.train.DataConfig(datasets_to_split=[]),
    )
    trainer.fit()


def run_trials(cfg: IntakeConfig, data_index: dict[str, Any], dataset: Any,
               run_dir: Path, setup_keys: list[str], progress_bars: bool = False) -> Any:
    """Run every setup as a Tune trial; returns the ResultGrid (raises if any trial failed)."""
    from ray import tune

    storage = str((run_dir / "ray").resolve())
    trainable = tune.with_resources(tune.with_parameters(setup_trial, dataset=dataset),
                                    {"cpu": cfg.trial_cpus})
    tuner = tune.Tuner(
        trainable,
        param_space={"setup": tune.grid_search(setup_keys), "study": cfg.to_dict(),
                     "data": data_index, "storage": storage, "progress_bars": progress_bars},
        tune_config=tune.TuneConfig(max_concurrent_trials=cfg.max_concurrent_trials),
        run_config=tune.RunConfig(name="trials", storage_path=storage, verbose=1),
    )
    grid = tuner.fit()
    if grid.errors:
        raise RuntimeError(f"{len(grid.errors)} trial(s) failed; first: {grid.errors[0]!r}")
    return grid
