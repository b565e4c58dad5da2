"""How conclusions move with assumptions: one `simulate` per point of a grid, as table rows.

Grid keys may be any `Staffing` field, any `simulate` keyword (policy, audit_fraction,
aging_cap_days, inflow_per_day, miss_bound_ok, ...), `prevalence` (the worklist resampled to that
share of true abnormals, see `with_prevalence`), or, with `synthetic_n` set instead of a worklist,
the `synthetic_worklist` knobs (`auc`, `prevalence`, `auto_normal_fraction`,
`priority_fraction`): e.g. which AUROC keeps misses acceptable at the auto-normal share a 2x
multiplier needs. Every point uses the same seed, so neighbouring rows share random draws.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from sim.config import DEFAULT_STAFFING, Staffing
from sim.simulate import simulate
from sim.worklist import Worklist, synthetic_worklist, with_prevalence

_STAFFING_KEYS = {f.name for f in dataclasses.fields(Staffing)}
_SIMULATE_KEYS = set(inspect.signature(simulate).parameters) - {"worklist", "staffing", "n_reps",
                                                                "seed", "ray_tasks"}
_SYNTHETIC_KEYS = set(inspect.signature(synthetic_worklist).parameters) - {"n", "seed"}


def sensitivity_table(
    worklist: Worklist | None = None, *, grid: Mapping[str, Sequence[Any]],
    staffing: Staffing = DEFAULT_STAFFING, n_reps: int = 5, seed: int = 0,
    synthetic_n: int | None = None, metrics: Sequence[str] | None = None, **fixed: Any,
) -> list[dict[str, Any]]:
    """One row per grid point (the full product of `grid`'s values): the point's values, then
    `feasible` and for each metric `<name>`, `<name>_ci_low`, `<name>_ci_high`. `fixed` are
    keyword arguments passed to every `simulate` call (same keys as the grid)."""
    if (worklist is None) == (synthetic_n is None):
        raise ValueError("give exactly one of worklist or synthetic_n")
    allowed = _STAFFING_KEYS | _SIMULATE_KEYS | (
        _SYNTHETIC_KEYS if synthetic_n is not None else {"prevalence"})
    unknown = sorted((set(grid) | set(fixed)) - allowed)
    if unknown:
        raise ValueError(f"unknown sensitivity keys {unknown}; allowed: {sorted(allowed)}")
    rows = []
    names = list(grid)
    for values in itertools.product(*(grid[k] for k in names)):
        point = {**fixed, **dict(zip(names, values, strict=True))}
        staff = dataclasses.replace(staffing, **{k: v for k, v in point.items()
                                                 if k in _STAFFING_KEYS})
        sim_kw = {k: v for k, v in point.items() if k in _SIMULATE_KEYS}
        if synthetic_n is not None:
            syn_kw = {k: v for k, v in point.items() if k in _SYNTHETIC_KEYS}
            wl = synthetic_worklist(synthetic_n, seed=seed, **syn_kw)
        elif "prevalence" in point:
            wl = with_prevalence(worklist, point["prevalence"], seed=seed)
        else:
            wl = worklist
        result = simulate(wl, staffing=staff, n_reps=n_reps, seed=seed, **sim_kw)
        row: dict[str, Any] = {k: point[k] for k in names}
        row["feasible"] = result.feasible
        for name in metrics or list(result.metrics):
            s = result.metrics[name]
            row[name], row[f"{name}_ci_low"], row[f"{name}_ci_high"] = s.mean, s.ci_low, s.ci_high
        rows.append(row)
    return rows
