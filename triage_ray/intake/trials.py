"""Ray wiring for the study's fits: Ray Tune runs one trial per lane, each a Ray Train run fed by
Ray Data. A lane is a list of setups (`TrialSpec`: a setup and the data settings it trains on)
trained one after another by one worker; there are as many Transformer lanes as trials may run at
once (`pack_lanes`, balanced by estimated work), and XGBoost has its own.

The trial is a driver function (Train V2 pattern, see shared notes) that fits a TorchTrainer or
XGBoostTrainer whose single worker trains every setup x setting x training size x seed of its
lane in turn: Train costs 10-15 s to start on an idle laptop and 40-60 s on a busy 2-core box
(benchmarks/train_startup.py), so one start is shared by all of them. One trial per setup, as
before, paid that start seven times in the smoke study where two lanes can run at once. After each
fit the worker reports metrics plus a checkpoint holding the validation and test logits; Tune's
TuneReportCallback forwards both, and `collect.py` reads the checkpoints back (each names its
setup).

XGBoost runs in Ray Train's XGBoostTrainer (1 worker; more workers would train data-parallel but
would then need the text vocabulary fitted before sharding, which is why it is fitted on the
worker's full shard here). The fit itself is plain `xgboost.train`, as the V2 trainer expects.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from triage_ray.intake.config import IntakeConfig
from triage_ray.intake.fitting import Hyper
from triage_ray.intake.prepare import seed_count
from triage_ray.intake.schema import TASKS
from triage_ray.intake.setups import Setup
from triage_ray.intake.streams import ids_column, load_rows, select


@dataclass(frozen=True)
class TrialSpec:
    """One Tune trial: a setup, the settings its worker trains, and its tuned hyperparameters."""

    setup: str
    settings: tuple[str, ...]
    hyper: dict[str, float | None] | None = None  # Hyper as a dict; None for XGBoost
    only_sizes: tuple[int, ...] | None = None  # train just these sizes (None: every size)

    def sizes(self, data: dict[str, Any], setting: str) -> list[int]:
        """The training sizes this trial fits on `setting` (data: the study's data index)."""
        sizes = data[setting]["sizes"]
        return sizes if self.only_sizes is None else [z for z in sizes if z in self.only_sizes]


Lane = tuple[TrialSpec, ...]  # trained one after another by one Train worker


def pack_lanes(specs: list[TrialSpec], n_lanes: int, work) -> list[Lane]:
    """Transformer specs into at most `n_lanes` lanes, longest first onto the lane with the least
    work so far (`work(spec)`: estimated cost), so the lanes end together; XGBoost in a lane of its
    own (its trainer differs), last. Lanes are ordered by their work, longest first."""
    torch_specs = sorted((s for s in specs if s.setup != "xgb"), key=work, reverse=True)
    lanes: list[list[TrialSpec]] = [[] for _ in range(max(1, min(n_lanes, len(torch_specs))))]
    loads = [0.0] * len(lanes)
    for spec in torch_specs:
        i = loads.index(min(loads))
        lanes[i].append(spec)
        loads[i] += work(spec)
    ordered = [tuple(lane) for _, lane in sorted(zip(loads, lanes, strict=True),
                                                 key=lambda pair: -pair[0]) if lane]
    xgb = tuple(s for s in specs if s.setup == "xgb")
    return ordered + ([xgb] if xgb else [])


def lane_settings(lane: Lane) -> tuple[str, ...]:
    """Every data setting some spec of the lane trains on, in first-seen order."""
    return tuple(dict.fromkeys(k for spec in lane for k in spec.settings))


def _lane(config: dict[str, Any]) -> Lane:
    return tuple(TrialSpec(**{**s, "settings": tuple(s["settings"])}) for s in config["lane"])


def _report(metrics: dict[str, Any], arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    import ray.train

    with tempfile.TemporaryDirectory() as d:
        np.savez_compressed(Path(d) / "predictions.npz", **arrays)
        (Path(d) / "log.json").write_text(json.dumps(meta))
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(d))


def _metrics(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: meta[k] for k in ("setup", "setting", "size", "seed", "fit_wall_s", "fit_cpu_s")}


def _eval_tensors(rows: dict[str, np.ndarray], setting: str, size: int) -> dict[str, Any]:
    from triage_ray.intake.fitting import tensors

    evals = select(rows, setting, "eval")
    return {name: tensors({k: v[evals["split"] == name] for k, v in evals.items()},
                          ids_column(size)) for name in ("val", "test")}


def transformer_worker_loop(config: dict[str, Any]) -> None:
    """Ray Train worker: stream the group's rows in once; then for each setting, training size
    and seed fit (epochs chosen on validation), predict validation and test, and report."""
    import ray.train
    import torch

    from triage_ray.intake.fitting import fit_and_predict, tensors

    cfg = IntakeConfig.from_dict(config["study"])
    lane = _lane(config)
    torch.set_num_threads(cfg.torch_threads)
    rows = load_rows(ray.train.get_dataset_shard("records"), lane_settings(lane))  # one pass
    for spec in lane:
        setup, hyper = Setup.from_key(spec.setup), Hyper.from_dict(spec.hyper or {})
        for setting in spec.settings:
            for size in spec.sizes(config["data"], setting):
                vocab = config["data"][setting]["vocab"][str(size)]
                train = tensors(select(rows, setting, "train", size), ids_column(size))
                split = _eval_tensors(rows, setting, size)
                for seed in range(seed_count(cfg, config["data"][setting]["role"])):
                    arrays, meta = fit_and_predict(setup, cfg, hyper, train, split, vocab, seed)
                    meta["setting"] = setting
                    _report(_metrics(meta) | {"best_epoch": meta["best_epoch"]}, arrays, meta)


def xgb_worker_loop(config: dict[str, Any]) -> None:
    """Ray Train worker (XGBoostTrainer): one XGBoost model per task, per size and seed."""
    import ray.train

    from triage_ray.intake.features import TabularFeaturizer

    cfg = IntakeConfig.from_dict(config["study"])
    (spec,) = _lane(config)  # XGBoost's lane holds XGBoost alone
    rows = load_rows(ray.train.get_dataset_shard("records"), spec.settings)
    raw = [c for c, v in rows.items() if v.ndim == 1]
    for setting in spec.settings:
        evals = pd.DataFrame({c: v for c, v in select(rows, setting, "eval").items() if c in raw})
        val, test = (evals[evals["split"] == s].reset_index(drop=True) for s in ("val", "test"))
        for size in spec.sizes(config["data"], setting):
            train = pd.DataFrame({c: v for c, v in select(rows, setting, "train", size).items()
                                  if c in raw})
            feats = TabularFeaturizer(cfg.xgb_text_features).fit(train)  # training split only
            X = {n: feats.transform(d) for n, d in (("train", train), ("val", val), ("test", test))}
            for seed in range(seed_count(cfg, config["data"][setting]["role"])):
                arrays, meta = _fit_xgb(cfg, X, train, val, test, seed)
                meta |= {"setup": "xgb", "setting": setting, "size": size, "seed": seed,
                         "n_features": len(feats.feature_names_)}
                _report(_metrics(meta), arrays, meta)


def _fit_xgb(cfg: IntakeConfig, X: dict[str, np.ndarray], train: pd.DataFrame, val: pd.DataFrame,
             test: pd.DataFrame, seed: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    from triage_ray.intake.models.xgb import XGBTaskModel

    arrays: dict[str, np.ndarray] = {"val_record_id": val["record_id"].to_numpy(),
                                     "test_record_id": test["record_id"].to_numpy()}
    wall = cpu = pred = 0.0
    rounds, nodes = {}, 0
    for task, names in TASKS.items():
        t0, c0 = time.perf_counter(), time.process_time()
        m = XGBTaskModel(len(names), cfg.xgb_rounds, cfg.xgb_max_depth, cfg.xgb_eta,
                         early_stopping_rounds=cfg.xgb_early_stopping,
                         n_threads=cfg.torch_threads, seed=seed)
        m.fit(X["train"], train[task].to_numpy(), X["val"], val[task].to_numpy())
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
        rounds[task] = m.best_iteration_ + 1
        nodes += m.n_nodes()
        t1 = time.perf_counter()
        for split, df in (("val", val), ("test", test)):
            arrays[f"{split}_{task}_logits"] = m.logits(X[split])
            arrays[f"{split}_{task}_y"] = df[task].to_numpy()
        pred += time.perf_counter() - t1
    return arrays, {"fit_wall_s": wall, "fit_cpu_s": cpu, "rounds": rounds, "n_params": nodes,
                    "predict_wall_s": pred, "n_predicted": int(len(val) + len(test))}


def setup_trial(config: dict[str, Any], dataset: Any) -> None:
    """Ray Tune trainable (driver function): one Ray Train run for one lane of TrialSpecs."""
    import ray.train
    from ray.data import DataContext
    from ray.train.torch import TorchTrainer
    from ray.train.xgboost import XGBoostTrainer
    from ray.tune.integration.ray_train import TuneReportCallback

    DataContext.get_current().enable_progress_bars = config.get("progress_bars", False)
    cfg = IntakeConfig.from_dict(config["study"])
    lane = _lane(config)
    trainer_cls, loop = ((XGBoostTrainer, xgb_worker_loop) if lane[0].setup == "xgb"
                         else (TorchTrainer, transformer_worker_loop))
    trainer = trainer_cls(
        loop,
        train_loop_config={"study": config["study"], "lane": config["lane"],
                           "data": {s: config["data"][s] for s in lane_settings(lane)}},
        scaling_config=ray.train.ScalingConfig(
            num_workers=1, resources_per_worker={"CPU": cfg.worker_cpus}),
        run_config=ray.train.RunConfig(
            name="+".join(spec.setup for spec in lane), storage_path=config["storage"],
            callbacks=[TuneReportCallback()],
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=None)),
        datasets={"records": dataset},
        dataset_config=ray.train.DataConfig(datasets_to_split=[]),
    )
    trainer.fit()


def run_trials(cfg: IntakeConfig, data_index: dict[str, Any], dataset: Any, run_dir: Path,
               lanes: list[Lane], progress_bars: bool = False) -> Any:
    """Run every lane as a Tune trial; returns the ResultGrid (raises if any trial failed)."""
    from ray import tune

    storage = str((run_dir / "ray").resolve())
    trainable = tune.with_resources(tune.with_parameters(setup_trial, dataset=dataset),
                                    {"cpu": cfg.trial_cpus})
    tuner = tune.Tuner(
        trainable,
        param_space={"lane": tune.grid_search([[asdict(s) for s in lane] for lane in lanes]),
                     "study": cfg.to_dict(), "data": data_index, "storage": storage,
                     "progress_bars": progress_bars},
        tune_config=tune.TuneConfig(max_concurrent_trials=cfg.max_concurrent_trials),
        run_config=tune.RunConfig(name="trials", storage_path=storage, verbose=1),
    )
    grid = tuner.fit()
    if grid.errors:
        raise RuntimeError(f"{len(grid.errors)} trial(s) failed; first: {grid.errors[0]!r}")
    return grid
