"""From collected predictions to the study's tables: results, transfer (the map), weighting
comparison, controls, costs and task-relation probes. Every number is computed from the run's
predictions and logs.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from triage_ray.intake.collect import Runs, SeedRun
from triage_ray.intake.config import IntakeConfig
from triage_ray.intake.controls import CONTROLS
from triage_ray.intake.evaluate import (
    BootstrapPlan,
    TaskPredictions,
    align_seeds,
    calibration_summary,
    f1_summary,
    macro_f1,
)
from triage_ray.intake.prepare import CONTROL, CONTROL_PREFIX, HEADLINE
from triage_ray.intake.schema import TASKS
from triage_ray.intake.setups import Setup
from triage_ray.intake.transfer import paired_difference

TF_PAIR = "tf_pair"  # the two single-task Transformers counted together (costs)
FIXED = "mtl_fixed"  # the tuned scalarised loss the other weightings are compared with


@dataclass
class StudyTables:
    results: pd.DataFrame  # setting, size, setup, task: F1 + CI, calibration, cost
    transfer: pd.DataFrame  # setting, size, task, mtl setup: delta + CI + verdict (the map)
    weightings: pd.DataFrame  # headline: each multi-task weighting minus tuned fixed weights
    controls: pd.DataFrame  # control, task: transfer, expected outcome, passed
    costs: pd.DataFrame  # setting, size, setup: training wall/CPU s, GFLOP, parameters
    probes: pd.DataFrame  # setting, size, setup, seed, step: gradient cosine and TAG affinity
    selected_mtl: str  # the multi-task setup chosen in tuning (the map and controls use it)
    settings: dict[str, dict[str, Any]]  # setting -> role, relatedness, sizes
    replicates: dict[tuple[str, int, str, str], np.ndarray] = field(repr=False, default_factory=dict)

    def headline(self) -> str:
        return next(s for s, d in self.settings.items() if d["role"] == HEADLINE)


def task_predictions(seeds: list[SeedRun], task: str) -> TaskPredictions:
    parts = [r.arrays for r in seeds]
    ids, y, z, n_unl = align_seeds(parts, "test", task)
    _, vy, vz, v_unl = align_seeds(parts, "val", task)
    return TaskPredictions(ids, y, z, vy, vz, {"test": n_unl, "val": v_unl})


def _val_f1(p: TaskPredictions, k: int) -> float:
    return float(np.mean([macro_f1(p.val_y, z.argmax(1), k) for z in p.val_logits]))


def _cost(seeds: list[SeedRun]) -> dict[str, float]:
    """Summed over seeds; per-record prediction time and size as the seeds' mean."""
    m = [r.meta for r in seeds]
    return {"fit_wall_s": sum(x["fit_wall_s"] for x in m), "fit_cpu_s": sum(x["fit_cpu_s"] for x in m),
            "train_gflop": sum(x.get("train_gflop", np.nan) for x in m),
            "n_params": float(np.mean([x["n_params"] for x in m])),
            "predict_ms_per_record": float(np.mean([1e3 * x["predict_wall_s"] / x["n_predicted"]
                                                    for x in m])),
            "epochs_mean": float(np.mean([x.get("best_epoch", -1) + 1 for x in m]))}


class _Cell:
    """One (setting, training size): rows per setup and task, and F1 replicates for pairing."""

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

    def score(self, setup: Setup, seeds: list[SeedRun], cost: dict[str, float]) -> list[dict]:
        rows = []
        for task in setup.tasks:
            p = task_predictions(seeds, task)
            k = len(TASKS[task])
            plan = self._plan(task, p.y.size, len(seeds))
            summ, self.reps[(setup.key, task)] = f1_summary(p.y, p.logits.argmax(2), k, plan,
                                                            self.cfg.ci_level)
            self.f1[(setup.key, task)] = summ["f1"]
            rows.append({"setting": self.setting, "size": self.size, "setup": setup.key,
                         "task": task, **summ, "val_f1": _val_f1(p, k),
                         **calibration_summary(p, self.cfg.ci_level, self.cfg.ece_bins),
                         "n_test": int(p.y.size), "n_test_unlabelled": p.n_unlabelled["test"],
                         **{f"setup_{c}": v for c, v in cost.items()}})
        return rows

    def difference(self, a: str, b: str, task: str) -> dict[str, Any]:
        """F1(a) - F1(b) on one task, paired CI and verdict."""
        return paired_difference(self.f1[(a, task)], self.f1[(b, task)], self.reps[(a, task)],
                                 self.reps[(b, task)], self.cfg.ci_level)


def _probe_rows(setting: str, size: int, key: str, seeds: list[SeedRun]) -> list[dict]:
    rows = []
    for r in seeds:
        aff = dict(r.meta.get("affinity", []))
        for step, cos in r.meta["grad_cosine"]:
            a = aff.get(step, {})
            rows.append({"setting": setting, "size": size, "setup": key, "seed": r.meta["seed"],
                         "step": step, "cosine": cos,
                         "tag_urgency_to_specialty": a.get("urgency->specialty", np.nan),
                         "tag_specialty_to_urgency": a.get("specialty->urgency", np.nan)})
    return rows


def _setups_in(runs: Runs, setting: str, size: int) -> list[Setup]:
    keys = sorted({k for s, k, z in runs if s == setting and z == size})
    order = {"multitask": 0, "single": 1, "xgb": 2}
    return sorted((Setup.from_key(k) for k in keys), key=lambda s: (order[s.kind], s.key))


def evaluate_study(cfg: IntakeConfig, runs: Runs, settings: dict[str, dict[str, Any]],
                   selected_mtl: str) -> StudyTables:
    """Score every (setting, size, setup, task); the map, weighting and control comparisons."""
    rows, costs, probes, transfer, weights, controls = [], [], [], [], [], []
    reps: dict[tuple[str, int, str, str], np.ndarray] = {}
    for setting, info in settings.items():
        plans: dict[str, BootstrapPlan] = {}
        for size in info["sizes"]:
            cell = _Cell(cfg, setting, size, plans)
            setups = _setups_in(runs, setting, size)
            for setup in setups:
                seeds = runs[(setting, setup.key, size)]
                cost = _cost(seeds)
                costs.append({"setting": setting, "size": size, "setup": setup.key,
                              "n_seeds": len(seeds), **cost})
                rows += cell.score(setup, seeds, cost)
                if setup.kind == "multitask":
                    probes += _probe_rows(setting, size, setup.key, seeds)
            keys = {s.key for s in setups}
            if all(f"tf_{t}" in keys for t in TASKS):
                pair = [_cost(runs[(setting, f"tf_{t}", size)]) for t in TASKS]
                costs.append({"setting": setting, "size": size, "setup": TF_PAIR,
                              "n_seeds": len(runs[(setting, "tf_urgency", size)]),
                              **{k: sum(c[k] for c in pair) for k in ("fit_wall_s", "fit_cpu_s",
                                                                     "train_gflop", "n_params")}})
            head = {"setting": setting, "role": info["role"],
                    "relatedness": info.get("relatedness"), "size": size}
            for s in (s for s in setups if s.kind == "multitask"):
                for task in TASKS:
                    d = cell.difference(s.key, f"tf_{task}", task)
                    transfer.append(head | {"task": task, "mtl_setup": s.key,
                                            "selected": s.key == selected_mtl, **d})
                    if info["role"] == HEADLINE and s.key != FIXED and FIXED in keys \
                            and not s.matched:
                        weights.append(head | {"task": task, "weighting": s.key,
                                               "vs": FIXED, **cell.difference(s.key, FIXED, task)})
            if info["role"] == CONTROL:
                n_seeds = len(runs[(setting, selected_mtl, size)])
                controls += _control_rows(setting, size, selected_mtl, cell, n_seeds)
            reps |= {(setting, size, u, t): r for (u, t), r in cell.reps.items()}
    results = pd.DataFrame(rows)
    results["selected_mtl"] = results.setup == selected_mtl
    return StudyTables(results, pd.DataFrame(transfer), pd.DataFrame(weights),
                       pd.DataFrame(controls), pd.DataFrame(costs), pd.DataFrame(probes),
                       selected_mtl, settings, reps)


def _control_rows(setting: str, size: int, mtl: str, cell: _Cell, n_seeds: int) -> list[dict]:
    control = CONTROLS[setting.removeprefix(CONTROL_PREFIX)]
    diffs = {task: cell.difference(mtl, f"tf_{task}", task) for task in TASKS}
    passed = control.passed({t: str(d["verdict"]) for t, d in diffs.items()})
    return [{"control": control.name, "size": size, "n_seeds": n_seeds, "task": t,
             "mtl_setup": mtl, **d,
             "expectation": control.expectation, "passed": passed} for t, d in diffs.items()]
