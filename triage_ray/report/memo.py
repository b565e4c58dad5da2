"""The decision memo for clinical operations: memo.pdf (at most 3 pages), memo.md and memo.html.

Readers: a head of clinical operations deciding on a pilot in ten minutes (page 1, plain words,
no statistics vocabulary), and the reviewers behind them (pages 2-3: the rules of use, the
scenarios, the subgroups, the evidence with a one-line gloss per term). The words are in
`templates/memo.md.j2`; every decision is made here, in Python, as a rule over the run's numbers
(`decide`), so a rerun with different results rewrites the advice, not just the figures. Every
number is formatted from the run's metrics.json, config.json, worklist.parquet and
sensitivity.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from triage_ray.common.stats import clopper_pearson
from triage_ray.report import brief, figures, scope
from triage_ray.report.doc import Document, Figure, Table
from triage_ray.report.fmt import calibrated_as, ci, ci_pct, interval, is_number, num, pct, point
from triage_ray.report.memo_figures import (
    basis,
    days,
    excludes,
    figure,
    interval_note,
    ranged,
)
from triage_ray.report.memo_tables import (
    COMPACT_SCENARIO_ROWS,
    MAX_SCENARIO_ROWS,
    reorder_table,
    rules_table,
    scenario_table,
    subgroup_memo_table,
)
from triage_ray.report.pdf import PageLimitError, write_pdf
from triage_ray.report.render import to_html, to_markdown
from triage_ray.report.run import RunArtifacts
from triage_ray.report.sensitivity import load_or_compute
from triage_ray.report.template import parse_blocks, render_template
from triage_ray.xray.provenance import Provenance
from triage_ray.xray.select import SELECTION_RULE, rank_trials

MAX_PAGES = 3
MEMO_FILES = ("memo.pdf", "memo.md", "memo.html")
TEMPLATE = "memo.md.j2"
PER_1000 = 1000.0
# a suggested pilot length, not a result: long enough to span several weekends and a backlog
# cycle of the simulated department; the protocol's owner sets the real one
PILOT_WEEKS = 4

# Page 1 must be readable without statistics: these words (whole words, any case for the phrases)
# may appear only from page 2 on, where the glossary explains them.
JARGON = ("AUROC", "ECE", "EM", "BBSE", "Clopper", "Pearson", "bootstrap", "binomial", "posterior",
          "Platt", "Brier", "percentile", "CI", "alpha", "delta", "label shift", "label-shift",
          "select split", "selection split", "temperature", "SMD", "p-value")


@dataclass(frozen=True)
class Decision:
    """The memo's verdict. `proceed`: clearing unread may be piloted; `order_helps`: the reading
    order alone reports abnormal studies sooner; `alarm`: the case-mix check fired (the cut-offs
    are not trusted); `reasons`: why clearing is not advised, in plain words."""

    proceed: bool
    headline: str
    reasons: tuple[str, ...]
    alarm: str | None = None
    order_helps: bool = False


def prevalence_alarm(run: RunArtifacts) -> str | None:
    """Plain words when the pile's case mix is not what the cut-offs were checked for: an estimate
    outside the validated range, the two estimators disagreeing beyond their intervals, or the
    pile's studies differing from the labelled ones. None when nothing fired."""
    prev = run.get("pile.prevalence")
    em, bbse = point(run.get("pile.prevalence.em")), point(run.get("pile.prevalence.bbse"))
    parts = []
    if not prev["in_validated_range"]:
        parts.append(f"its estimated share of abnormal studies leaves the range the cut-offs were "
                     f"checked for ({scope.validated_range(run)})")
    if not prev.get("methods_agree", True):
        parts.append("two independent estimates of its share of abnormal studies disagree ("
                     + (f"about {pct(em, 0)} and {pct(bbse, 0)}" if is_number(bbse) else
                        f"about {pct(em, 0)}, and the second could not be made") + ")")
    moved = [r.removeprefix("covariate shift: ").split(":")[0]
             for r in prev.get("untrusted_because", []) if r.startswith("covariate shift")]
    if moved:
        parts.append("its studies differ from the training studies in " + ", ".join(moved))
    return "; ".join(parts) if parts else None


def decide(run: RunArtifacts) -> Decision:
    """The verdict on the numbers (`verdict_on_numbers`) when every input is real. A model trained
    or certified on generated data validates the pipeline only, whatever its numbers say, and the
    decision names what a site must bring; a real model on a generated pile is sent back to run on
    the site's own pile. Neither may read "proceed"."""
    dec = verdict_on_numbers(run)
    prov = Provenance.from_metrics(run.metrics)
    if not prov.any_generated:
        return dec
    numbers = dec.headline[0].lower() + dec.headline[1:]
    if not prov.pipeline_only:  # a real model on a generated pile: its figures are not the site's
        return Decision(False, (
            "Re-run on this site's own pile before any decision: the model was trained and "
            "certified on real studies, but the pile here is generated, so its queue sizes and "
            "waits are not this department's (pass --pile-root)."),
            (f"on the generated pile the numbers alone would say: {numbers.rstrip('.')}",
             *dec.reasons), dec.alarm, False)
    what = " and ".join(w for w, g in (("trained", prov.training.generated),
                                       ("certified", prov.reference.generated)) if g)
    need = (run.get("reference.arithmetic", None) or {}).get("min_auto_normal", {})
    reads = (f" (at this target, at least {num(need['no_abnormal'], 0)} reference-read studies "
             "among those it would clear)" if need.get("no_abnormal") else "")
    head = (f"This run validates the pipeline only: the model was {what} on generated images, so "
            "no decision about patients follows. Before any decision a site must bring its own "
            f"labelled studies and radiologists' reference reads of a sample of them{reads}.")
    return Decision(False, head, (f"on these generated data the numbers alone would say: "
                                  f"{numbers.rstrip('.')}", *dec.reasons), dec.alarm, False)


def verdict_on_numbers(run: RunArtifacts) -> Decision:
    """Clear unread in a supervised pilot only if the miss-rate guarantee holds on the pile's
    re-chosen cut-offs, the case-mix check is quiet, and the throughput gain's interval lies
    above 1. The reading order alone is advised when the abnormal time-to-report ratio's interval
    lies below 1 and the case-mix check is quiet."""
    outside = scope.refused_all(run)
    if outside:
        return Decision(False, (
            f"Do not use the model on this pile: none of its {num(run.get('pile.n_scored'), 0)} "
            f"studies is inside what the model is for ({outside}). Every study stays on the "
            "reading list and is read as usual."),
            (f"the model may not be used on any study of this pile: {outside}",))
    pile_sim = run.get("pile.simulation")
    tm = figure(run, "pile", "throughput_multiplier")
    alarm = prevalence_alarm(run)
    ratio = figure(run, basis(run), "abnormal_ttr_median_ratio")
    order_helps = alarm is None and excludes(ratio, 1.0) == "below"
    reasons = []
    if not (run.get("pile.policy.feasible") and pile_sim["feasible"]):
        reasons.append(f"the miss-rate guarantee is not met: the data cannot show that at most "
                       f"{num(PER_1000 * run.get('pile.policy.alpha'), 1)} in 1,000 of the "
                       "studies it would clear unread are abnormal (the target at the pile's "
                       "operating point)")
    if alarm:
        reasons.append(f"the pile's case mix is not the one the cut-offs were checked on: {alarm}")
    if excludes(tm, 1.0) != "above":
        reasons.append(f"the throughput gain is not shown: a factor of {ranged(tm, 2)}")
    if not reasons:
        return Decision(True, "Proceed to a supervised pilot of clearing studies without a read, "
                              "with the daily audit and the stop rule on page 2.", (), None, True)
    if alarm:
        head = ("Do not use the model on this pile yet, not even to order the list: its case mix "
                "does not match the studies the cut-offs were checked on. The ML team and "
                "clinical operations must find out why before any queue is trusted.")
    elif order_helps:
        head = ("Do not clear any study without a read. The model may order the reading list "
                "(every study is still read): abnormal studies are reported sooner, at a cost "
                "to normal studies shown below.")
    else:
        head = ("Do not use the model: it cannot clear studies safely, and its reading order "
                "does not report abnormal studies sooner.")
    return Decision(False, head, tuple(reasons), alarm, order_helps)


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


# ----------------------------------------------------------------------------- page 1 words
def doubling(run: RunArtifacts) -> dict[str, Any]:
    """The answer to the brief (does it double throughput?) and the conditions, in plain words."""
    tm = figure(run, "pile", "throughput_multiplier")
    cleared = run.get("pile.bucket_counts.auto_normal")
    b = run.get("brief", None) or {}
    audit = run.get("pile.simulation.assumptions.audit_fraction")
    answer = ("Yes" if excludes(tm, 2.0) == "above" else
              "No" if (is_number(tm.get("ci_high")) and tm["ci_high"] < 2.0)
              or not is_number(tm.get("ci_high")) else "Not shown")
    what = ("nothing is cleared without a read, so the radiologists read every study and only "
            "the order changes" if not cleared else
            f"it clears {num(cleared, 0)} studies without a read")
    if scope.refused_all(run):  # the pile's estimates are over studies the model may not judge
        return {"answer": answer, "multiplier": ranged(tm, 2), "conditions": [],
                "what": "the model may not be used on any of its studies, so every study is read "
                        "in arrival order, as without the model"}
    items = []
    max_prev = 1.0 - 0.5 / (1.0 - audit)  # a perfect model doubles only below this share
    if b:
        ceil = b["ceiling"]
        items.append(
            f"Even a perfect model doubles throughput only on a backlog with at most "
            f"{pct(max_prev, 0)} abnormal studies, because every abnormal study and the "
            f"{pct(audit, 0)} audit sample must still be read. This pile is about "
            f"{pct(b['pile_prevalence']['value'], 0)} abnormal: a perfect model would reach "
            f"x{num(ceil['multiplier'], 2)} here.")
        present = b["doubling"]["present"]
        need = present.get("auroc_for_2x")
        acc = f"{pct(present['auroc'], 0)}" if is_number(present.get("auroc")) else "n/a"
        items.append(
            "This model puts a randomly chosen abnormal study above a randomly chosen normal one "
            f"{acc} of the time. " + (
                f"Doubling at this case mix would need about {pct(need, 0)}." if is_number(need)
                else "At this case mix no model accuracy reaches double in the simulation."))
        items.append("Clearing studies unread also needs the miss-rate guarantee to hold; "
                     + ("here it does." if run.get("pile.policy.feasible") else
                        "here it does not, so nothing may be cleared."))
    return {"answer": answer, "multiplier": ranged(tm, 2), "what": what,
            "conditions": items}


def reorder_summary(run: RunArtifacts) -> str:
    """What the reading order does to both kinds of study, in one paragraph."""
    w = basis(run)

    def d(key: str) -> str:
        return num(days(figure(run, w, key))["value"], 1)

    later = figure(run, w, "abnormal_read_later_share")
    return (f"With the model's order, a typical abnormal study is reported after "
            f"{d('abnormal_ttr_median_hours')} days instead of "
            f"{d('abnormal_ttr_median_hours_no_ai')}, and 9 in 10 within "
            f"{d('abnormal_ttr_p90_hours')} days instead of {d('abnormal_ttr_p90_hours_no_ai')}. "
            f"The cost: {pct(later['value'], 0)} of abnormal studies are read later than they "
            f"would be in arrival order, and a typical normal study waits "
            f"{d('normal_wait_median_hours')} days instead of {d('normal_wait_median_hours_no_ai')}"
            f" (longest {d('normal_wait_max_hours')} instead of {d('normal_wait_max_hours_no_ai')}).")


def weaker_groups(run: RunArtifacts) -> str | None:
    sg = run.get("subgroups", None)
    if not sg or not sg["flagged"]:
        return None
    return ", ".join(sg["flagged"])


def pilot_and_next(run: RunArtifacts, dec: Decision) -> list[str]:
    """What a pilot would cost and what to do next, from the run's numbers."""
    ref = run.get("reference")
    cost = ref["cost"]
    items = []
    if scope.refused_all(run):
        items.append("First: run the model on a pile inside what it is for (adult frontal chest "
                     "radiographs with their tags), or fix the export so the tags are stated. If "
                     "the export stripped age and every patient is an adult, the site may declare "
                     "it (intended_use.site_declares_adults); the memo then prints that "
                     "declaration as the site's, not as something the run checked.")
    if dec.alarm:
        items.append("First: find out why the pile's case mix differs (a different site, scanner, "
                     "ward or referral pattern?) and re-run on a pile that matches, or build a "
                     "labelled set from this population.")
    if dec.proceed:
        k, n = stop_rule(run)
        audit = run.get("pile.simulation.assumptions.audit_fraction")
        items.append(f"A pilot of clearing costs the audit: {pct(audit, 0)} of cleared studies "
                     f"are still read. Stop if {k} or more of the first {num(n, 0)} audited "
                     "studies are abnormal.")
    elif dec.order_helps:
        items.append(f"A pilot of the reading order alone adds no reads. Run it for "
                     f"{PILOT_WEEKS} weeks on the live worklist, tracking the days to report "
                     "abnormal studies and the longest wait of normal ones; stop if normal "
                     "studies wait longer than the department accepts.")
    if ref["source"] != "written":
        items.append(f"The guarantee was checked against a reference set that cost "
                     f"{num(cost['reads'], 0)} extra radiologist reads "
                     f"({num(cost['reading_days'], 1)} reading days of this team).")
    a = ref.get("arithmetic")
    if not dec.proceed and a and not scope.refused_all(run):
        items.append(f"To make clearing possible: a stronger model, or a larger reference set. "
                     f"Showing that at most {num(PER_1000 * a['alpha'], 0)} in 1,000 cleared "
                     f"studies are abnormal needs at least "
                     f"{num(a['min_auto_normal']['no_abnormal'], 0)} reference studies in the "
                     "cleared queue with none abnormal among them.")
    curve = run.get("learning_curve", None)
    if curve and not dec.proceed:
        gain = _curve_gain(curve)
        if gain:
            items.append(gain)
    return items


def _curve_gain(curve: dict[str, Any]) -> str | None:
    """'More labelled studies still help' from the chosen start's smallest and largest points
    (accuracy against the generator's truth where known, else the written labels)."""
    def acc(p: dict[str, Any]) -> Any:
        return (p.get("auroc_truth") or p.get("auroc_written") or {}).get("value")

    pts = sorted((p for p in curve.get("points", []) if p.get("init") != "scratch"
                  and is_number(acc(p))), key=lambda p: p["n_train"])
    if len(pts) < 2 or acc(pts[-1]) <= acc(pts[0]):
        return None
    first, last = pts[0], pts[-1]
    return (f"More labelled studies still help: ranking accuracy rose from {pct(acc(first), 1)} "
            f"to {pct(acc(last), 1)} between {num(first['n_train'], 0)} and "
            f"{num(last['n_train'], 0)} training studies.")


# ----------------------------------------------------------------------------- pages 2-3
def bound_text(run: RunArtifacts) -> str:
    """The miss-rate guarantee, with its statistics named (page 3, glossed there)."""
    ab, pol = run.get("abstention"), run.get("pile.policy")
    tc = ab["test_check"]
    conf = 1.0 - ab["delta"]
    target = num(PER_1000 * pol["alpha"], 1)
    if not pol["feasible"]:
        text = (f"**Miss-rate guarantee: not met.** No cut-off keeps the abnormal rate among "
                f"cleared studies at or below {target} per 1,000 with {pct(conf, 0)} confidence "
                f"on the {num(pol['n_selection'], 0)} certifying studies ({pol['bound_statistic']})"
                "." + _how_far_off(pol))
    else:
        text = (f"**Miss-rate guarantee.** With {pct(conf, 0)} confidence, at most "
                f"{num(PER_1000 * pol['bound'], 1)} per 1,000 cleared studies are abnormal at "
                f"the pile's cut-offs (target {target}; {pol['bound_statistic']}, "
                f"{num(pol['n_selection'], 0)} certifying studies).")
        if tc["n_auto_normal"]:
            lo, hi = clopper_pearson(tc["abnormal_among_auto_normal"], tc["n_auto_normal"])
            text += (f" Check on {num(tc['n_auto_normal'], 0)} cleared test studies the cut-offs "
                     f"never saw: {tc['abnormal_among_auto_normal']} abnormal = "
                     f"{num(PER_1000 * tc['rate'], 1)} per 1,000 (95% CI "
                     f"{num(PER_1000 * lo, 1)}-{num(PER_1000 * hi, 1)}).")
    unc = run.get("uncertainty", None)
    if unc:
        text += (f" Re-fitted on {num(unc['n_boot'], 0)} resamples of the certifying studies, the "
                 f"guarantee held in {pct(unc['feasible_share'], 0)} of them.")
    return text + " " + brief.reference_text(run)


def _how_far_off(pol: dict[str, Any]) -> str:
    rows = [r for r in pol.get("coverage_curve") or [] if is_number(r.get("upper_bound"))]
    if not rows:
        return ""
    parts = [f"clearing the lowest-scored {pct(r['coverage'], 0)}: at most "
             f"{num(PER_1000 * r['upper_bound'], 0)} per 1,000" for r in rows[:3]]
    return " What these data could certify instead: " + "; ".join(parts) + "."


def prevalence_text(run: RunArtifacts) -> str:
    """Both estimators, the label definition they track, and what they are checked against."""
    prev, pile = run.get("pile.prevalence"), run.get("pile")
    text = (f"**Case mix.** The pile's abnormal share, as the written labels would call it (both "
            f"estimators are fitted on written labels, so that is the definition they track): "
            f"EM {ci_pct(prev['em'])}, BBSE {ci_pct(prev['bbse'])}; checked range "
            f"{scope.validated_range(run)}; the two "
            + ("agree" if prev.get("methods_agree") else "DISAGREE (alarm on page 1)") + ".")
    if is_number(pile.get("written_prevalence")):
        text += (f" Generated pile: its written labels call {pct(pile['written_prevalence'])} "
                 f"abnormal (the generator's truth, a different definition: "
                 f"{pct(pile['true_prevalence'])}).")
    ref = prev.get("reference")
    if ref:
        text += (f" In the reference standard's terms ({ref['label_source']}): EM "
                 f"{ci_pct(ref['em'])}, BBSE {ci_pct(ref['bbse'])}.")
    return text


def choice_text(run: RunArtifacts) -> str:
    """Which configuration was chosen, how, and whether the choice is within noise."""
    best = run.get("best")
    unc = run.get("uncertainty.configurations", None) or {}
    text = (f"**Model.** {best['backbone']} (learning rate {best['lr']:g}), chosen from "
            f"{run.get('sweep.n_trials')} trained configurations by the simulated worklist on "
            f"the certifying split ({SELECTION_RULE}); probabilities "
            f"{calibrated_as(run.get('calibration'))}.")
    chosen = (unc.get("trials") or {}).get(best["trial_id"], {})
    if chosen.get("test"):
        text += f" Test AUROC {ci(chosen['test']['auroc'], 3)}."
    tied = unc.get("tied_on_select_auroc") or []
    if tied:
        text += (f" {len(tied)} other configuration(s) are tied with it within noise (paired "
                 "AUROC difference's 95% CI contains 0): the choice among them does not matter.")
    elif unc.get("trials"):
        text += " No other configuration is within noise of it on the certifying split."
    return text


def calibration_text(run: RunArtifacts) -> str:
    cal = run.get("calibration")
    return (f"**Calibration** (test split, {num(cal['n_eval'], 0)} studies): ECE "
            f"{ci(cal['before']['ece'], 3)} raw, {ci(cal['after']['ece'], 3)} after scaling; "
            f"AUROC {ci(cal['after']['auroc'], 3)}.")


def shares_text(run: RunArtifacts) -> str:
    """The pile's queue shares and cut-offs with their study-bootstrap intervals."""
    unc = run.get("uncertainty", None)
    pol = run.get("pile.policy")
    counts, n = run.get("pile.bucket_counts"), run.get("pile.n_scored")
    if unc:
        sh, th = unc["shares"], unc["thresholds"]
        parts = [f"{k.replace('_', '-')} {ci_pct(sh[k])}" for k in ("auto_normal", "uncertain",
                                                                    "priority")]
        cut = (f"cleared below p = {ci(th['t_low'], 3)}" if pol["feasible"] else
               "nothing cleared (no cut-off certified)")
        high = (f", priority at p >= {ci(th['t_high'], 3)}" if is_number(pol.get("t_high"))
                else ", no priority cut-off reaches the target precision")
        return f"**Queues on the pile:** {', '.join(parts)}; {cut}{high}."
    parts = [f"{k.replace('_', '-')} {pct(v / max(n, 1))}" for k, v in counts.items()]
    return f"**Queues on the pile:** {', '.join(parts)} (no study-level intervals in this run)."


def monitoring(run: RunArtifacts, dec: Decision) -> list[str]:
    ece = run.get("calibration.after.ece")
    cov = run.get("pile.policy.coverage")
    w = basis(run)
    wait = days(figure(run, w, "normal_wait_max_hours"))
    return [
        f"**Case mix:** re-estimate the abnormal share weekly (as here); investigate if an "
        f"estimate leaves {scope.validated_range(run)} or the two disagree.",
        f"**Queues:** expect about {pct(cov['priority'])} of daily studies in the priority queue"
        + (f" and {pct(cov['auto_normal'])} cleared" if dec.proceed else "")
        + "; a drift of more than a few points means the case mix or the images changed.",
        f"**Calibration:** on read studies, ECE should stay within {interval(ece, 3)}; re-fit the "
        "scaling if it does not.",
        f"**Waiting:** track abnormal days-to-report and the longest normal wait (simulated "
        f"{num(wait['value'], 1)} days); add an aging cap if normals wait too long.",
    ]


GLOSSARY = (
    "**AUROC**: the chance the model scores a random abnormal study above a random normal one "
    "(0.5 = a coin, 1 = perfect).",
    "**ECE** (calibration error): the average gap between the stated probability and the "
    "observed abnormal rate.",
    "**95% CI / range**: the values the figure would plausibly take on another sample of "
    "studies and days; study-resampling intervals (bootstrap) unless named otherwise.",
    "**EM, BBSE**: two independent ways to estimate the pile's abnormal share from the model's "
    "scores (one from the scores themselves, one from how often the model says abnormal).",
    "**Certifying split**: labelled studies set aside to choose the cut-offs and prove the "
    "guarantee, never used to train.",
    "**Clopper-Pearson / exact binomial**: an interval for a proportion that holds at any "
    "sample size; **label-shift adjusted**: re-expressed for the pile's estimated abnormal "
    "share.",
)


# ----------------------------------------------------------------------------- the document
def backlog(run: RunArtifacts) -> Figure:
    """Studies waiting per calendar day on the pile, with and without the model (model card)."""
    return Figure(figures.backlog_figure(
        run.get("pile.simulation.backlog"), run.figures_dir / "backlog.png",
        policy_label=f"with model ({run.get('pile.simulation.policy')})"),
        "Pile studies still waiting at the end of each calendar day (simulated mean).")


def reliability(run: RunArtifacts) -> Figure:
    """The reliability diagram (raw vs temperature-scaled) drawn into run_dir/figures/ (the model
    card shows it)."""
    rel = run.get("calibration.reliability")
    return Figure(figures.reliability_figure(
        {"before": rel["before"], "after": rel["after"]}, run.figures_dir / "reliability.png",
        labels={"before": "raw", "after": calibrated_as(run.get("calibration"))}),
        "Reliability on the held-out test split: bins near the diagonal mean the stated "
        "probability matches the observed abnormal rate; the lower panel counts the studies in "
        "each bin (log scale).")


def memo_context(run: RunArtifacts, sensitivity: dict[str, Any] | None) -> dict[str, Any]:
    """Everything the template says, decided and formatted here."""
    dec = decide(run)
    return {
        "generated": bool(run.get("generated_data")), "data_note": run.get("data_note"),
        "n_pile": num(run.get("pile.n_studies"), 0), "n_scored": num(run.get("pile.n_scored"), 0),
        "n_skipped": num(run.get("pile.n_skipped"), 0), "gate": scope.gate_summary(run),
        "declaration": scope.declaration(run), "refused": scope.refused_all(run),
        "decision": dec, "doubling": doubling(run), "reorder_summary": reorder_summary(run),
        "weaker_groups": weaker_groups(run), "next_steps": pilot_and_next(run, dec),
        "interval_note": interval_note(run),
        "has_sensitivity": sensitivity is not None,
        "evidence": [bound_text(run), choice_text(run), prevalence_text(run), shares_text(run),
                     calibration_text(run)],
        "monitoring": monitoring(run, dec), "glossary": GLOSSARY,
        "provenance": f"Every number is read from {run.metrics_path.name}, config.json, "
                      f"worklist.parquet and sensitivity.json in {run.run_dir}. Rebuild with "
                      f"`python -m triage_ray.report {run.run_dir}`.",
        "run_id": run.get("run_id"), "created": run.get("created"),
    }


def named_blocks(run: RunArtifacts, sensitivity: dict[str, Any] | None,
                 compact: bool = False) -> dict[str, Any]:
    """The memo's tables; `compact`: fewer scenario rows (those that change the conclusion
    first) and no subgroup row without a figure."""
    rows = COMPACT_SCENARIO_ROWS if compact else MAX_SCENARIO_ROWS
    return {
        "reorder_table": reorder_table(run), "rules_table": rules_table(run),
        "scenario_table": scenario_table(sensitivity, rows) if sensitivity is not None else None,
        "subgroup_table": subgroup_memo_table(run, scored_only=compact),
    }


def build_memo(run: RunArtifacts, sensitivity: dict[str, Any] | None = None,
               compact: bool = False) -> Document:
    """The memo's content (figures are drawn into run_dir/figures/); `compact`: the shorter
    tables `write_memo` falls back to when the full memo needs more than its pages."""
    ctx = memo_context(run, sensitivity)
    doc = Document(
        "Chest X-ray triage: should the model clear part of the reading backlog?",
        f"Decision memo for clinical operations - run {ctx['run_id']}, {ctx['created']} - "
        "generated from the run's artifacts by triage-ray",
    )
    text = render_template(TEMPLATE, ctx)
    doc.blocks.extend(parse_blocks(text, named_blocks(run, sensitivity, compact)))
    return doc


def write_memo(run_dir: str | Path, *, sensitivity: bool = True,
               recompute_sensitivity: bool = False) -> Path:
    """Write memo.pdf (<= 3 pages, else PageLimitError), memo.md and memo.html; returns the PDF.

    How long the memo is depends on the run (how many reasons, warnings and groups it reports);
    when the full memo needs a fourth page it is built again with its compact tables (each says
    what it left out and where the rest is) rather than failing a finished run at its last step.
    Old memo files are removed first: a failed rebuild leaves no memo rather than a stale one."""
    run = RunArtifacts.load(run_dir)
    out = run.run_dir
    for name in MEMO_FILES:
        (out / name).unlink(missing_ok=True)
    sens = load_or_compute(run, recompute=recompute_sensitivity) if sensitivity else None
    footer = f"triage-ray memo - run {run.get('run_id')}"
    doc = build_memo(run, sens)
    try:
        pdf = write_pdf(doc, out / "memo.pdf", max_pages=MAX_PAGES, footer=footer)
    except PageLimitError:
        doc = build_memo(run, sens, compact=True)
        pdf = write_pdf(doc, out / "memo.pdf", max_pages=MAX_PAGES, footer=footer)
    (out / "memo.md").write_text(to_markdown(doc, out))
    (out / "memo.html").write_text(to_html(doc))
    return pdf


def ranked_trials(run: RunArtifacts) -> list[dict[str, Any]]:
    """Finished trials in the sweep's own selection order (`triage_ray.xray.select.rank_trials`)."""
    return rank_trials(run.get("sweep.trials"))


def trials_table(run: RunArtifacts, limit: int | None = None) -> Table:
    """The sweep's configurations side by side (all, or the best `limit`), with each one's test
    AUROC interval and its paired difference from the chosen one where the run has them."""
    ranked = ranked_trials(run)
    trials = run.get("sweep.trials")
    shown = ranked if limit is None else ranked[:limit]
    chosen = run.get("best.trial_id")
    unc = (run.get("uncertainty.configurations", None) or {}).get("trials") or {}

    def name(r: dict[str, Any]) -> str:
        aug = f", aug {r['augment']:.2f}" if is_number(r.get("augment")) else ""
        return (f"**{r['backbone']}**{aug} (chosen)" if r.get("trial_id") == chosen
                else f"{r['backbone']}{aug}")

    def auroc(r: dict[str, Any]) -> str:
        u = unc.get(r.get("trial_id"), {}).get("test")
        return ci(u["auroc"], 3) if u else num(r.get("test_auroc"), 3)

    def diff(r: dict[str, Any]) -> str:
        u = unc.get(r.get("trial_id"), {}).get("select")
        if not u or r.get("trial_id") == chosen:
            return ""
        return ci(u["diff_vs_chosen"], 3) + (" tie" if u["tied_with_chosen"] else "")

    stopped = sum(t.get("status") == "stopped" for t in trials)
    rows = tuple(
        (name(r), f"{r['lr']:g}", auroc(r), diff(r), num(r.get("throughput_multiplier"), 2),
         num(PER_1000 * r["bound"], 1) if is_number(r.get("bound")) else "n/a",
         "yes" if r.get("feasible") else "no")
        for r in shown
    )
    left = len(trials) - len(shown)
    return Table(
        ("Configuration", "Learning rate", "Test AUROC (95% CI)", "Certifying AUROC minus "
         "chosen's (paired 95% CI)", "Throughput x", "Bound /1,000", "Bound holds"), rows,
        widths=(22, 10, 19, 21, 10, 9, 9),
        caption=f"{len(trials)} trials ({len(ranked)} finished"
                + (f"; {stopped} stopped early on validation AUROC" if stopped else "")
                + "), ranked by the selection rule "
                f"({SELECTION_RULE}); test figures are reported only, never used to choose."
                + (f" {left} more in the sweep dashboard." if left > 0 else ""),
    )
