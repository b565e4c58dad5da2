"""Fit a run's training into a wall-clock budget, sized from this machine's measured speed.

Why: a run's time is mostly training (pretraining, the sweep, the learning curve), and its cost is
studies x epochs x seconds per study, the last factor the machine's, not the config's. The same
default took 31 min on an idle 2-core laptop and 91 min on the same laptop at a slower moment. So
the run measures before it trains and plans to `time_budget_min`:

1. `measure_speed`: a few steps of the real training step for every backbone at every input size
   the sweep may try, on the run's own shards, with a Train worker's thread count -> seconds per
   training study (the slowest choice bounds the sweep: the search may pick it for any trial);
2. `plan_run`: project every training stage from that speed (Ray Train's per-epoch and per-run
   costs on top: EPOCH_OVERHEAD, TRIAL_FIXED_S, INFERENCE_SHARE) and the rest from allowances
   (AFTER_TRAINING_S, corpus generation); if the whole does not fit, cut in this order until it
   does, each down to a floor:
   a. sweep trials, down to MIN_TRIALS: one trial fewer narrows a small search (one backbone, a
      learning-rate range, an augmentation range) but leaves every model as good;
   b. learning-curve epochs, down to 1: the curve answers a side question (does labelling more,
      or pretraining, pay?) and its points get weaker, not the chosen model;
   c. the learning curve itself (skipped): still the side question, cheaper to lose than any
      epoch of the chosen model;
   d. pretraining epochs (when the weights are not cached), down to 1: the chosen model starts
      from a weaker pretraining, on the first run only (the weights are cached);
   e. sweep epochs, down to 1: the chosen model itself gets worse, so it goes last.
   Then whatever slack the last cut left is given back, most valuable first (sweep epochs, then
   pretraining, the curve, the trials), so a coarse cut early does not waste time the budget has.

The plan assumes every trial runs to its last epoch; ASHA's early stops make the run end sooner.
`RunPlan` goes to the run directory (a resumed run keeps it rather than measuring another moment
of the machine) and to metrics.json (`budget`), with the run's actual seconds beside it.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from triage_ray.xray.config import XrayConfig

PLAN_FILE = "run_plan.json"
MIN_TRIALS = 2  # the fewest trials a budget cut leaves (one comparison), unless fewer were asked
# A Ray Train epoch over the plain training pass on the same studies: the validation pass and
# Ray's per-epoch costs (docs/performance.md: 11.85 s per epoch against a 9.59 s training pass).
EPOCH_OVERHEAD = 1.25
# What a Train run costs besides its epochs: Tune's trial start, Ray Train start-up and teardown
# (18-28 s, benchmarks/train_startup.py) and the trial's scoring: the smoke sweep's trial time on
# 2 cores with its one epoch of ~4 s taken out (32-44 s measured; its held-out pass is small).
TRIAL_FIXED_S = 35.0
# A trial's held-out pass (calib, select and test predicted once after training) per study, as a
# share of a training step: forward only, no augmentation. The default run on 2 cores: 200 s per
# one-epoch trial = 35 s fixed + 128 s epoch + 37 s for 8,015 held-out studies at 0.0128 s per
# training study (0.36).
INFERENCE_SHARE = 0.36
LC_POINT_FIXED_S = 10.0  # a learning-curve point's task start, shard read and test pass
# Everything after the training stages at the default sizes, measured on 2 cores (594 s): the pile
# (350 s: generating its 30,000-study tree, 91 s, ingest, scoring, simulation), the operating-point
# sweep (75 s), the study bootstrap (56 s), the gate (38 s), the brief (35 s) and the reports (40 s).
AFTER_TRAINING_S = 600.0
CORPUS_S_PER_STUDY = 0.003  # generating and ingesting a pretraining corpus (64 s for 24,000)
WARMUP_STEPS, TIMED_STEPS = 2, 8  # a measurement costs ~10 s per backbone and size on 2 cores


@dataclass(frozen=True)
class RunPlan:
    """What the run trains (asked and planned), what it was projected to cost, and why."""

    budget_s: float | None  # None: no budget, the configured plan
    n_trials: int
    epochs: int
    pretrain_epochs: int
    learning_curve_epochs: int
    asked: dict[str, int] = field(default_factory=dict)  # the same four keys, as configured
    cuts: list[str] = field(default_factory=list)  # what the budget cut, in the order it did
    seconds_per_study: dict[str, float] = field(default_factory=dict)  # "backbone@px" -> s
    epoch_s: float | None = None  # the slowest choice's projected Ray Train epoch
    projected_s: dict[str, float] = field(default_factory=dict)  # per stage, and "total"
    elapsed_at_plan_s: float = 0.0  # the run's time before the plan (data; measuring included)
    learning_curve: bool = True  # False: the budget skipped the learning curve

    @property
    def cut(self) -> bool:
        return bool(self.cuts)

    def planned(self) -> dict[str, int]:
        return {"n_trials": self.n_trials, "epochs": self.epochs,
                "pretrain_epochs": self.pretrain_epochs,
                "learning_curve_epochs": self.learning_curve_epochs,
                "learning_curve": int(self.learning_curve)}

    def describe(self) -> str:
        p = self.planned()
        curve = (f"learning curve {_epochs(p['learning_curve_epochs'])}" if p["learning_curve"]
                 else "no learning curve")
        what = (f"{p['n_trials']} trials x {_epochs(p['epochs'])}, pretraining "
                f"{_epochs(p['pretrain_epochs'])}, {curve}")
        if self.budget_s is None:
            return f"plan: {what} (no time budget)"
        how = "cut " + ", ".join(self.cuts) if self.cuts else "as configured"
        return (f"time budget {self.budget_s / 60:.0f} min: {what} ({how}); measured "
                f"{self.epoch_s:.0f} s per sweep epoch, projected "
                f"{self.projected_s['total'] / 60:.1f} min if no trial stops early")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cut": self.cut}

    def save(self, run_dir: Path) -> None:
        (run_dir / PLAN_FILE).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, run_dir: Path) -> RunPlan | None:
        path = run_dir / PLAN_FILE
        return cls(**json.loads(path.read_text())) if path.is_file() else None

    def apply(self, cfg: XrayConfig) -> XrayConfig:
        """The config the training stages run: `cfg` with the planned trials and epochs (and no
        learning-curve sizes when the curve was skipped)."""
        planned = {k: v for k, v in self.planned().items() if k != "learning_curve"}
        skip = {} if self.learning_curve else {"learning_curve_sizes": []}
        return XrayConfig.from_dict({**cfg.to_dict(), **planned, **skip})


def _epochs(n: int) -> str:
    return f"{n} epoch{'' if n == 1 else 's'}"


def asked_plan(cfg: XrayConfig) -> dict[str, int]:
    return {"n_trials": search_size(cfg), "epochs": cfg.epochs,
            "pretrain_epochs": cfg.pretrain_epochs,
            "learning_curve_epochs": cfg.learning_curve_epochs,
            "learning_curve": int(bool(cfg.learning_curve_sizes))}


def search_size(cfg: XrayConfig) -> int:
    """Trials the configured search runs: n_trials, or every grid combination."""
    if cfg.search != "grid":
        return cfg.n_trials
    return (len(cfg.backbones) * len(cfg.lrs) * len(cfg.augments) * len(cfg.init_choices())
            * len(cfg.input_sizes()))


@dataclass(frozen=True)
class Pretraining:
    """One backbone's pretraining: its corpus's training studies, and the epoch counts whose
    weights are already cached (those cost nothing)."""

    n_train: int
    cached_epochs: tuple[int, ...] = ()


@dataclass(frozen=True)
class Workload:
    """What the run would train, in studies, for the projection: the sweep's training split, the
    pretraining of each backbone (when a trial may start from it), the learning curve's points."""

    n_train: int
    pretraining: list[Pretraining]
    curve_points: list[int]  # training studies of each learning-curve point
    n_heldout: int = 0  # the calib, select and test studies every trial predicts once


def workload(cfg: XrayConfig, studies) -> Workload:
    """The run's Workload from its labelled study table (with its `split` column)."""
    from triage_ray.xray.pretrain import cached, for_run

    n_train = int((studies["split"] == "train").sum())
    pretraining = []
    if "pretrain" in cfg.init_choices():
        for backbone in cfg.backbones:
            pcfg = for_run(cfg, backbone)
            hits = tuple(e for e in range(1, cfg.pretrain_epochs + 1)
                         if cached(replace(pcfg, epochs=e)) is not None)
            pretraining.append(Pretraining(round(pcfg.n_studies * (1 - pcfg.val_fraction)), hits))
    inits = 2 if any(i != "scratch" for i in cfg.init_choices()) else 1  # scratch + the chosen
    sizes = sorted({min(n, n_train) for n in cfg.learning_curve_sizes})
    n_heldout = int(studies["split"].isin(["calib", "select", "test"]).sum())
    return Workload(n_train, pretraining, sizes * inits, n_heldout)


def sweep_epoch_s(cfg: XrayConfig, speed: dict[str, float], work: Workload) -> float:
    """One Ray Train epoch of the slowest searched choice over each worker's share of `train`."""
    per_worker = math.ceil(work.n_train / max(1, cfg.num_workers))
    return EPOCH_OVERHEAD * max(speed.values()) * per_worker


def project(cfg: XrayConfig, plan: dict[str, int], speed: dict[str, float],
            work: Workload) -> dict[str, float]:
    """Seconds per stage of `plan` at `speed` (seconds per training study)."""
    slowest = max(speed.values())
    epoch_s = sweep_epoch_s(cfg, speed, work)
    rounds = math.ceil(plan["n_trials"] / max(1, cfg.max_concurrent_trials))
    pretrain = sum(CORPUS_S_PER_STUDY * p.n_train + TRIAL_FIXED_S
                   + plan["pretrain_epochs"] * EPOCH_OVERHEAD * slowest * p.n_train
                   for p in work.pretraining if plan["pretrain_epochs"] not in p.cached_epochs)
    curve = plan.get("learning_curve", 1) * sum(
        LC_POINT_FIXED_S + plan["learning_curve_epochs"] * slowest * n
        for n in work.curve_points) / max(1, cfg.max_concurrent_trials)
    trial_fixed = TRIAL_FIXED_S + INFERENCE_SHARE * slowest * work.n_heldout
    out = {"pretrain": pretrain, "sweep": rounds * (trial_fixed + plan["epochs"] * epoch_s),
           "learning_curve": curve, "after_training": AFTER_TRAINING_S}
    return {**out, "total": sum(out.values())}


def plan_run(cfg: XrayConfig, speed: dict[str, float], work: Workload, budget_s: float,
             elapsed_s: float) -> RunPlan:
    """The configured plan if it fits `budget_s - elapsed_s`, else cut in the module's order.
    A grid search keeps its trials (every combination)."""
    asked = asked_plan(cfg)
    plan = dict(asked)
    floors = [("n_trials", asked["n_trials"] if cfg.search == "grid"
               else min(asked["n_trials"], MIN_TRIALS), "sweep trials"),
              ("learning_curve_epochs", 1, "learning-curve epochs"),
              ("learning_curve", 0, "learning curve"),
              ("pretrain_epochs", 1, "pretraining epochs"),
              ("epochs", 1, "sweep epochs")]
    left = budget_s - elapsed_s

    def over(p: dict[str, int]) -> bool:
        return project(cfg, p, speed, work)["total"] > left

    for key, floor, _ in floors:
        if key == "pretrain_epochs" and not project(cfg, plan, speed, work)["pretrain"]:
            continue  # cached at the asked epochs, or no trial starts from it: nothing to save
        while over(plan) and plan[key] > floor:
            plan[key] -= 1
    for key, _, _ in reversed(floors):  # give back the slack, most valuable first
        while plan[key] < asked[key] and not over({**plan, key: plan[key] + 1}):
            plan[key] += 1
    cuts = [("learning curve skipped" if key == "learning_curve"
             else f"{name} {asked[key]} -> {plan[key]}")
            for key, _, name in floors if plan[key] != asked[key]]
    epoch_s = sweep_epoch_s(cfg, speed, work)
    return RunPlan(budget_s, plan["n_trials"], plan["epochs"], plan["pretrain_epochs"],
                   plan["learning_curve_epochs"], asked, cuts, dict(speed), epoch_s,
                   project(cfg, plan, speed, work), elapsed_s, bool(plan["learning_curve"]))


def measure_speed(cfg: XrayConfig, shard_dirs: dict[int, Path],
                  vocabulary: tuple[str, ...]) -> dict[str, float]:
    """Seconds per training study of every searched backbone at every searched input size: a few
    steps of the real training step (the config's supervision width, its strongest augmentation,
    AdamW) on the run's own training shards, with a Train worker's thread count."""
    import torch

    from triage_ray.models import create_backbone, grayscale_normalisation
    from triage_ray.train.steps import train_epoch
    from triage_ray.train.supervision import get_supervision
    from triage_ray.train.threads import training_threads

    threads = training_threads(cfg.torch_threads, cfg.max_concurrent_trials * cfg.num_workers)
    sup = get_supervision(cfg.supervision, vocabulary)
    out, before = {}, torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for px in cfg.input_sizes():
            x = _training_pixels(shard_dirs[px], cfg.batch_size * (WARMUP_STEPS + TIMED_STEPS))
            y = torch.zeros((len(x), sup.n_outputs))  # the labels do not change the step's cost
            for backbone in cfg.backbones:
                torch.manual_seed(cfg.seed)
                model = create_backbone(backbone, pretrained=False, num_outputs=sup.n_outputs)
                mean, std = grayscale_normalisation(model)
                opt = torch.optim.AdamW(model.parameters(), lr=min(cfg.lrs))
                bs = cfg.batch_size
                batches = [(x[i:i + bs], y[i:i + bs]) for i in range(0, len(x), bs)]
                kw = dict(mean=mean, std=std, augment=max(cfg.augments))
                train_epoch(model, batches[:WARMUP_STEPS], opt, sup, **kw)
                t0 = time.perf_counter()
                _, n = train_epoch(model, batches[WARMUP_STEPS:], opt, sup, **kw)
                out[f"{backbone}@{px}px"] = (time.perf_counter() - t0) / max(n, 1)
    finally:
        torch.set_num_threads(before)
    return out


def _training_pixels(shard_dir: Path, n: int):
    """[0, 1] (n, 1, H, W) training images from the shards (repeated if the split is smaller)."""
    import pyarrow.parquet as pq

    from triage_ray.data.stream import batch_to_images, shard_files
    from triage_ray.train.tensors import pixels_to_unit

    parts, have = [], 0
    for f in shard_files(shard_dir):
        table = pq.read_table(f, columns=["image"], filters=[("split", "==", "train")])
        parts.append(batch_to_images({"image": table.column("image").to_numpy()}))
        have += len(parts[-1])
        if have >= n:
            break
    images = np.concatenate(parts)
    return pixels_to_unit(np.resize(images, (n, *images.shape[1:])))


def run_plan(cfg: XrayConfig, shard_dirs: dict[int, Path], work: Workload,
             vocabulary: tuple[str, ...], run_dir: Path, elapsed_s: float, log=print) -> RunPlan:
    """The run's plan: the one saved in `run_dir` (a resumed run), else measured and planned
    (or the configured plan when `time_budget_min` is None); saved to `run_dir`."""
    saved = RunPlan.load(run_dir)
    if saved is not None:
        log(f"{saved.describe()} (the plan this run started with)")
        return saved
    asked = asked_plan(cfg)
    if cfg.time_budget_min is None:
        plan = RunPlan(None, asked["n_trials"], asked["epochs"], asked["pretrain_epochs"],
                       asked["learning_curve_epochs"], asked,
                       learning_curve=bool(asked["learning_curve"]))
    else:
        t0 = time.perf_counter()
        speed = measure_speed(cfg, shard_dirs, vocabulary)
        plan = plan_run(cfg, speed, work, 60.0 * cfg.time_budget_min,
                        elapsed_s + time.perf_counter() - t0)
    plan.save(run_dir)
    log(plan.describe())
    return plan
