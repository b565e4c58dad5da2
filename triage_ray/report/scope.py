"""What the X-ray triage model is for, and its limitations, worded once.

The memo and the model card both print these, so operations and the ML team read the same
limits; the rules of use (what it must NOT be used for, with owner and enforcement) are
`memo_tables.rules`. The words are written here; every number in them is read from the run.
"""

from __future__ import annotations

from typing import Any

from triage_ray.report.fmt import num, pct
from triage_ray.report.run import RunArtifacts
from triage_ray.xray.gate import SHIFT, WEAK_CATCH

# Published source for the label-noise caveat (no figure from it is printed: the memo prints only
# the run's own numbers). Majkowska et al., Radiology 2019: a radiologist panel re-read NIH
# ChestX-ray14 images and found findings in many labelled "No Finding".
LABEL_NOISE_SOURCE = "Majkowska et al., Radiology 2019"


def views_seen(run: RunArtifacts) -> str:
    """"PA 61.2%, AP 38.8%" from the scored pile (the views the model was run on)."""
    try:
        views = run.worklist()["view"].replace("", "unknown").value_counts(normalize=True)
    except FileNotFoundError:
        return "n/a (worklist not found)"
    return ", ".join(f"{v} {pct(share)}" for v, share in views.items())


def gate_summary(run: RunArtifacts) -> dict[str, str] | None:
    """The intended-use gate's rules and counts in words (None for a run from before the gate)."""
    gate = run.get("pile.gate", None)
    if not gate:
        return None
    reasons = sorted(gate["by_reason"].items(), key=lambda kv: -kv[1])
    why = ", ".join(f"{k} {num(v, 0)}" for k, v in reasons) or "none"
    return {"rules": "; ".join(gate["rules"]), "n": num(gate["n_not_triaged"], 0),
            "of": num(gate["n_studies"], 0), "share": pct(gate["n_not_triaged"] / gate["n_studies"]),
            "why": why}


def shift_checks(run: RunArtifacts) -> dict[str, str] | None:
    """Which realistic shifts the feature check was shown to catch, which it mostly missed, and
    which no probe stood for, in words with each catch rate (None for a run without them)."""
    gate = run.get("pile.gate", None)
    probes = ((gate or {}).get("check") or {}).get("probes") or {}
    shifts = {k: v for k, v in probes.items() if v.get("family") == SHIFT}
    if not shifts:
        return None

    def words(items: dict[str, dict]) -> str:
        return ", ".join(f"{k} {pct(v['rate'], 0)}" for k, v in items.items()) or "none"

    return {"caught": words({k: v for k, v in shifts.items() if (v["rate"] or 0) >= WEAK_CATCH}),
            "missed": words({k: v for k, v in shifts.items() if (v["rate"] or 0) < WEAK_CATCH}),
            "not_tested": "; ".join(gate["check"].get("not_tested", [])) or "none"}


def feature_check_comparison(check: dict[str, Any] | None) -> str | None:
    """Each feature check the run measured, on the same studies at the same false-flag target: its
    false flags and the share of each realistic-shift probe it flags alone, in words (None for a
    run from before the comparison)."""
    compared = (check or {}).get("compared")
    if not compared:
        return None
    shift = {k for k, v in check["probes"].items() if v.get("family") == SHIFT}
    parts = []
    for method, c in compared.items():
        ff = c["false_flag_test"]
        rates = ", ".join(f"{k} {pct(v['rate'], 0)}" for k, v in c["feature_check_alone"].items()
                          if k in shift)
        used = " (used)" if method == check["detector"].get("feature_check") else ""
        parts.append(f"{method}{used}: flags {pct(ff['rate'])} of in-scope test studies; "
                     f"{rates}")
    return "Feature checks compared on the same films: " + "; ".join(parts) + "."


def refused_all(run: RunArtifacts) -> str | None:
    """Why the gate refused every pile study, in words ("age not stated for 100% of studies"), or
    None when some study was inside the intended use (or the run predates the gate)."""
    return refusal_words(run.get("pile.gate", None))


def refusal_words(gate: dict[str, Any] | None) -> str | None:
    """`refused_all` from the gate's report itself (summary.md renders from metrics alone)."""
    if not gate or not gate.get("nothing_in_scope"):
        return None
    return "; ".join(f"{r['reason']} for {pct(r['share'], 0)} of studies"
                     for r in gate.get("top_reasons", [])) or "every study failed a rule"


def declaration(run: RunArtifacts) -> str | None:
    """The site's declaration that stood in for a stripped tag (`IntendedUse.declaration`)."""
    gate = run.get("pile.gate", None)
    return (gate or {}).get("declaration")


def validated_range(run: RunArtifacts) -> str:
    lo, hi = run.get("pile.prevalence.validated_range")
    return f"{pct(lo, 0)}-{pct(hi, 0)}"


UNCERTAIN_ORDER_WORDS = {
    "expected_wait_harm": "most likely abnormal first",
    "harm_if_unread": "those whose read most changes a decision first",
}


def intended_use(run: RunArtifacts) -> list[str]:
    alpha = run.get("abstention.alpha")
    order = UNCERTAIN_ORDER_WORDS.get(run.cfg("uncertain_order", "harm_if_unread"), "")
    return [
        "Sorting an unreported backlog of adult chest radiographs into three reading queues: "
        f"**priority** (read first), **uncertain** (read next, {order}) and "
        "**auto-normal** (cleared without a read, except a random audit).",
        f"Used under a pilot protocol that audits auto-cleared studies and stops auto-clearing "
        f"when the audited abnormal rate exceeds the target of {pct(alpha)}.",
        "Users: radiology operations and reporting radiologists; the model's output is a "
        "queue position, never a finding shown to a referrer or a patient.",
    ]


def limitations(run: RunArtifacts) -> list[str]:
    items = [
        "Trained at low resolution on a single source; performance on other scanners, sites and "
        "populations is unknown until measured there.",
        "The miss-rate bound is a finite-sample statement on the selection split "
        f"({num(run.get('abstention.n_selection'), 0)} studies) and assumes new studies are "
        "exchangeable with it (apart from the estimated prevalence shift).",
        "Throughput and waiting times come from a simulation of reading, not from a live "
        "department: its assumptions are listed with the results and varied in the memo.",
        f"Labels are noisy (NIH-style, {LABEL_NOISE_SOURCE}); AUROC and calibration are measured "
        "against them.",
    ]
    if run.get("generated_data"):
        items.insert(0, "**This run used generated images**: its numbers describe the pipeline, "
                        "not clinical performance.")
    return items
