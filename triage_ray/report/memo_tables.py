"""The memo's tables: the reading order in days, the rules of use, the scenarios, the subgroups.

Each is built from the run's artifacts only (metrics.json, sensitivity.json) and returned as a
`doc.Table`; the memo template places them by name.
"""

from __future__ import annotations

from typing import Any

from triage_ray.report import scope
from triage_ray.report.doc import Table
from triage_ray.report.fmt import cci, is_number, num, pct
from triage_ray.report.memo_figures import basis, days, figure, ranged
from triage_ray.report.run import RunArtifacts

MAX_SCENARIO_ROWS = 8  # the run's row and the ones that change the conclusion or show it holds
COMPACT_SCENARIO_ROWS = 5  # the same, when the memo has to be shortened to fit its pages


# ----------------------------------------------------------------------------- page 1
def reorder_rows(run: RunArtifacts) -> list[tuple[str, str, str]]:
    """(what, without the model, with the model) in calendar days, each with its range."""
    w = basis(run)

    def pair(with_key: str, without_key: str) -> tuple[str, str]:
        return (ranged(days(figure(run, w, without_key))),
                ranged(days(figure(run, w, with_key))))

    later = figure(run, w, "abnormal_read_later_share")
    cleared = figure(run, w, "auto_cleared")
    return [
        ("Abnormal studies: typical (median) days from arrival to report",
         *pair("abnormal_ttr_median_hours", "abnormal_ttr_median_hours_no_ai")),
        ("Abnormal studies: days until 9 in 10 are reported",
         *pair("abnormal_ttr_p90_hours", "abnormal_ttr_p90_hours_no_ai")),
        ("Normal studies: typical (median) wait for a read, days",
         *pair("normal_wait_median_hours", "normal_wait_median_hours_no_ai")),
        ("Normal studies: longest wait for a read, days",
         *pair("normal_wait_max_hours", "normal_wait_max_hours_no_ai")),
        ("Abnormal studies read LATER than in arrival order", "none (this is the baseline)",
         ranged(later, 0, percent=True)),
        ("Studies cleared without a radiologist read", "0", ranged(cleared, 0)),
    ]


def reorder_table(run: RunArtifacts) -> Table:
    w = basis(run)
    sim = run.get("pile.simulation" if w == "pile" else "simulation")
    where = (f"the {num(run.get('pile.n_scored'), 0)}-study pile (its true status is known only "
             "because it was generated)" if w == "pile" else
             f"a {num(run.get('pile.n_scored'), 0)}-study pile drawn from the "
             f"{num(run.get('simulation.n_studies'), 0)} labelled test studies (the real pile's "
             "true status is unknown)")
    s = sim["staffing"]
    week = s.get("reading_days_per_week", 7)
    return Table(
        ("Whole backlog read by the radiologists", "Without the model (arrival order)",
         "With the model's order"),
        tuple(reorder_rows(run)), widths=(44, 28, 28),
        caption=f"Simulated on {where}: {s['radiologists']} radiologists x "
                f"{s['hours_per_day']:g} h/day x {s['reads_per_hour']:g} reads/h, {week} reading "
                "days a week; days are calendar days, nights and days off included.",
    )


# ----------------------------------------------------------------------------- rules of use
def rules(run: RunArtifacts) -> list[tuple[str, str, str]]:
    """(rule, owner, how it is enforced or monitored): one list, matching what the software does.

    Rules that do not apply at this operating point (the audit and stop rule when nothing is
    cleared unread) are left out; the rule that replaces them comes first."""
    pol = run.get("pile.policy")
    cleared = bool(pol["feasible"]) and run.get("pile.bucket_counts.auto_normal") > 0
    audit = run.get("pile.simulation.assumptions.audit_fraction")
    views = scope.views_seen(run)
    out = []
    if not cleared:
        out.append((
            "**Never clear a study without a read** at this operating point.",
            "Head of clinical operations",
            "Enforced: the software clears a study only when the miss-rate guarantee holds; "
            "here it cleared none, and there is no override."))
    else:
        from triage_ray.report.memo import stop_rule

        k, n = stop_rule(run)
        out.append((
            f"**Clear unread only while the daily audit runs:** a random {pct(audit, 0)} of "
            "cleared studies is read, blind to the queue.",
            "Reporting radiologist lead",
            "Not enforced by the software (the worklist does not draw the audit sample): the "
            f"pilot protocol must. Stop rule: pause clearing if {k} or more of the first "
            f"{num(n, 0)} audited studies are abnormal."))
        out.append((
            "**Do not quote the guarantee as a true miss rate.** It holds against the "
            f"{run.get('reference.label_source')}, not against the truth.",
            "ML team", "Monitored: audited reads are compared with the guarantee weekly."))
    out += [
        ("**Not a diagnosis or a report.** It only orders the reading list.",
         "Reporting radiologists",
         "By design: the output is a queue position; it names no finding and goes to no referrer "
         "or patient."),
        _scope_rule(run, views),
        ("**Not when the case mix has moved.** The cut-offs hold only for the checked range of "
         f"abnormal shares ({scope.validated_range(run)}).", "ML team",
         "Partly enforced: each run re-estimates the pile's abnormal share two ways and sets the "
         "cut-offs for the worst end of both; if the estimates leave the range or disagree, "
         "page 1 says 'investigate'. Re-run weekly."),
        ("**Not an urgent-findings alert.** The priority queue is a reading order; the model "
         "sees only pixels.", "Head of clinical operations",
         "Not by the software: urgent findings go through the existing pathways."),
    ]
    return out


def _scope_rule(run: RunArtifacts, views: str) -> tuple[str, str, str]:
    """The intended-use row, read from the gate's report (the gate and this row share one
    definition, `gate.IntendedUse`)."""
    g = scope.gate_summary(run)
    if g is None:  # a run from before the gate
        return ("**Not for lateral views, children (under 18), other body parts or other sites' "
                "scanners.**", "Radiology IT (PACS) lead",
                f"Not enforced by this run: every study in the pile was scored (views: {views}).")
    sh = scope.shift_checks(run)
    shifts = (f" Shown to catch (share of probe films): {sh['caught']}; caught fewer than half: "
              f"{sh['missed']}; not tested: {sh['not_tested']}." if sh else "")
    return (f"**Only for: {g['rules']}.** Other sites' scanners need their own validation.",
            "Radiology IT (PACS) lead",
            f"Enforced before scoring: a study outside this is not triaged and is read as usual "
            f"({g['n']} of {g['of']} here: {g['why']}). Other sites: not checked by the "
            f"software.{shifts}")


def rules_table(run: RunArtifacts) -> Table:
    return Table(("Rule", "Owner", "How it is enforced or monitored"), tuple(rules(run)),
                 widths=(36, 16, 48))


# ----------------------------------------------------------------------------- scenarios
# what each scenario verdict says (the caption names the run's own)
VERDICT_MEANING = {
    "gain": "'gain' means the throughput gain's 95% CI lies above 1 with the guarantee met",
    "no gain": "'no gain' means the throughput gain's 95% CI reaches down to 1 or below, or the "
               "guarantee is not met",
}


def _row_verdict(r: dict[str, Any]) -> str:
    low = r.get("throughput_multiplier_ci_low")
    return "gain" if r["feasible"] and is_number(low) and low > 1.0 else "no gain"


def _hours_to_days(x: Any) -> str:
    return num(days({"value": x})["value"], 1)


def _cells(r: dict[str, Any], base_verdict: str) -> tuple[str, ...]:
    tm = {"mean": r["throughput_multiplier"], "ci_low": r["throughput_multiplier_ci_low"],
          "ci_high": r["throughput_multiplier_ci_high"]}
    verdict = _row_verdict(r)
    holds = "yes" if verdict == base_verdict else f"NO ({verdict})"
    return (f"{r['axis']}: {r['setting']}", cci(tm), num(r["days_to_clear"], 1),
            f"{_hours_to_days(r.get('abnormal_ttr_median_hours'))} / "
            f"{_hours_to_days(r.get('abnormal_ttr_median_hours_no_ai'))}",
            f"{_hours_to_days(r.get('normal_wait_max_hours'))} / "
            f"{_hours_to_days(r.get('normal_wait_max_hours_no_ai'))}", holds)


def _effect(r: dict[str, Any], base: dict[str, Any]) -> float:
    """How far a row moves the result: relative change in days to clear and in abnormal wait."""
    def rel(k: str) -> float:
        a, b = r.get(k), base.get(k)
        return abs(a - b) / b if is_number(a) and is_number(b) and b else 0.0

    return rel("days_to_clear") + rel("abnormal_ttr_median_hours")


def scenario_rows(sens: dict[str, Any], max_rows: int = MAX_SCENARIO_ROWS) -> list[dict[str, Any]]:
    """At most `max_rows`: the run's row, every row that changes the conclusion, then the
    strongest row of each remaining assumption (the ones that test whether it holds)."""
    base = sens["base"]
    verdict = _row_verdict(base)
    rows = sens["rows"]
    changes = [r for r in rows if _row_verdict(r) != verdict]
    rest: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r in changes:
            continue
        if r["axis"] not in rest or _effect(r, base) > _effect(rest[r["axis"]], base):
            rest[r["axis"]] = r
    ranked = changes + sorted(rest.values(), key=lambda r: -_effect(r, base))
    return [base] + ranked[:max_rows - 1]


def scenario_table(sens: dict[str, Any], max_rows: int = MAX_SCENARIO_ROWS) -> Table:
    verdict = _row_verdict(sens["base"])
    rows = tuple(_cells(r, verdict) for r in scenario_rows(sens, max_rows))
    return Table(
        ("Scenario (one change at a time)", "Throughput x (95% CI)", "Working days to clear",
         "Abnormal: median days to report, with / without", "Normal: longest wait, days, with / "
         "without", "Conclusion holds?"),
        rows, widths=(30, 17, 10, 15, 15, 13),
        caption=f"Re-simulated on this pile ({sens['n_reps']} replications, seed {sens['seed']}; "
                f"{len(sens['rows'])} scenarios run, {len(rows) - 1} shown: those that change the "
                f"conclusion, then the strongest of each kind). {sens['note']}. Conclusion: "
                f"{VERDICT_MEANING[verdict]}.",
    )


# ----------------------------------------------------------------------------- subgroups
def subgroup_memo_table(run: RunArtifacts, scored_only: bool = False) -> Table | None:
    """The short subgroup table: ranking accuracy, calibration error and queue shares
    (`scored_only`: without the groups too small to score, which carry no figure; they are named
    in the caption and scored in the model card)."""
    sg = run.get("subgroups", None)
    if not sg:
        return None

    def share(b: dict[str, Any]) -> str:
        return f"{pct(b['value'], 0)} ({pct(b['ci_low'], 0)}-{pct(b['ci_high'], 0)})"

    def cells(label: str, r: dict[str, Any]) -> tuple[str, ...]:
        if r.get("too_small"):
            return (label, num(r["n"], 0), "too few to score", "", "", "")
        b = r["buckets"]
        flag = " (weaker)" if r.get("below_overall") else ""
        return (label + flag, num(r["n"], 0), cci(r["auroc_written"], 2), cci(r["ece"], 2),
                share(b["auto_normal"]), share(b["priority"]))

    rows = [cells("All test studies", sg["overall"])]
    left_out = []
    for name, groups in sg["groups"].items():
        for r in groups:
            if scored_only and r.get("too_small"):
                left_out.append(f"{name} {r['group']}")
            else:
                rows.append(cells(f"{name} {r['group']}", r))
    small = (f" Too few studies to score, left out here: {', '.join(left_out)}." if left_out
             else "")
    return Table(("Group (test split)", "Studies", "AUROC (95% CI)", "ECE (95% CI)",
                  "Cleared queue", "Priority queue"), tuple(rows),
                 widths=(22, 10, 19, 19, 15, 15),
                 caption="AUROC against the written labels; '(weaker)': the group's AUROC "
                         f"interval lies wholly below the overall figure.{small} Full table, and "
                         "AUROC against the generator's truth, in the model card.")
