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


def tune_trial(config: dict[str, Any], study: dict[str, Any], data: TuningData) -> None:
    """Tune function trainable: one fit of config["point"] (a setup and its hyperparameters),
    reporting validation macro-F1 after every epoch."""
    import torch
    from ray import tune

    from triage_ray.intake.fitting import fit_setup, tensors

    cfg = IntakeConfig.from_dict(study)
    torch.set_num_threads(cfg.torch_threads)
    point = config["point"]
    hyper = Hyper.from_dict(point)

    def report(epoch: int, loss: float, score: float | None) -> None:
        tune.report({METRIC: score, "epoch": epoch + 1, "train_loss": loss})

    fit_setup(Setup.from_key(point["setup"]), cfg, hyper, tensors(data.train, data.ids_column),
              tensors(data.val, data.ids_column), data.vocab, seed=0,
              max_epochs=cfg.tune_max_epochs, patience=cfg.patience, on_epoch=report)


def _tunes_weight(setup: Setup) -> bool:
    """Only fixed weighting has an urgency weight to tune (the others set or learn it)."""
    return setup.kind == "multitask" and setup.weighting == "fixed"


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


def tune_setups(setups: list[Setup], cfg: IntakeConfig, data: TuningData, storage: Path) -> Any:
    """One Tuner for every setup's design points (each trained to its own early stop); returns
    its ResultGrid. One Tuner, not one per setup, so that its trial actors are reused from trial
    to trial (`reuse_actors`): each new actor costs a process start and the torch import, several
    seconds on a busy 2-core box, for trials of a few seconds each."""
    from ray import tune

    trainable = tune.with_resources(
        tune.with_parameters(tune_trial, study=cfg.to_dict(), data=data),
        {"cpu": cfg.tune_trial_cpus})
    points = [{"setup": setup.key, **point} for setup in setups for point in design(setup, cfg)]
    tuner = tune.Tuner(
        trainable, param_space={"point": tune.grid_search(points)},
        tune_config=tune.TuneConfig(max_concurrent_trials=cfg.max_concurrent_trials,
                                    reuse_actors=True),
        run_config=tune.RunConfig(name="tuning", storage_path=str(storage), verbose=0))
    grid = tuner.fit()
    if grid.errors:
        raise RuntimeError(f"tuning: {len(grid.errors)} trial(s) failed; first: "
                           f"{grid.errors[0]!r}")
    return grid


def trial_rows(setup: Setup, grid: Any, cfg: IntakeConfig) -> list[dict[str, Any]]:
    """One row per tuning trial of `setup`, in its design's order: its hyperparameters, best
    validation F1 and epochs run."""
    results = {}
    for result in grid:
        point = result.config["point"]
        if point["setup"] == setup.key:
            results[(point["lr"], point.get("urgency_weight"))] = result
    rows = []
    for i, point in enumerate(design(setup, cfg)):
        frame = results[(point["lr"], point.get("urgency_weight"))].metrics_dataframe
        scores = frame[METRIC].to_numpy(float)
        rows.append({"setup": setup.key, "trial": i, "lr": point["lr"],
                     "urgency_weight": point.get("urgency_weight"),
                     "best_val_f1": float(np.nanmax(scores)),
                     "best_epoch": int(frame["epoch"].iloc[int(np.nanargmax(scores))]),
                     "epochs_run": int(frame["epoch"].max())})
    return rows


def tune_all(setups: list[Setup], cfg: IntakeConfig, data: TuningData, storage: Path
             ) -> tuple[dict[str, Hyper], pd.DataFrame]:
    """({setup key: its best hyperparameters}, every trial as a table)."""
    grid = tune_setups(setups, cfg, data, storage)
    best: dict[str, Hyper] = {}
    rows: list[dict[str, Any]] = []
    for setup in setups:
        trials = trial_rows(setup, grid, cfg)
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
