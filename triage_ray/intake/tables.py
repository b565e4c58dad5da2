"""From collected predictions to the study's tables: results, transfer, costs, weight sweep and
gradient cosines. Every number here is computed from the run's predictions and logs.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from triage_ray.intake.collect import Runs, SeedRun
from triage_ray.intake.config import IntakeConfig
from triage_ray.intake.evaluate import (
    BootstrapPlan,
    TaskPredictions,
    align_seeds,
    calibration_summary,
    f1_summary,
    macro_f1,
)
from triage_ray.intake.schema import TASKS
from triage_ray.intake.setups import Setup
from triage_ray.intake.transfer import paired_difference

TF_PAIR = "tf_pair"  # the two single-task Transformers counted together (costs)


@dataclass
class StudyTables:
    results: pd.DataFrame  # setting, size, setup, task: F1 + CI, calibration, cost
    transfer: pd.DataFrame  # setting, size, task, mtl setup: delta + CI + verdict
    costs: pd.DataFrame  # setting, size, setup: training wall and CPU seconds
    weight_sweep: pd.DataFrame  # setting, size, mtl setup: validation macro-F1 per task
    grad_cosine: pd.DataFrame  # setting, size, setup, seed, step, cosine
    selected_mtl: dict[tuple[str, int], str]  # (setting, size) -> mtl setup chosen on val
    replicates: dict[tuple[str, int, str, str], np.ndarray] = field(repr=False, default_factory=dict)


def task_predictions(seeds: list[SeedRun], task: str) -> TaskPredictions:
    parts = [r.arrays for r in seeds]
    ids, y, z, n_unl = align_seeds(parts, "test", task)
    _, vy, vz, v_unl = align_seeds(parts, "val", task)
    return TaskPredictions(ids, y, z, vy, vz, {"test": n_unl, "val": v_unl})


def _val_f1(p: TaskPredictions, k: int) -> float:
    return float(np.mean([macro_f1(p.val_y, z.argmax(1), k) for z in p.val_logits]))


class _Cell:
    """Accumulates one (setting, training size): rows per setup and task, and F1 replicates."""

    def __init__(self, cfg: IntakeConfig, setting: str, size: int,
                 plans: dict[str, BootstrapPlan]) -> None:
        self.cfg, self.setting, self.size, self.plans = cfg, setting, size, plans
        self.f1: dict[tuple[str, str], float] = {}
        self.reps: dict[tuple[str, str], np.ndarray] = {}

    def _plan(self, task: str, n: int, n_seeds: int) -> BootstrapPlan:
        if task not in self.plans:  # one plan per setting and task: paired across setups, sizes
            self.plans[task] = BootstrapPlan(
                n, n_seeds, self.cfg.n_boot, seed=zlib.crc32(f"{self.setting}|{task}".encode()))
        return self.plans[task]

    def score(self, setup: Setup, seeds: list[SeedRun], cost: dict[str, float]
              ) -> tuple[list[dict], dict[str, float]]:
        """Result rows for each task of one setup, and its validation macro-F1 per task."""
        rows, val_f1 = [], {}
        for task in setup.tasks:
            p = task_predictions(seeds, task)
            k = len(TASKS[task])
            plan = self._plan(task, p.y.size, len(seeds))
            summ, self.reps[(setup.key, task)] = f1_summary(p.y, p.logits.argmax(2), k, plan,
                                                            self.cfg.ci_level)
            self.f1[(setup.key, task)] = summ["f1"]
            val_f1[task] = _val_f1(p, k)
            rows.append({"setting": self.setting, "size": self.size, "setup": setup.key,
                         "task": task, **summ, "val_f1": val_f1[task],
                         **calibration_summary(p, self.cfg.ci_level, self.cfg.ece_bins),
                         "n_test": int(p.y.size), "n_test_unlabelled": p.n_unlabelled["test"],
                         **{f"setup_{c}": v for c, v in cost.items()}})
        return rows, val_f1

    def transfer(self, mtl_key: str, selected: bool) -> list[dict]:
        """F1(multi-task) - F1(single-task Transformer) per task, paired CI."""
        out = []
        for task in TASKS:
            m, s = (mtl_key, task), (f"tf_{task}", task)
            d = paired_difference(self.f1[m], self.f1[s], self.reps[m], self.reps[s],
                                  self.cfg.ci_level)
            out.append({"setting": self.setting, "size": self.size, "task": task,
                        "mtl_setup": mtl_key, "selected": selected, "f1_mtl": self.f1[m],
                        "f1_single": self.f1[s], **d})
        return out


def _cost(seeds: list[SeedRun]) -> dict[str, float]:
    return {"fit_wall_s": sum(r.meta["fit_wall_s"] for r in seeds),
            "fit_cpu_s": sum(r.meta["fit_cpu_s"] for r in seeds)}


def _cosines(setting: str, size: int, key: str, seeds: list[SeedRun]) -> list[dict]:
    return [{"setting": setting, "size": size, "setup": key, "seed": r.meta["seed"], "step": s,
             "cosine": c} for r in seeds for s, c in r.meta["grad_cosine"]]


def evaluate_study(cfg: IntakeConfig, runs: Runs, setups: list[Setup]) -> StudyTables:
    """Score every (setting, size, setup, task); pick the multi-task weighting on validation."""
    rows, costs, sweep, cos_rows, transfer = [], [], [], [], []
    reps: dict[tuple[str, int, str, str], np.ndarray] = {}
    selected: dict[tuple[str, int], str] = {}
    for setting in sorted({k[0] for k in runs}):
        plans: dict[str, BootstrapPlan] = {}
        for size in cfg.train_sizes:
            cell, mtl = _Cell(cfg, setting, size, plans), []
            for setup in setups:
                seeds = runs[(setting, setup.key, size)]
                cost = _cost(seeds)
                costs.append({"setting": setting, "size": size, "setup": setup.key,
                              "n_seeds": len(seeds), **cost})
                new_rows, val_f1 = cell.score(setup, seeds, cost)
                rows += new_rows
                if setup.kind == "multitask":
                    mtl.append({"setting": setting, "size": size, "setup": setup.key,
                                "weighting": setup.weighting, "urgency_weight": setup.weight,
                                **{f"val_f1_{t}": v for t, v in val_f1.items()},
                                "val_f1_mean": float(np.mean(list(val_f1.values()))),
                                "final_task_weights": [r.meta["task_weights"] for r in seeds]})
                    cos_rows += _cosines(setting, size, setup.key, seeds)
            best = max(mtl, key=lambda m: m["val_f1_mean"])["setup"]  # chosen on validation
            selected[(setting, size)] = best
            sweep += mtl
            for m in mtl:
                transfer += cell.transfer(m["setup"], m["setup"] == best)
            pair = [_cost(runs[(setting, f"tf_{t}", size)]) for t in TASKS]
            costs.append({"setting": setting, "size": size, "setup": TF_PAIR,
                          "n_seeds": len(runs[(setting, "tf_urgency", size)]),
                          **{k: sum(c[k] for c in pair) for k in pair[0]}})
            reps |= {(setting, size, u, t): r for (u, t), r in cell.reps.items()}
    results = pd.DataFrame(rows)
    results["selected_mtl"] = [selected[(s, z)] == u for s, z, u in
                               zip(results.setting, results["size"], results.setup, strict=True)]
    return StudyTables(results, pd.DataFrame(transfer), pd.DataFrame(costs),
                       pd.DataFrame(sweep), pd.DataFrame(cos_rows), selected, reps)
