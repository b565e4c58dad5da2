"""The recommendation for the pilot, decided from the study's tables (the words are in brief.py).

Rule (stated in the output too): at the headline setting and its largest training size, per task
the option with the highest macro-F1 leads; an option is "not worse" on a task when the paired CI
of (option - leader) reaches 0. Among options not worse on both tasks the cheapest in training
CPU-seconds is recommended; if none is, the per-task leaders are. Transfer is called positive or
negative only when its CI excludes 0. No conclusion is fixed in advance.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from triage_ray.intake.evaluate import seed_interval
from triage_ray.intake.schema import TASKS
from triage_ray.intake.tables import TF_PAIR, StudyTables
from triage_ray.intake.transfer import NEGATIVE, POSITIVE, paired_difference

OPTION_NAMES = {"xgb": "two XGBoost models", TF_PAIR: "two single-task Transformers",
                "mtl": "one multi-task Transformer"}


def options(t: StudyTables) -> dict[str, dict[str, str]]:
    """option -> {task: the setup that answers it}."""
    return {"xgb": {task: "xgb" for task in TASKS},
            TF_PAIR: {task: f"tf_{task}" for task in TASKS},
            "mtl": {task: t.selected_mtl for task in TASKS}}


def choose_option(t: StudyTables, setting: str, size: int, level: float) -> dict[str, Any]:
    """Apply the rule above at one (setting, size); returns the choice and the evidence."""
    res = t.results[(t.results.setting == setting) & (t.results["size"] == size)]
    cost = t.costs[(t.costs.setting == setting) & (t.costs["size"] == size)].set_index("setup")
    opts = options(t)
    f1 = {(o, task): float(res[(res.setup == s) & (res.task == task)].f1.iloc[0])
          for o, m in opts.items() for task, s in m.items()}
    evidence: dict[str, Any] = {"leader": {}, "vs_leader": {}}
    for task in TASKS:
        leader = max(opts, key=lambda o: f1[(o, task)])
        evidence["leader"][task] = leader
        for o in opts:
            if o != leader:
                evidence["vs_leader"][(o, task)] = paired_difference(
                    f1[(o, task)], f1[(leader, task)],
                    t.replicates[(setting, size, opts[o][task], task)],
                    t.replicates[(setting, size, opts[leader][task], task)], level)
    ok = [o for o in opts if all(o == evidence["leader"][task]
                                 or evidence["vs_leader"][(o, task)]["ci_high"] >= 0
                                 for task in TASKS)]
    setup_of = {"xgb": "xgb", TF_PAIR: TF_PAIR, "mtl": t.selected_mtl}
    cpu = {o: float(cost.loc[setup_of[o], "fit_cpu_s"]) for o in opts}
    choice = min(ok, key=lambda o: cpu[o]) if ok else None
    return {"choice": choice, "not_worse": ok, "cpu": cpu, "f1": f1, "mtl_setup": t.selected_mtl,
            "options": opts, "setting": setting, "size": size, **evidence}


def shipped_setups(c: dict[str, Any]) -> dict[str, str]:
    """task -> the setup the recommendation ships for it."""
    return {task: c["options"][c["choice"] or c["leader"][task]][task] for task in TASKS}


def verdict_counts(frame: pd.DataFrame) -> dict[str, int]:
    v = frame.verdict.value_counts().to_dict()
    return {k: int(v.get(k, 0)) for k in (POSITIVE, NEGATIVE, "inconclusive")}


def map_summary(t: StudyTables) -> dict[str, Any]:
    """The transfer map of the selected multi-task setup (controls excluded): counts overall, per
    task, and by relatedness (lowest and highest)."""
    tr = t.transfer[t.transfer.selected & (t.transfer.role != "control")]
    rel = tr.relatedness.astype(float)
    return {"n_cells": int(len(tr)), "overall": verdict_counts(tr),
            "by_task": {task: verdict_counts(tr[tr.task == task]) for task in TASKS},
            "lowest": {"relatedness": float(rel.min()), **verdict_counts(tr[rel == rel.min()])},
            "highest": {"relatedness": float(rel.max()), **verdict_counts(tr[rel == rel.max()])},
            "best": tr.loc[tr.delta.idxmax()].to_dict(), "worst": tr.loc[tr.delta.idxmin()].to_dict()}


# What each probe can be: a cosine lies in [-1, 1]; a TAG affinity 1 - L'/L is at most 1.
PROBE_RANGE = {"cosine": (-1.0, 1.0), "tag_urgency_to_specialty": (-np.inf, 1.0),
               "tag_specialty_to_urgency": (-np.inf, 1.0)}


def probe_summary(t: StudyTables, level: float) -> pd.DataFrame:
    """Per (setting, size) of the selected setup: mean gradient cosine and TAG affinities over
    steps, then over seeds with a seed-level interval, clipped to what the probe can be (a
    t-interval over 3 scattered seeds can otherwise claim a cosine above 1)."""
    p = t.probes[t.probes.setup == t.selected_mtl]
    rows = []
    for (setting, size), g in p.groupby(["setting", "size"]):
        row: dict[str, Any] = {"setting": setting, "size": size}
        for col, (floor, ceiling) in PROBE_RANGE.items():
            per_seed = g.groupby("seed")[col].mean().dropna().to_numpy()
            lo, hi = seed_interval(per_seed, level) if per_seed.size else (np.nan, np.nan)
            lo, hi = float(np.clip(lo, floor, ceiling)), float(np.clip(hi, floor, ceiling))
            row |= {col: float(per_seed.mean()) if per_seed.size else np.nan,
                    f"{col}_ci_low": lo, f"{col}_ci_high": hi}
        rows.append(row)
    return pd.DataFrame(rows)


def controls_summary(t: StudyTables) -> list[dict[str, Any]]:
    out = []
    for name, g in t.controls.groupby("control", sort=False):
        out.append({"control": name, "passed": bool(g.passed.iloc[0]),
                    "expectation": g.expectation.iloc[0], "size": int(g["size"].iloc[0]),
                    "seeds": int(g["n_seeds"].iloc[0]),
                    "tasks": {r.task: {"delta": r.delta, "ci_low": r.ci_low, "ci_high": r.ci_high,
                                       "verdict": r.verdict} for r in g.itertuples()}})
    return out
