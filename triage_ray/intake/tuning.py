"""The same tuning budget for every Transformer setup: Ray Tune over one fixed design.

Why: a multi-task model trained with the single-task models' learning rate and epochs can lose
for want of tuning rather than because sharing hurts. Each setup (each single-task Transformer,
each multi-task weighting) gets the same `tune_trials` trials at `tune_size` training records of
the headline setting: a scrambled Halton design (seeded) spreads the learning rate log-uniformly
over `lr_range` and, for fixed weights, the urgency weight over `urgency_weight_range`. Each trial
trains until its validation macro-F1 has not improved for `patience` epochs (at most
`tune_max_epochs`), as every fit does; the setup keeps the rate of its best trial. Epochs are not a
search axis: every fit chooses its own on validation, here and in the study's runs.

Why a fixed design and no ASHA: with Optuna's TPE and ASHA, two runs of the same study tuned
tf_urgency to 2.0e-3 and 9.1e-3. TPE's seeded random start drew 3 of 6 rates within 2.0e-3-2.5e-3
and its guided draws depended on which trials had finished first; ASHA stopped trials at a rung
on whichever trials had reached it first, and at 2 epochs on noise (tf_urgency at 2.0e-3: stopped
at 0.43 in one run, on to 0.60 in the other). With a rung at 5 it still stopped rates that were as
good as the survivors'. The design is the same in every run and for every setup, and a trial's
result does not depend on the others', so the tuning is reproducible.

A tuning trial is a plain Tune function (no Ray Train): at 2,000 records Train's 10-15 s start
would cost more than the trial's training.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from triage_ray.intake.config import IntakeConfig
from triage_ray.intake.fitting import Hyper
from triage_ray.intake.setups import Setup

METRIC = "val_f1"  # mean validation macro-F1 over the setup's tasks, every epoch


@dataclass(frozen=True)
class TuningData:
    """The tuning split of the headline setting: numpy columns (ids, record_id, labels)."""

    train: dict[str, np.ndarray]
    val: dict[str, np.ndarray]
    vocab: int
    ids_column: str


def tune_trial(config: dict[str, Any], setup_key: str, study: dict[str, Any],
               data: TuningData) -> None:
    """Tune function trainable: one fit, reporting validation macro-F1 after every epoch."""
    import torch
    from ray import tune

    from triage_ray.intake.fitting import fit_setup, tensors

    cfg = IntakeConfig.from_dict(study)
    torch.set_num_threads(cfg.torch_threads)
    hyper = Hyper.from_dict(config)

    def report(epoch: int, loss: float, score: float | None) -> None:
        tune.report({METRIC: score, "epoch": epoch + 1, "train_loss": loss})

    fit_setup(Setup.from_key(setup_key), cfg, hyper, tensors(data.train, data.ids_column),
              tensors(data.val, data.ids_column), data.vocab, seed=0,
              max_epochs=cfg.tune_max_epochs, patience=cfg.patience, on_epoch=report)


def _tunes_weight(setup: Setup) -> bool:
    """Only fixed weighting has an urgency weight to tune (the others set or learn it)."""
    return setup.kind == "multitask" and setup.weighting == "fixed"


def search_space(setup: Setup, cfg: IntakeConfig) -> dict[str, Any]:
    """The ranges the design covers (Tune checks every point against them)."""
    from ray import tune

    space: dict[str, Any] = {"lr": tune.loguniform(*cfg.lr_range)}
    if _tunes_weight(setup):
        space["urgency_weight"] = tune.uniform(*cfg.urgency_weight_range)
    return space


def design(setup: Setup, cfg: IntakeConfig) -> list[dict[str, float]]:
    """The `tune_trials` points every setup's tuning tries: a scrambled Halton sequence (seeded by
    `data_seed`) over log learning rate and, for fixed weights, the urgency weight."""
    from scipy.stats import qmc

    unit = qmc.Halton(d=2, scramble=True, seed=cfg.data_seed).random(cfg.tune_trials)
    lo, hi = np.log(cfg.lr_range)
    w_lo, w_hi = cfg.urgency_weight_range
    points = []
    for u_lr, u_w in unit:
        point = {"lr": float(np.exp(lo + u_lr * (hi - lo)))}
        if _tunes_weight(setup):
            point["urgency_weight"] = float(w_lo + u_w * (w_hi - w_lo))
        points.append(point)
    return points


def tune_setup(setup: Setup, cfg: IntakeConfig, data: TuningData, storage: Path) -> Any:
    """One Tuner (the design's points, each trained to its own early stop) for one setup;
    returns its ResultGrid."""
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    trainable = tune.with_resources(
        tune.with_parameters(tune_trial, setup_key=setup.key, study=cfg.to_dict(), data=data),
        {"cpu": cfg.tune_trial_cpus})
    points = design(setup, cfg)
    tuner = tune.Tuner(
        trainable, param_space=search_space(setup, cfg),  # every trial is one of the points
        tune_config=tune.TuneConfig(
            # the generator's own limit: Tune ignores max_concurrent_trials for a generator
            search_alg=BasicVariantGenerator(points_to_evaluate=points,
                                             max_concurrent=cfg.max_concurrent_trials),
            num_samples=len(points)),
        run_config=tune.RunConfig(name=f"tune_{setup.key}", storage_path=str(storage),
                                  verbose=0))
    grid = tuner.fit()
    if grid.errors:
        raise RuntimeError(f"tuning {setup.key}: {len(grid.errors)} trial(s) failed; first: "
                           f"{grid.errors[0]!r}")
    return grid


def trial_rows(setup: Setup, grid: Any) -> list[dict[str, Any]]:
    """One row per tuning trial: its hyperparameters, best validation F1 and epochs run."""
    rows = []
    for i, result in enumerate(grid):
        frame = result.metrics_dataframe
        scores = frame[METRIC].to_numpy(float)
        rows.append({"setup": setup.key, "trial": i, "lr": result.config["lr"],
                     "urgency_weight": result.config.get("urgency_weight"),
                     "best_val_f1": float(np.nanmax(scores)),
                     "best_epoch": int(frame["epoch"].iloc[int(np.nanargmax(scores))]),
                     "epochs_run": int(frame["epoch"].max())})
    return rows


def tune_all(setups: list[Setup], cfg: IntakeConfig, data: TuningData, storage: Path
             ) -> tuple[dict[str, Hyper], pd.DataFrame]:
    """({setup key: its best hyperparameters}, every trial as a table)."""
    best: dict[str, Hyper] = {}
    rows: list[dict[str, Any]] = []
    for setup in setups:
        trials = trial_rows(setup, tune_setup(setup, cfg, data, storage))
        top = max(trials, key=lambda r: r["best_val_f1"])
        best[setup.key] = Hyper(top["lr"], top["urgency_weight"])
        rows += [r | {"chosen": r is top} for r in trials]
    return best, pd.DataFrame(rows)


def select_weighting(table: pd.DataFrame, weightings: list[str]) -> str:
    """The multi-task weighting with the best tuned validation macro-F1 (the map uses it)."""
    keys = {f"mtl_{w}": w for w in weightings}
    chosen = table[table.chosen & table.setup.isin(list(keys))]
    return keys[chosen.loc[chosen.best_val_f1.idxmax(), "setup"]]


def tuning_data(cfg: IntakeConfig, entry: dict[str, Any]) -> TuningData:
    """The headline setting's `tune_size` training records and its validation records, encoded
    with the tokenizer of that training set (on the driver: small, and read once)."""
    from tokenizers import Tokenizer

    from triage_ray.intake.ingest import in_training_set
    from triage_ray.intake.schema import TASKS
    from triage_ray.intake.streams import ids_column
    from triage_ray.intake.tokenize import encode, record_texts

    rows = pd.read_parquet(entry["records"])
    tok = Tokenizer.from_file(entry["tokenizer"][str(cfg.tune_size)])
    column = ids_column(cfg.tune_size)

    def columns(d: pd.DataFrame) -> dict[str, np.ndarray]:
        ids = encode(tok, record_texts(d), cfg.max_len)[0].astype(np.int16)
        return {column: ids, "record_id": d["record_id"].to_numpy(np.int64),
                **{t: d[t].to_numpy(np.int64) for t in TASKS}}

    return TuningData(columns(rows[in_training_set(rows, cfg.tune_size)]),
                      columns(rows[rows["split"] == "val"]), tok.get_vocab_size(), column)
