"""The memo's figures with the interval that covers what varies, and their plain-word formats.

Each worklist figure is the run's own value (metrics.json: the mean over simulated replications)
with the study-bootstrap interval from `metrics.uncertainty` (resampled studies, re-fitted
thresholds, reading noise; `triage_ray.xray.uncertainty`). A run written before that stage
existed falls back to the replication-only interval, and the memo says which one it prints.
"""

from __future__ import annotations

from typing import Any

from triage_ray.report.fmt import NA, is_number, num, pct
from triage_ray.report.run import RunArtifacts

HOURS_PER_DAY = 24.0


def basis(run: RunArtifacts) -> str:
    """Where the waiting-time figures come from: the pile itself (truth known: generated) or a
    pile drawn from the labelled test split (a real pile has no labels)."""
    return "pile" if run.get("pile.truth_known") else "test"


def figure(run: RunArtifacts, where: str, key: str) -> dict[str, Any]:
    """{"value", "ci_low", "ci_high"}: the run's figure `key` on `where` ("pile" or "test")."""
    sim = run.get("pile.simulation" if where == "pile" else "simulation")
    m = sim["metrics"].get(key) or {}
    value = m.get("mean")
    unc = run.get("uncertainty", None)
    if unc and key in unc.get(where, {}):
        b = unc[where][key]
        return {"value": value, "ci_low": b["ci_low"], "ci_high": b["ci_high"]}
    return {"value": value, "ci_low": m.get("ci_low"), "ci_high": m.get("ci_high")}


def interval_note(run: RunArtifacts) -> str:
    """One plain sentence on what the ranges cover."""
    unc = run.get("uncertainty", None)
    if unc:
        return (f"Ranges in brackets are 95% ranges: they allow for which studies happened to be "
                f"in the data, for the cut-offs chosen on them and for day-to-day variation in "
                f"reading ({num(unc['n_boot'], 0)} re-runs on resampled studies).")
    return ("Ranges in brackets cover only day-to-day variation in reading, not which studies "
            "happened to be in the data (this run predates the wider ranges), so they are too "
            "narrow.")


def scaled(m: dict[str, Any], scale: float) -> dict[str, Any]:
    return {k: (v * scale if is_number(v) else v) for k, v in m.items()}


def days(m: dict[str, Any]) -> dict[str, Any]:
    """Calendar hours -> calendar days."""
    return scaled(m, 1.0 / HOURS_PER_DAY)


def ranged(m: dict[str, Any] | None, digits: int = 1, *, percent: bool = False,
           prefix: str = "") -> str:
    """"12.3 (range 10.1-14.0)" for page 1 (no statistics words); n/a when there is no value."""
    if not m or not is_number(m.get("value")):
        return NA

    def f(x: float) -> str:
        return pct(x, digits) if percent else prefix + num(x, digits)

    text = f(m["value"])
    lo, hi = m.get("ci_low"), m.get("ci_high")
    if is_number(lo) and is_number(hi):
        text += f" (range {f(lo)} to {f(hi)})"
    return text


def excludes(m: dict[str, Any], x: float) -> str | None:
    """"above" / "below" when the interval lies wholly on one side of x, else None."""
    lo, hi = m.get("ci_low"), m.get("ci_high")
    if not (is_number(lo) and is_number(hi)):
        return None
    return "above" if lo > x else "below" if hi < x else None
