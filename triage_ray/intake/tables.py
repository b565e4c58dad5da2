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


def evaluate_study(cfg: IntakeConfig, runs: Runs, setups: list[Setup]) -> StudyTables:
    rows, costs, sweep, cos_rows, transfer = [], [], [], [], []
    reps: dict[tuple[str, int, str, str], np.ndarray] = {}
    selected: dict[tuple[str, int], str] = {}
    settings = sorted({k[0] for k in runs})
    for setting in settings:
        plans: dict[str, BootstrapPlan] = {}
        for size in cfg.train_sizes:
            f1s: dict[tuple[str, str], float] = {}
            for setup in setups:
                seeds = runs[(setting, setup.key, size)]
                cost = {"fit_wall_s": sum(r.meta["fit_wall_s"] for r in seeds),
                        "fit_cpu_s": sum(r.meta["fit_cpu_s"] for r in seeds)}
                costs.append({"setting": setting, "size": size, "setup": setup.key,
                              "n_seeds": len(seeds), **cost})
                val_f1 = {}
                for task in setup.tasks:
                    p = task_predictions(seeds, task)
                    k = len(TASKS[task])
                    plan = plans.setdefault(task, BootstrapPlan(
                        p.y.size, len(seeds), cfg.n_boot, seed=zlib.crc32(f"{setting}|{task}".encode())))
                    summ, r = f1_summary(p.y, p.logits.argmax(2), k, plan, cfg.ci_level)
                    reps[(setting, size, setup.key, task)] = r
                    f1s[(setup.key, task)] = summ["f1"]
                    val_f1[task] = _val_f1(p, k)
                    rows.append({"setting": setting, "size": size, "setup": setup.key,
                                 "task": task, **summ, "val_f1": val_f1[task],
                                 **calibration_summary(p, cfg.ci_level, cfg.ece_bins),
                                 "n_test": int(p.y.size), "n_test_unlabelled": p.n_unlabelled["test"],
                                 **{f"setup_{c}": v for c, v in cost.items()}})
                if setup.kind == "multitask":
                    sweep.append({"setting": setting, "size": size, "setup": setup.key,
                                  "weighting": setup.weighting, "urgency_weight": setup.weight,
                                  **{f"val_f1_{t}": v for t, v in val_f1.items()},
                                  "val_f1_mean": float(np.mean(list(val_f1.values()))),
                                  "final_task_weights": [r.meta["task_weights"] for r in seeds]})
                    for r in seeds:
                        cos_rows += [{"setting": setting, "size": size, "setup": setup.key,
                                      "seed": r.meta["seed"], "step": s, "cosine": c}
                                     for s, c in r.meta["grad_cosine"]]
            mtl = [s for s in sweep if s["setting"] == setting and s["size"] == size]
            best = max(mtl, key=lambda s: s["val_f1_mean"])["setup"]  # chosen on validation
            selected[(setting, size)] = best
            for m in mtl:
                for task in TASKS:
                    d = paired_difference(
                        f1s[(m["setup"], task)], f1s[(f"tf_{task}", task)],
                        reps[(setting, size, m["setup"], task)],
                        reps[(setting, size, f"tf_{task}", task)], cfg.ci_level)
                    transfer.append({"setting": setting, "size": size, "task": task,
                                     "mtl_setup": m["setup"], "selected": m["setup"] == best,
                                     "f1_mtl": f1s[(m["setup"], task)],
                                     "f1_single": f1s[(f"tf_{task}", task)], **d})
            pair = [c for c in costs if c["setting"] == setting and c["size"] == size
                    and c["setup"].startswith("tf_")]
            costs.append({"setting": setting, "size": size, "setup": TF_PAIR,
                          "n_seeds": pair[0]["n_seeds"],
                          "fit_wall_s": sum(c["fit_wall_s"] for c in pair),
                          "fit_cpu_s": sum(c["fit_cpu_s"] for c in pair)})
    results = pd.DataFrame(rows)
    results["selected_mtl"] = [selected[(s, z)] == u for s, z, u in
                               zip(results.setting, results["size"], results.setup, strict=True)]
    return StudyTables(results, pd.DataFrame(transfer), pd.DataFrame(costs),
                       pd.DataFrame(sweep), pd.DataFrame(cos_rows), selected, reps)
