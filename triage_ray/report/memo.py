"""The decision memo for clinical operations: memo.pdf (at most 3 pages), memo.md and memo.html.

Readers are a head of clinical operations and a pilot steering group. The memo answers, in order:
the question; the recommendation and its operating point; what the model does to the worklist;
what it must not be used for; which assumptions the result rests on and how it moves with them;
how to monitor a pilot. Every number is formatted from the run's metrics.json, config.json,
worklist.parquet and sensitivity.json; the recommendation itself is a rule over those numbers
(`decide`), so a rerun with different results rewrites the advice, not just the figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from triage_ray.common.stats import clopper_pearson
from triage_ray.report import brief, figures, scope
from triage_ray.report.doc import (
    Bullets,
    Callout,
    Document,
    Figure,
    FigureRow,
    Heading,
    Para,
    Table,
)
from triage_ray.report.fmt import NA, calibrated_as, ci, ci_pct, interval, is_number, num, pct, point
from triage_ray.report.pdf import write_pdf
from triage_ray.report.render import to_html, to_markdown
from triage_ray.report.run import RunArtifacts
from triage_ray.report.sensitivity import load_or_compute
from triage_ray.xray.select import SELECTION_RULE, rank_trials

MAX_PAGES = 3
MEMO_FILES = ("memo.pdf", "memo.md", "memo.html")
MAX_SCENARIO_ROWS = 8  # the base row and the scenarios most likely to change the conclusion
PER_1000 = 1000.0


@dataclass(frozen=True)
class Decision:
    """The memo's verdict: `proceed` only if every check passed; `reasons` say which did not."""

    proceed: bool
    headline: str
    reasons: tuple[str, ...]


def decide(run: RunArtifacts) -> Decision:
    """Rule: auto-clear in a supervised pilot only if the miss-rate bound holds on the pile's
    re-chosen thresholds, the pile's prevalence lies in the validated range, and the simulated
    throughput multiplier's 95% CI lies above 1."""
    pile_sim = run.get("pile.simulation")
    tm = pile_sim["metrics"]["throughput_multiplier"]
    reasons = []
    if not (run.get("pile.policy.feasible") and pile_sim["feasible"]):
        reasons.append(f"the miss-rate bound does not hold at the target of "
                       f"{pct(run.get('abstention.alpha'))} abnormal among auto-cleared studies")
    if not run.get("pile.prevalence.in_validated_range"):
        reasons.append(f"the pile's estimated abnormal prevalence "
                       f"({ci_pct(run.get('pile.prevalence.em'))}) is outside the validated range "
                       f"{scope.validated_range(run)}")
    moved = [r for r in run.get("pile.prevalence.untrusted_because")
             if r.startswith("covariate shift")]
    if moved:
        reasons.append("the pile's studies differ from the labelled data beyond chance ("
                       + "; ".join(r.removeprefix("covariate shift: ") for r in moved)
                       + "), so its prevalence estimate is not trusted")
    if not (is_number(tm.get("ci_low")) and tm["ci_low"] > 1.0):
        reasons.append(f"the simulated throughput gain is not shown (multiplier {ci(tm)})")
    if not reasons:
        return Decision(True, "Proceed to a supervised pilot of auto-clearing at the operating "
                              "point below, with the audit and stop rule in the last section.", ())
    return Decision(False, "Do not auto-clear studies yet. The model may still order the "
                           "reading list (every study read), which needs no miss-rate bound.",
                    tuple(reasons))


def stop_rule(run: RunArtifacts) -> tuple[int, int]:
    """(k, n): stop auto-clearing if >= k of the first n audited auto-cleared studies are abnormal.

    n is the audit the run's pile would produce; k is the smallest count that a true abnormal rate
    of alpha reaches with probability <= delta (one-sided exact binomial test)."""
    from scipy.special import bdtrc  # bdtrc(k, n, p) = P(X > k), X ~ Binomial(n, p)

    alpha, delta = run.get("abstention.alpha"), run.get("abstention.delta")
    audit = run.get("pile.simulation.assumptions.audit_fraction")
    n = max(1, round(audit * run.get("pile.bucket_counts.auto_normal")))
    k = next(k for k in range(1, n + 2) if k > n or bdtrc(k - 1, n, alpha) <= delta)
    return k, n


def reliability(run: RunArtifacts) -> Figure:
    """The reliability diagram (raw vs temperature-scaled) drawn into run_dir/figures/."""
    rel = run.get("calibration.reliability")
    return Figure(figures.reliability_figure(
        {"before": rel["before"], "after": rel["after"]}, run.figures_dir / "reliability.png",
        labels={"before": "raw", "after": calibrated_as(run.get("calibration"))}),
        "Reliability on the held-out test split: bins near the diagonal mean the stated "
        "probability matches the observed abnormal rate; the lower panel counts the studies in "
        "each bin (log scale).")


def _draw_figures(run: RunArtifacts) -> tuple[Figure, ...]:
    fig_dir = run.figures_dir
    pile_n = run.get("pile.n_scored")
    frontier = brief.frontier_figure(run)
    return (
        reliability(run),
        frontier or Figure(figures.bucket_figure(
            run.get("pile.bucket_counts"), fig_dir / "buckets.png",
            title=f"The {num(pile_n, 0)}-study pile by bucket"),
            "Studies per queue on the pile (priority read first; auto-normal cleared except "
            "the audit)."),
        Figure(figures.backlog_figure(
            run.get("pile.simulation.backlog"), fig_dir / "backlog.png",
            policy_label=f"with model ({run.get('pile.simulation.policy')})"),
               "Studies still waiting at the end of each reading day (simulated mean)."),
    )


def _metric_row(label: str, name: str, pile: dict, test: dict, digits: int = 2,
                pile_truth: bool = True) -> tuple[str, str, str]:
    p = ci(pile["metrics"].get(name), digits) if pile_truth else "n/a (pile unlabeled)"
    return (label, p, ci(test["metrics"].get(name), digits))


def _worklist_table(run: RunArtifacts) -> Table:
    pile, test = run.get("pile.simulation"), run.get("simulation")
    truth = bool(run.get("pile.truth_known"))
    n = num(run.get("pile.n_scored"), 0)
    rows = [
        _metric_row("Throughput multiplier (studies dispositioned per radiologist reading-hour, "
                    "vs reading everything in arrival order)", "throughput_multiplier", pile, test),
        _metric_row(f"Reading days to clear the {n}-study pile, with the model", "days_to_clear",
                    pile, test, 1),
        _metric_row("... without the model (read everything, first in first out)",
                    "days_to_clear_no_ai", pile, test, 1),
        _metric_row("Abnormal studies: median hours from arrival to report",
                    "abnormal_ttr_median_hours", pile, test, 1, truth),
        _metric_row("... as a ratio of the same without the model (< 1 is sooner)",
                    "abnormal_ttr_median_ratio", pile, test, 2, truth),
        _metric_row("Worst wait of a normal study that is read (hours)", "normal_wait_max_hours",
                    pile, test, 1, truth),
        _metric_row("Studies auto-cleared (not read)", "auto_cleared", pile, test, 0),
        _metric_row("Missed abnormals per 1,000 auto-cleared (simulated)",
                    "missed_per_1000_auto_cleared", pile, test, 1, truth),
        _metric_row("Radiologist utilisation while clearing (fraction of staffed hours)",
                    "utilisation", pile, test, 2),
    ]
    return Table(
        ("Effect on the worklist (mean, 95% CI over simulation replications)",
         f"This pile ({n} studies)", f"Held-out test split, labels known ({test['pile']})"),
        tuple(rows), widths=(50, 25, 25),
        caption=f"SimPy model: {_staffing_text(pile)}; policy {pile['policy']}, "
                f"{pile['n_reps']} replications. Days are reading days; hours are calendar hours.",
    )


def _staffing_text(sim: dict[str, Any]) -> str:
    s = sim["staffing"]
    return (f"{s['radiologists']} radiologists x {s['hours_per_day']:g} reading h/day x "
            f"{s['reads_per_hour']:g} reads/h ({sim['assumptions']['read_time']}, "
            f"CV {s['read_time_cv_effective']:g})")


def _bound_paragraph(run: RunArtifacts) -> Para:
    ab, pol = run.get("abstention"), run.get("pile.policy")
    tc = ab["test_check"]
    conf = 1.0 - ab["delta"]
    target = num(PER_1000 * pol["alpha"], 1)
    if not pol["feasible"]:
        return Para(
            f"**Miss-rate guarantee: not met.** No auto-normal threshold keeps the abnormal rate "
            f"among auto-cleared studies at or below {target} per 1,000 with {pct(conf, 0)} "
            f"confidence on the {num(pol['n_selection'], 0)} selection studies matched to the "
            f"pile's prevalence ({pol['bound_statistic']}). Auto-clearing gets no credit in the "
            "simulation and must not be switched on." + _how_far_off(pol) + " "
            + brief.reference_text(run) + " " + brief.written_comparison(run))
    text = (
        f"**Miss-rate guarantee.** With {pct(conf, 0)} confidence, the abnormal rate among "
        f"auto-cleared studies is at most **{num(_per1000(pol['bound']), 1)} per 1,000** at the "
        f"pile's thresholds (target {target}; {pol['bound_statistic']}, "
        f"{num(pol['n_selection'], 0)} selection studies matched to the pile's prevalence). "
    )
    if tc["n_auto_normal"]:
        lo, hi = clopper_pearson(tc["abnormal_among_auto_normal"], tc["n_auto_normal"])
        text += (f"Check on held-out test studies the thresholds never saw: "
                 f"{tc['abnormal_among_auto_normal']} abnormal of {num(tc['n_auto_normal'], 0)} "
                 f"auto-normal = {num(_per1000(tc['rate']), 1)} per 1,000 (95% CI "
                 f"{num(_per1000(lo), 1)}-{num(_per1000(hi), 1)}, exact binomial).")
    else:
        text += "No held-out test study fell in the auto-normal bucket, so there is no check."
    if run.get("pile.truth_known"):
        text += (" The pile's own missed count is known only because the pile was generated: "
                 f"{ci(run.get('pile.simulation.metrics.missed_abnormals'), 1)} studies.")
    return Para(text + " " + brief.reference_text(run) + " " + brief.written_comparison(run))


def _how_far_off(pol: dict[str, Any]) -> str:
    """What the model could certify instead, from the policy's coverage curve (if recorded)."""
    rows = [r for r in pol.get("coverage_curve") or [] if is_number(r.get("upper_bound"))]
    if not rows:
        return ""
    parts = [f"the lowest-scored {pct(r['coverage'], 0)}: at most "
             f"{num(_per1000(r['upper_bound']), 0)} per 1,000" for r in rows]
    return (" For scale, what these data can certify instead (abnormal among auto-cleared, upper "
            "95% bound, all rows together): " + "; ".join(parts) + ".")


def _per1000(x: Any) -> Any:
    return PER_1000 * x if is_number(x) else None


def _operating_point(run: RunArtifacts) -> Bullets:
    pol, best = run.get("pile.policy"), run.get("best")
    cov = pol["coverage"]
    audit = run.get("pile.simulation.assumptions.audit_fraction")
    prev = run.get("pile.prevalence")
    return Bullets((
        f"Model: **{best['backbone']}** (learning rate {best['lr']:g}), chosen from "
        f"{run.get('sweep.n_trials')} trained configurations by what they do to the simulated "
        f"worklist on the selection split (bound, throughput, abnormal time-to-read, then AUROC); "
        f"probabilities {calibrated_as(run.get('calibration'))}.",
        f"Thresholds on the pile: auto-normal below **{num(pol['t_low'], 3)}**, "
        + (f"priority at or above **{num(pol['t_high'], 3)}**" if is_number(pol["t_high"]) else
           f"no priority queue (no threshold reaches the target precision of "
           f"{pct(pol['target_ppv'], 0)})")
        + f" (probability of abnormal, adjusted to the pile's estimated prevalence "
        f"{pct(prev['used_prior'])}); in between: uncertain.",
        f"Expected queue shares (selection data at the pile's prevalence): auto-normal "
        f"{pct(cov['auto_normal'])}, uncertain {pct(cov['uncertain'])}, priority "
        f"{pct(cov['priority'])}. Audit: a random {pct(audit, 0)} of auto-normal studies is read.",
    ))


def _assumption_table(sens: dict[str, Any]) -> Table:
    def row(r: dict[str, Any]) -> tuple[str, ...]:
        tm = {"mean": r["throughput_multiplier"], "ci_low": r["throughput_multiplier_ci_low"],
              "ci_high": r["throughput_multiplier_ci_high"]}
        holds = "yes" if (r["feasible"] and is_number(tm["ci_low"]) and tm["ci_low"] > 1) else "no"
        miss = r.get("missed_per_1000_auto_cleared")
        return (r["axis"], r["setting"], ci(tm), num(r["days_to_clear"], 1),
                num(miss, 1) if is_number(miss) else NA, holds)

    base = row(sens["base"])
    # at most MAX_SCENARIO_ROWS: the rows that change the conclusion first, then the others
    ranked = sorted((row(r) for r in sens["rows"]), key=lambda r: r[-1] == base[-1])
    rows = [base] + ranked[:MAX_SCENARIO_ROWS - 1]
    return Table(
        ("Assumption", "Setting", "Throughput multiplier", "Days to clear", "Missed /1,000*",
         "Gain shown"), tuple(rows), widths=(22, 24, 24, 10, 11, 9),
        caption=f"Re-simulated on this pile ({sens['n_reps']} replications, seed {sens['seed']}); "
                f"{sens['note']}. 'Gain shown': feasible and the multiplier's 95% CI above 1.",
    )


def _assumption_bullets(run: RunArtifacts) -> Bullets:
    sim = run.get("pile.simulation")
    asm = sim["assumptions"]
    cap = asm["aging_cap_days"]
    return Bullets((
        f"Reading capacity: {_staffing_text(sim)}; one read per study, no double reading; "
        f"{asm['clock']}.",
        f"The whole pile is waiting at the start; {num(asm['inflow_per_day'], 0)} new studies "
        f"arrive per day; aging cap {'none' if cap is None else f'{cap:g} days'}.",
        "Auto-cleared studies cost no radiologist time; an audited one costs a normal read. "
        "Reading a study the model called normal is assumed no faster than any other read.",
        "The model behaves on the pile as on the held-out data, apart from the estimated "
        "prevalence shift (label shift: the same image features per class).",
    ))


def _monitoring(run: RunArtifacts) -> Bullets:
    k, n = stop_rule(run)
    ab = run.get("abstention")
    prev = run.get("pile.prevalence")
    ece = run.get("calibration.after.ece")
    cov = run.get("pile.policy.coverage")
    wait = run.get("simulation.metrics.normal_wait_max_hours")
    if run.get("pile.policy.feasible") and run.get("pile.bucket_counts.auto_normal"):
        stop = (f"**Stop rule:** pause auto-clearing if **{k} or more of the first {num(n, 0)}** "
                f"audited auto-cleared studies are abnormal (an abnormal rate above "
                f"{pct(ab['alpha'])} at {pct(1 - ab['delta'], 0)} confidence, exact binomial); "
                "radiologists read the audit blind to the bucket.")
    else:
        stop = ("**Stop rule:** not applicable - nothing is auto-cleared at this operating "
                "point; monitor the reading order only.")
    return Bullets((
        stop,
        f"**Prevalence:** re-estimate weekly (EM and BBSE, as here); act if either estimate "
        f"leaves {scope.validated_range(run)} or the two disagree (here EM "
        f"{pct(point(prev['em']))}, BBSE {pct(point(prev['bbse']))}).",
        f"**Queue shares:** expect auto-normal near {pct(cov['auto_normal'])} and priority near "
        f"{pct(cov['priority'])} of daily studies; a drift of more than a few points means the "
        "case mix or the images changed.",
        f"**Calibration:** on read studies, the calibration error (ECE) should stay within "
        f"{interval(ece, 3)} (test split, 95% CI); re-fit the temperature if it does not.",
        f"**Waiting:** track abnormal time-to-report and the longest wait of normal studies "
        f"(simulated worst normal wait {num(point(wait), 1)} h on the test split); add an aging "
        "cap if normals wait longer than the department accepts.",
    ))


def _evidence_table(run: RunArtifacts) -> Table:
    cal = run.get("calibration")
    b, a = cal["before"], cal["after"]
    rows = (
        ("AUROC (normal vs abnormal)", ci(b["auroc"], 3), ci(a["auroc"], 3)),
        ("Expected calibration error (ECE)", ci(b["ece"], 3), ci(a["ece"], 3)),
        ("Brier score", ci(b["brier"], 3), ci(a["brier"], 3)),
    )
    return Table(("Held-out test split", "Raw model", "Temperature-scaled"), rows,
                 widths=(40, 30, 30),
                 caption=f"{num(cal['n_eval'], 0)} test studies; temperature fitted on "
                         f"{num(cal['n_fit'], 0)} '{cal['fit_split']}' studies; 95% bootstrap "
                         "CIs.")


def ranked_trials(run: RunArtifacts) -> list[dict[str, Any]]:
    """Finished trials in the sweep's own selection order (`triage_ray.xray.select.rank_trials`)."""
    return rank_trials(run.get("sweep.trials"))


def trials_table(run: RunArtifacts, limit: int | None = None) -> Table:
    """The sweep's configurations side by side (all, or the best `limit`)."""
    ranked = ranked_trials(run)
    trials = run.get("sweep.trials")
    shown = ranked if limit is None else ranked[:limit]
    chosen = run.get("best.trial_id")
    def name(r: dict[str, Any]) -> str:
        aug = f", aug {r['augment']:.2f}" if is_number(r.get("augment")) else ""
        return (f"**{r['backbone']}**{aug} (chosen)" if r.get("trial_id") == chosen
                else f"{r['backbone']}{aug}")

    stopped = sum(t.get("status") == "stopped" for t in trials)
    rows = tuple(
        (name(r),
         f"{r['lr']:g}", num(r.get("test_auroc"), 3), num(r.get("throughput_multiplier"), 2),
         num(r.get("missed_per_1000_auto_cleared"), 1),
         num(_per1000(r.get("bound")), 1), "yes" if r.get("feasible") else "no")
        for r in shown
    )
    left = len(trials) - len(shown)
    return Table(
        ("Configuration", "Learning rate", "Test AUROC", "Throughput x", "Missed /1,000",
         "Bound /1,000", "Bound holds"), rows, widths=(26, 12, 12, 12, 13, 13, 12),
        caption=f"{len(trials)} trials ({len(ranked)} finished"
                + (f"; {stopped} stopped early on validation AUROC" if stopped else "")
                + "), ranked by the selection rule "
                f"({SELECTION_RULE}); the figures shown are the held-out test split's, reported "
                "only, never used to choose."
                + (f" {left} more in the sweep dashboard." if left > 0 else ""),
    )


def build_memo(run: RunArtifacts, sensitivity: dict[str, Any] | None = None) -> Document:
    """The memo's content (figures are drawn into run_dir/figures/)."""
    dec = decide(run)
    n = num(run.get("pile.n_studies"), 0)
    doc = Document(
        "Chest X-ray triage: should the model clear part of the reading backlog?",
        f"Decision memo for clinical operations - run {run.get('run_id')}, "
        f"{run.get('created')} - generated from the run's artifacts by triage-ray",
    )
    if run.get("generated_data"):
        doc.add(Callout(f"NOT A CLINICAL RESULT. {run.get('data_note')}"))
    else:
        doc.add(Callout(run.get("data_note"), tone="note"))
    skipped = run.get("pile.n_skipped")
    doc.add(
        Heading("The question"),
        Para(f"A backlog of {n} chest radiographs waits for a report. Can a triage model take "
             "part of it off the radiologists' list and put the abnormal studies first, "
             "without missing more abnormal studies than we accept, and how much sooner would "
             f"the backlog clear? ({num(run.get('pile.n_scored'), 0)} studies were scored; "
             f"{num(skipped, 0)} could not be read and stay on the list for a normal read.)"),
        Heading("Recommendation"),
        Para(f"**{dec.headline}**"),
    )
    if dec.reasons:
        doc.add(Bullets(tuple(f"Why: {r}." for r in dec.reasons)))
    doc.add(Heading("Does it double effective radiologist throughput?"),
            *brief.brief_paragraphs(run))
    doc.add(_operating_point(run), brief.operating_bullets(run),
            Heading("What the model does to the worklist"),
            _worklist_table(run), _bound_paragraph(run),
            FigureRow(_draw_figures(run)),
            Heading("What it must NOT be used for"), Bullets(tuple(scope.must_not(run))),
            Heading("Assumptions, and how the conclusion moves with them"),
            _assumption_bullets(run))
    if sensitivity is not None:
        doc.add(_assumption_table(sensitivity))
    doc.add(Heading("How to monitor the pilot"), _monitoring(run),
            Heading("Evidence behind the choice"), _evidence_table(run),
            Para(f"The {run.get('sweep.n_trials')} trained configurations, the operating "
                 "frontier point by point and the doubling grid are in the model card.",
                 small=True),
            Para(f"Every number above is read from {run.metrics_path.name}, config.json, "
                 f"worklist.parquet and sensitivity.json in {run.run_dir}. Rebuild with "
                 f"`python -m triage_ray.report {run.run_dir}`.", small=True))
    return doc


def write_memo(run_dir: str | Path, *, sensitivity: bool = True,
               recompute_sensitivity: bool = False) -> Path:
    """Write memo.pdf (<= 3 pages, else PageLimitError), memo.md and memo.html; returns the PDF.

    Old memo files are removed first: a failed rebuild leaves no memo rather than a stale one."""
    run = RunArtifacts.load(run_dir)
    out = run.run_dir
    for name in MEMO_FILES:
        (out / name).unlink(missing_ok=True)
    sens = load_or_compute(run, recompute=recompute_sensitivity) if sensitivity else None
    doc = build_memo(run, sens)
    pdf = write_pdf(doc, out / "memo.pdf", max_pages=MAX_PAGES,
                    footer=f"triage-ray memo - run {run.get('run_id')}")
    (out / "memo.md").write_text(to_markdown(doc, out))
    (out / "memo.html").write_text(to_html(doc))
    return pdf
