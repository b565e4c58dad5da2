"""Results by subgroup in the model card, read from metrics.json (`subgroups`)."""

from __future__ import annotations

from typing import Any

from triage_ray.report.doc import Para, Table
from triage_ray.report.fmt import ci, num, pct
from triage_ray.report.run import RunArtifacts


def subgroup_table(run: RunArtifacts) -> Table | Para:
    """Test-split results by view, sex and age band (xray.subgroups)."""
    sg = run.get("subgroups", None)
    if not sg:
        return Para("No subgroup results in this run.")
    has_truth = "auroc_truth" in sg["overall"]

    def cells(label: str, r: dict[str, Any]) -> tuple:
        if r.get("too_small"):
            return (label, num(r["n"], 0), f"too few (< {sg['min_studies']}) or one class", "",
                    *(("",) if has_truth else ()), "", "")
        b = r["buckets"]
        return (label + (" (below overall)" if r.get("below_overall") else ""), num(r["n"], 0),
                ci(r["auroc_written"], 3), ci(r["ece"], 3),
                *((ci(r["auroc_truth"], 3),) if has_truth else ()),
                f"{pct(b['auto_normal']['value'], 1)} ({pct(b['auto_normal']['ci_low'], 1)}-"
                f"{pct(b['auto_normal']['ci_high'], 1)})",
                f"{pct(b['priority']['value'], 1)} ({pct(b['priority']['ci_low'], 1)}-"
                f"{pct(b['priority']['ci_high'], 1)})")

    rows = [cells("all test studies", sg["overall"])]
    for name, groups in sg["groups"].items():
        rows += [cells(f"{name}: {r['group']}", r) for r in groups]
    head = ("Subgroup", "Studies", "AUROC vs written", "ECE",
            *(("AUROC vs truth",) if has_truth else ()), "Auto-normal", "Priority")
    flagged = ", ".join(sg["flagged"]) or "none"
    return Table(head, rows, caption=(
        f"Held-out test split; 95% CIs ({sg['n_boot']} patient-bootstrap replicates for AUROC and "
        "ECE, Clopper-Pearson for bucket shares) at the chosen thresholds. Subgroups whose AUROC "
        f"interval lies wholly below the overall AUROC: {flagged}."))
