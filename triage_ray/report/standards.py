"""The chosen model under every guarantee standard (`xray.standards`), for the model card."""

from __future__ import annotations

from typing import Any

from triage_ray.report.doc import Para, Table
from triage_ray.report.fmt import NA, ci_pct, num, pct
from triage_ray.report.run import RunArtifacts

FAMILY_WORDS = {
    "npv": "NPV: abnormal among cleared <=",
    "sensitivity": "Sensitivity: abnormal cleared <=",
    "non_inferior": "Non-inferiority: misses added to today's reading <=",
}


def _rate(r: dict[str, Any]) -> str:
    return ci_pct({"value": r["rate"], "ci_low": r["ci_low"], "ci_high": r["ci_high"]}) + (
        f", {num(r['k'], 0)} of {num(r['n'], 0)}")


def standards_blocks(run: RunArtifacts) -> list[Para | Table]:
    """A table of every family x level with today's reading beside it (a note for older runs)."""
    st = run.get("standards", None)
    if not st:
        return [Para("This run predates the comparison across guarantee standards.")]
    rows = tuple(
        (f"{FAMILY_WORDS.get(r['family'], r['family'])} {pct(r['level'], 1)}",
         num(r["threshold"], 4) if r["threshold"] is not None else "none certifies",
         pct(r["cleared_select"]), _rate(r["cleared_test"]),
         _rate(r["risk_test"]) if r["risk_test"]["n"] else NA)
        for r in st["rows"])
    today = st["todays_reading"]
    same = (" The reference here IS the written label, so non-inferiority equals sensitivity."
            if st["clinical_is_reference"] else "")
    return [
        Table(("Standard (risk level)", "Threshold (p <)", "Cleared, select",
               "Cleared, test (95% CI)", "Risk on test (95% CI)"), rows,
               widths=(34, 12, 12, 21, 21),
               caption=f"Each standard certified on the select reference studies at "
                       f"{pct(1 - st['delta'], 0)} confidence (Learn-then-Test, exact binomial), "
                       f"checked on the test ones; against {st['reference']}. Thresholds only: "
                       "throughput under each is not simulated yet."),
        Para(f"Today's reading ({st['clinical']}) against the same reference on test: studies it "
             f"calls normal {_rate(today['called_normal'])}; abnormal among those "
             f"{_rate(today['abnormal_among_called_normal'])}; abnormal studies it calls normal "
             f"{_rate(today['abnormal_called_normal'])}.{same}"),
    ]
