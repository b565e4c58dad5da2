"""Report sections for the brief's question and the operating frontier (memo, model card).

Read only from metrics.json's `brief`, `operating` and `reference` sections (written by
`triage_ray.xray.brief` and `triage_ray.xray.operating`); every number is the run's.
"""

from __future__ import annotations

from typing import Any

from triage_ray.report import figures
from triage_ray.report.doc import Bullets, Figure, Para, Table
from triage_ray.report.fmt import NA, ci, is_number, num, pct
from triage_ray.report.run import RunArtifacts

PER_1000 = 1000.0


def reference_text(run: RunArtifacts) -> str:
    """What the bound is certified against, how many studies, and what they cost."""
    ref = run.get("reference")
    cost = ref["cost"]
    adj = ref["report"].get("adjudicated", {})
    scope = f" Normal here means {ref['scope']}." if ref.get("scope") else ""
    if ref["source"] == "written":
        return ("The bound is certified against the written (report-mined) labels: no reference "
                "standard was given, so label noise sets a floor no model can beat." + scope)
    return (f"The bound is certified against the {ref['label_source']} on "
            f"{num(adj.get('select'), 0)} selection and {num(adj.get('test'), 0)} check studies: "
            f"{num(cost['reads'], 0)} radiologist reads, {num(cost['reading_days'], 1)} reading "
            f"days of this pool. It is a promise about what that panel would call abnormal, not "
            f"about the truth.{scope} " + arithmetic_text(ref.get("arithmetic")))


def arithmetic_text(a: dict[str, Any] | None) -> str:
    """Why the reference set has the size it has (or why it is too small)."""
    if not a:
        return ""
    need = a["min_auto_normal"]
    text = (f"Certifying {pct(a['alpha'])} with {pct(a['confidence'], 0)} confidence needs at "
            f"least {num(need['no_abnormal'], 0)} auto-normal reference studies with no abnormal "
            f"among them ({num(need['one_abnormal'], 0)} with one, "
            f"{num(need['five_abnormal'], 0)} with five)")
    if a["too_small"]:
        return text + f": {num(a['n_select'], 0)} selection studies can never certify it."
    return (text + f": with {num(a['n_select'], 0)} selection studies the model must clear at "
            f"least {pct(a['min_clearable_share'])} of them.")


def written_comparison(run: RunArtifacts) -> str:
    """The same bound against the written labels, labelled as such (never used to clear)."""
    w = run.get("abstention.written_labels")
    if w["feasible"]:
        return (f"Against the written labels the same procedure would certify "
                f"{num(PER_1000 * w['bound'], 1)} per 1,000 ({pct(w['coverage']['auto_normal'])} "
                "auto-normal); shown for comparison only.")
    return ("Against the written labels no threshold could be certified at all (their noise "
            "alone exceeds the target); shown for comparison only.")


def brief_paragraphs(run: RunArtifacts) -> list[Any]:
    """The answer to "does it double throughput?", the ceiling, what doubling takes, net costs."""
    b = run.get("brief", None)
    if not b:
        return [Para("The doubling analysis was not run.")]
    d, net, ceil = b["doubling"], b["net"], b["ceiling"]
    present = d["present"]
    prev = b["pile_prevalence"]
    items = [
        f"Measured on this pile at the recommended operating point: throughput "
        f"x{ci(b['measured_multiplier'], 2)}.",
        f"Ceiling for this case mix: the pile is an estimated {pct(prev['value'])} abnormal "
        f"({b['label_source']}; {prev.get('basis', 'EM estimate on the pile')}), so even a "
        "perfect model could reach only "
        f"x{num(ceil['multiplier'], 2)} (range {num(ceil['multiplier_ci'][0], 2)}-"
        f"{num(ceil['multiplier_ci'][1], 2)}), because every abnormal study and the audit "
        "sample must still be read.",
        _what_doubling_takes(present, d, b.get("doubling_equal_variance")),
        f"Net of costs: the reference set costs {num(net['reference_days'], 1)} reading days; "
        f"net saving on this pile {num(_days(net['net_days_saved']), 1)} reading days (gross "
        f"{num(_days(net['gross_days_saved']), 1)}). "
        + (f"On a steady {num(net['inflow_per_day'], 0)} studies/day the reference set pays for "
           f"itself after {num(net['break_even_day'], 1)} days."
           if is_number(net.get("break_even_day")) else
           f"On a steady {num(net['inflow_per_day'], 0)} studies/day it never pays for itself "
           "at this multiplier."),
    ]
    return [Para(f"**{b['answer']}**"), Bullets(tuple(items))]


def _days(x: float) -> float:
    """Reading days for prose: a simulated difference under 0.05 days is no difference (no -0.0)."""
    return 0.0 if is_number(x) and abs(x) < 0.05 else x


def _what_doubling_takes(present: dict[str, Any], d: dict[str, Any],
                         textbook: dict[str, Any] | None) -> str:
    base = (f"This model separates abnormal from normal with AUROC {num(present['auroc'], 3)} "
            f"against the reference (binormal fit). " + _needs("With its score shape", present, d))
    if textbook:
        base += " " + _needs("With equal-variance scores (clean tails) of the same AUROC",
                             textbook["present"], textbook)
    return base


def _needs(lead: str, present: dict[str, Any], d: dict[str, Any]) -> str:
    need = present.get("auroc_for_2x")
    if need is None:
        return (f"{lead}, no AUROC up to {num(max(d['aurocs']), 3)} reaches 2x at this "
                "prevalence in the simulation.")
    return f"{lead}, doubling at this prevalence would need AUROC of about {num(need, 3)}."


def frontier_figure(run: RunArtifacts) -> Figure | None:
    """Throughput vs certified bound over the operating points; front and chosen point marked."""
    op = run.get("operating", None)
    if not op or not op["points"]:
        return None
    path = figures.frontier_figure(op["points"], op["pareto"], op["recommended"],
                                   run.get("abstention.alpha"), run.figures_dir / "frontier.png")
    return Figure(path, f"{op['n_points']} operating points (Ray Tune + SimPy); ringed: the "
                        "front; star: recommended.")


def operating_bullets(run: RunArtifacts) -> Bullets:
    op = run.get("operating", None)
    if not op:
        return Bullets(("The operating-point stage did not run.",))
    rec, check = op["recommended"], op["test_check"]
    if rec is None:
        return Bullets((f"No operating point meets the rule ({op['rule']}).",))
    items = [
        f"Recommended point, by rule ({op['rule']}): alpha {pct(rec['alpha'])}, audit "
        f"{pct(rec['audit_fraction'], 0)}, priority by {rec['priority_rule']}, aging cap "
        f"{'none' if rec['aging_cap_days'] is None else num(rec['aging_cap_days'], 0) + ' days'}, "
        f"uncertain bucket read by {rec['uncertain_order']}.",
        f"On the selection set: certified bound "
        f"{num(PER_1000 * rec['bound'], 1) + ' per 1,000' if rec['feasible'] else 'none (nothing cleared)'}, "
        f"auto-normal {pct(rec['coverage_auto_normal'])}, throughput "
        f"x{num(rec['throughput_multiplier'], 2)}, abnormal time-to-read "
        f"x{num(rec['abnormal_ttr_median_ratio'], 2)}, worst normal wait "
        f"{num(rec['normal_wait_max_hours'], 0)} h.",
    ]
    if check:
        holds = ("holds" if check["holds"] else "does NOT hold") if check["holds"] is not None \
            else "cannot be checked (no check study fell in the auto-normal bucket)"
        items.append(
            f"Out-of-sample check on {num(check['n_test'], 0)} check studies "
            f"({check['label_source']}): {check['abnormal_among_auto_normal']} abnormal of "
            f"{num(check['n_auto_normal'], 0)} auto-normal, upper "
            f"{pct(check['confidence'], 0)} bound "
            f"{num(PER_1000 * check['upper_bound'], 1) if is_number(check['upper_bound']) else NA}"
            f" per 1,000: the promise {holds}.")
    return Bullets(tuple(items))


def frontier_table(run: RunArtifacts, alphas: tuple[float, ...] | None = None) -> Table | None:
    """Best point per alpha (throughput to 3 decimals, then abnormal time-to-read): multiplier,
    coverage, abnormal time-to-read, worst wait."""
    op = run.get("operating", None)
    if not op:
        return None
    rows = []
    for a in alphas or tuple(op["space"]["alpha"]):
        pts = [p for p in op["points"] if p.get("status") == "done" and p["alpha"] == a]
        if not pts:
            continue
        # highest throughput; among equals (nothing certified: all 1.00) the fastest abnormal read
        best = max(pts, key=lambda p: (round(p.get("throughput_multiplier") or 0.0, 3),
                                       -(p.get("abnormal_ttr_median_ratio") or 0.0)))
        rows.append((pct(a), "yes" if best["feasible"] else "no",
                     f"{num(best['throughput_multiplier'], 2)} "
                     f"({num(best.get('throughput_multiplier_ci_low'), 2)}-"
                     f"{num(best.get('throughput_multiplier_ci_high'), 2)})",
                     pct(best["coverage_auto_normal"]), num(best["abnormal_ttr_median_ratio"], 2),
                     num(best["normal_wait_max_hours"], 0)))
    return Table(("Alpha", "Certified", "Throughput x (95% CI)", "Auto-normal",
                  "Abnormal time-to-read x", "Worst normal wait (h)"), tuple(rows),
                 caption=f"Best point per alpha on the selection reference set "
                         f"({num(op['n_select'], 0)} studies, {op['label_source']}); "
                         f"{op['n_points']} points in {num(op['seconds'], 0)} s.")


def frontier_html(run: RunArtifacts) -> str:
    """The operating frontier for the run's dashboard: the figure (inline) and the front's points."""
    import base64
    import html

    fig = frontier_figure(run)
    if fig is None:
        return ""
    op = run.get("operating")
    uri = "data:image/png;base64," + base64.b64encode(fig.path.read_bytes()).decode()
    cols = ("alpha", "audit_fraction", "priority_rule", "aging_cap_days", "uncertain_order",
            "throughput_multiplier", "bound", "coverage_auto_normal", "abnormal_ttr_median_ratio",
            "normal_wait_max_hours")
    rec = op["recommended"]
    rows = "".join(
        "<tr" + (' class="recommended" style="font-weight:bold"' if p == rec else "") + ">"
        + "".join(f"<td>{html.escape(_cell(p.get(c)))}</td>" for c in cols) + "</tr>"
        for p in (op["points"][i] for i in op["pareto"]))
    return (f"<h2>Operating frontier ({op['n_points']} operating points of the chosen model)</h2>"
            f'<p class="small">{html.escape(fig.caption)} Rule: {html.escape(op["rule"])}.</p>'
            f'<img src="{uri}" alt="operating frontier">'
            '<div class="scroll"><table><thead><tr>'
            + "".join(f"<th>{c}</th>" for c in cols) + f"</tr></thead><tbody>{rows}</tbody></table>"
            "</div>")


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return num(v, 4)
    return NA if v is None else str(v)
