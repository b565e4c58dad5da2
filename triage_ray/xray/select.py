"""Model selection: which sweep trial the study goes on with, by a stated rule on `select` only.

The same function ranks the trials in the pipeline and in the memo, so the memo's stated rule is
the rule that chose.
"""

from __future__ import annotations

import json
import math
from typing import Any

SELECTION_RULE = (
    "on the `select` split: miss-rate bound holds first, then simulated throughput (differences "
    "within the simulation's 95% CI count as ties), then the simulated abnormal time-to-read "
    "(shorter first), then AUROC"
)


def _value(r: dict[str, Any], key: str, missing: float) -> float:
    v = r.get(key)
    return missing if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def rank_trials(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Finished trials, best first, by SELECTION_RULE.

    `rows` are `TrialRow.to_dict()` rows (as metrics.json lists them). Why the tie: when no
    configuration may auto-clear, every throughput multiplier is 1.00 up to simulation noise, and
    ranking on that noise once chose a model with AUROC 0.57 over one with 0.79 (measured on a
    default run). Why `select`: see `triage_ray.xray.score`.
    """
    done = [r for r in rows if r.get("status") == "done"]

    def feasible(r: dict[str, Any]) -> float:
        return _value(r, "feasible", 0.0)

    def throughput(r: dict[str, Any]) -> float:
        return _value(r, "select_throughput_multiplier", -1.0)

    best_tp = {f: max(throughput(r) for r in done if feasible(r) == f) for f in map(feasible, done)}

    def key(r: dict[str, Any]) -> tuple[float, ...]:
        tied = _value(r, "select_throughput_ci_high", throughput(r)) >= best_tp[feasible(r)]
        return (feasible(r), float(tied), 0.0 if tied else throughput(r),
                -_value(r, "select_abnormal_ttr_median_ratio", math.inf),
                _value(r, "select_auroc", 0.0))

    return sorted(done, key=key, reverse=True)


def select_best(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The first of `rank_trials`. If none is feasible, the best infeasible one is returned with
    feasible = 0 (never relabelled)."""
    ranked = rank_trials(rows)
    if not ranked:
        raise RuntimeError(f"no trial finished; trial errors: {json.dumps(rows, default=str)}")
    return ranked[0]
