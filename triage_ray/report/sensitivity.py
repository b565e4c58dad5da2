"""How the memo's conclusion moves with the simulation's assumptions, computed on the run's pile.

One assumption is changed at a time (the rest as in the run) and the run's own worklist
(worklist.parquet: bucket and adjusted probability per study) is re-simulated with
`sim.sensitivity_table`, on the same seed as the run's pile simulation, so the "as run" row
reproduces metrics.json. The result is saved as sensitivity.json beside the run's metrics, so the
memo's assumption table is an artifact of the run like every other number.

Waiting times and prevalence rows need truth, which a real pile lacks: every row draws each
study's abnormality from its calibrated, prior-adjusted probability (a model-based stand-in, said
so in the table; the same draw in every row), and prevalence rows then resample the pile per class
to the target prevalence with thresholds unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from triage_ray.common.strict_json import write_strict_json
from triage_ray.report.run import RunArtifacts

SENSITIVITY_FILE = "sensitivity.json"
METRICS = ("throughput_multiplier", "days_to_clear", "days_to_clear_no_ai",
           "missed_per_1000_auto_cleared", "abnormal_ttr_median_hours",
           "abnormal_ttr_median_hours_no_ai", "abnormal_ttr_median_ratio",
           "normal_wait_max_hours", "normal_wait_max_hours_no_ai")
PREVALENCE_STEPS = (-0.2, -0.1, 0.1, 0.2)  # absolute shifts around the pile's estimated prior
READ_RATE_FACTORS = (0.75, 1.25)  # slower / faster reading than assumed
SLOW_READ_CV = 1.0  # coefficient of variation for "more variable read times"
AUDIT_FACTORS = (2.0, 4.0)  # a larger audit than the operating point's
INFLOW_SHARE = 0.5  # daily new studies as a share of nominal daily capacity
OTHER_ROTAS = (7,)  # reading days per week besides the run's


@dataclass(frozen=True)
class Axis:
    """One assumption varied: a label, grid key and values, and how to print each value."""

    label: str
    key: str
    values: Sequence[Any]
    show: Any  # value -> str

    def rows(self) -> list[tuple[str, Any]]:
        return [(self.show(v), v) for v in self.values]


def _staffing(sim_dict: dict[str, Any]):
    from sim import Staffing

    s = dict(sim_dict["staffing"])
    s.pop("read_time_cv_effective", None)
    s.setdefault("reading_days_per_week", 7)  # runs before the rota setting read every day
    s["bucket_read_multiplier"] = tuple(s["bucket_read_multiplier"])
    return Staffing(**s)


def pile_worklist(run: RunArtifacts, *, truth_seed: int | None = None):
    """The run's pile as a sim.Worklist in read order; `truth_seed` draws model-based truth."""
    from sim import Worklist
    from triage_ray.abstain import uncertain_order_key

    wl = run.worklist()
    for col in ("bucket", "p_adjusted"):
        if col not in wl.columns:
            raise ValueError(f"{run.run_dir / 'worklist.parquet'}: missing column '{col}' "
                             f"(have {list(wl.columns)})")
    if "arrival_index" in wl.columns:  # the no-model baseline reads in arrival order, not read order
        wl = wl.sort_values("arrival_index")
    p = wl["p_adjusted"].to_numpy(dtype=float)
    truth = None
    if truth_seed is not None:
        truth = np.random.default_rng(truth_seed).random(p.size) < p
    # the pile was triaged at the recommended operating point when there was one; runs written
    # before the order became a setting used harm_if_unread
    point = run.get("pile.operating_point", None) or {}
    rule = point.get("uncertain_order") or run.cfg("uncertain_order", "harm_if_unread")
    return Worklist(bucket=wl["bucket"].to_numpy(), order_key=uncertain_order_key(p, rule),
                    is_abnormal=truth)


def axes(run: RunArtifacts) -> list[Axis]:
    """The assumptions varied, with values placed around the run's own settings."""
    sim_d = run.get("pile.simulation")
    st, asm = sim_d["staffing"], sim_d["assumptions"]
    r, rph, audit = st["radiologists"], st["reads_per_hour"], asm["audit_fraction"]
    capacity = r * st["hours_per_day"] * rph
    week = st.get("reading_days_per_week", 7)  # runs before the rota setting read every day
    inflow = INFLOW_SHARE * capacity
    horizon = _inflow_days(run, inflow)
    prior = run.get("pile.prevalence.used_prior")
    prevalences = [round(prior + d, 2) for d in PREVALENCE_STEPS if 0.02 <= prior + d <= 0.98]
    return [
        Axis("Radiologists", "radiologists", [x for x in (r - 1, r + 1) if x >= 1],
             lambda v: f"{v} (run: {r})"),
        Axis("Reads per hour", "reads_per_hour", [rph * f for f in READ_RATE_FACTORS],
             lambda v: f"{v:g}/h (run: {rph:g})"),
        Axis("Read-time variability (CV)", "read_time_cv", [SLOW_READ_CV],
             lambda v: f"{v:g} (run: {st['read_time_cv_effective']:g})"),
        Axis("Audit of auto-cleared", "audit_fraction",
             [min(1.0, audit * f) for f in AUDIT_FACTORS],
             lambda v: f"{v:.0%} (run: {audit:.0%})"),
        Axis("Reading days per week", "reading_days_per_week",
             [k for k in OTHER_ROTAS if k != week], lambda v: f"{v} (run: {week})"),
        Axis("New studies arriving daily", "inflow_per_day", [inflow],
             lambda v: f"{v:,.0f}/day for {horizon:,.0f} days, then none (run: "
                       f"{asm['inflow_per_day']:,.0f})"),
        Axis("Auto-clearing not allowed", "policy", ["prioritise"],
             lambda v: f"policy {v} (run: {sim_d['policy']})"),
        Axis("Abnormal prevalence*", "prevalence", prevalences,
             lambda v: f"{v:.0%} (run est.: {prior:.0%})"),
    ]


def _inflow_days(run: RunArtifacts, inflow: float) -> float:
    """How long the inflow row's new studies keep arriving (sim's default horizon, stated)."""
    from sim.draws import Scenario

    sim_d = run.get("pile.simulation")
    return Scenario(inflow_per_day=inflow).inflow_days_for(int(sim_d["n_studies"]),
                                                           _staffing(sim_d))


def compute_sensitivity(run: RunArtifacts, *, n_reps: int | None = None) -> dict[str, Any]:
    """{"base": row, "rows": [row, ...], ...}; each row has axis, setting, feasible, METRICS
    with _ci_low/_ci_high. Cost: one `simulate` per row on the pile."""
    from sim import sensitivity_table

    sim_d = run.get("pile.simulation")
    asm = sim_d["assumptions"]
    common = dict(staffing=_staffing(sim_d), n_reps=n_reps or sim_d["n_reps"],
                  seed=sim_d["seed"], metrics=METRICS)
    fixed = dict(policy=sim_d["policy"], audit_fraction=asm["audit_fraction"],
                 aging_cap_days=asm["aging_cap_days"], miss_bound_ok=asm["miss_bound_ok"],
                 inflow_per_day=asm["inflow_per_day"])
    worklist = pile_worklist(run, truth_seed=sim_d["seed"])
    base = sensitivity_table(worklist, grid={"policy": [sim_d["policy"]]}, **common,
                             **{k: v for k, v in fixed.items() if k != "policy"})[0]
    rows = []
    for axis in axes(run):
        if not axis.values:
            continue
        kw = {k: v for k, v in fixed.items() if k != axis.key}
        if axis.key == "inflow_per_day":
            kw["inflow_days"] = _inflow_days(run, float(axis.values[0]))  # one inflow value
        for (setting, value), row in zip(
            axis.rows(),
            sensitivity_table(worklist, grid={axis.key: list(axis.values)}, **common, **kw),
            strict=True,
        ):
            rows.append({"axis": axis.label, "key": axis.key, "setting": setting, "value": value,
                         "model_based_truth": True, "resampled_prevalence": axis.key == "prevalence",
                         **{k: v for k, v in row.items() if k != axis.key}})
    return {
        "base": {"axis": "As run", "setting": "all assumptions as in metrics.json", **base},
        "rows": rows, "n_reps": common["n_reps"], "seed": common["seed"],
        "worklist": run.get("pile.worklist", "worklist.parquet"),
        "note": "one assumption changed at a time; waiting times use abnormal status drawn from "
                "the calibrated probabilities (model-based) in every row; * prevalence rows "
                "resample the pile to that share and keep the run's thresholds",
    }


def load_or_compute(run: RunArtifacts, *, recompute: bool = False,
                    n_reps: int | None = None) -> dict[str, Any]:
    """sensitivity.json from the run dir, (re)computed and saved when absent or asked."""
    path = run.run_dir / SENSITIVITY_FILE
    if path.is_file() and not recompute:
        return json.loads(path.read_text())
    table = compute_sensitivity(run, n_reps=n_reps)
    write_strict_json(path, table)
    return table
