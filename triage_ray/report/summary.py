"""The short Markdown summary of an X-ray run, rendered only from its metrics.json content."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from triage_ray.report.fmt import calibrated_as, ci, pct
from triage_ray.report.scope import refusal_words


def _f(v: float | None, spec: str = ".3f") -> str:
    """A number, or 'none' where the run produced none (e.g. no threshold met its target)."""
    return "none" if v is None else format(v, spec)


def _budget_lines(plan: dict[str, Any] | None) -> list[str]:
    """The time budget's plan (xray.budget): what it cut to fit, and what the run took."""
    if not plan or plan["budget_s"] is None:
        return []
    cut = "cut " + ", ".join(plan["cuts"]) if plan["cut"] else "nothing cut"
    return ["", f"Time budget {plan['budget_s'] / 60:.0f} min ({cut}; measured "
                f"{plan['epoch_s']:.0f} s per sweep epoch on this machine): the run took "
                f"{plan['actual_s'] / 60:.1f} min."]


def _refused_lines(gate: dict[str, Any] | None) -> list[str]:
    """The plain statement a pile with nothing in scope gets, and any site declaration."""
    lines = []
    why = refusal_words(gate)
    if why:
        lines.append(f"- **The model may not be used on this pile: no study is inside the "
                     f"intended use** ({why}). Every study is read as usual; nothing is triaged.")
    if gate and gate.get("declaration"):
        lines.append(f"- Site declaration (not verified by the run): {gate['declaration']}")
    return lines


def render_summary(metrics: dict[str, Any]) -> str:
    cal, ab, sim, pile = (metrics[k] for k in ("calibration", "abstention", "simulation", "pile"))
    best = metrics["best"]
    sm = sim["metrics"]
    lines = [
        f"# X-ray triage run {metrics['run_id']}",
        "",
        f"> {metrics['data_note']}",
        "",
        f"Best configuration: **{best['backbone']}**, lr {best['lr']} "
        f"(of {metrics['sweep']['n_trials']} trials; chosen "
        f"{metrics['sweep'].get('selection_rule', 'by simulated throughput under the miss-rate bound')}).",
        *_budget_lines(metrics.get("budget")),
        "",
        "## Held-out test split",
        f"- AUROC: {ci(cal['after']['auroc'], 3)}",
        f"- ECE (15 bins, bias-corrected) raw: {ci(cal['before']['ece'], 3)}; "
        f"{calibrated_as(cal)}, fitted on `{cal['fit_split']}`: {ci(cal['after']['ece'], 3)}",
        f"- Thresholds (chosen on `{ab['select_split']}`): t_low {_f(ab['t_low'])}, "
        f"t_high {_f(ab['t_high'])}; miss-rate bound met: {ab['feasible']}",
        f"- Upper {1 - ab['delta']:.0%} bound on the abnormal rate among auto-normal studies: "
        f"{_f(ab['bound'], '.4f')} (target alpha {ab['alpha']})",
        "- Coverage: " + ", ".join(f"{k} {v:.1%}" for k, v in ab["coverage"].items()),
        f"- Certified against: {ab.get('label_source', 'written labels')}"
        + (f"; against the written labels the bound would be met: "
           f"{ab['written_labels']['feasible']}" if "written_labels" in ab else ""),
        "",
        f"## Simulated reading ({sim['staffing']['radiologists']} radiologists x "
        f"{sim['staffing']['hours_per_day']} h/day x {sim['staffing']['reads_per_hour']} reads/h, "
        f"policy `{sim['policy']}`, {sim['n_reps']} replications)",
        f"- Effective throughput multiplier: {ci(sm['throughput_multiplier'], 2)}",
        f"- Days to clear: {ci(sm['days_to_clear'], 1)} vs {ci(sm['days_to_clear_no_ai'], 1)} "
        f"without the model",
        "",
    ]
    lines += pile_lines(pile)
    lines += _reference_and_brief(metrics)
    lines += truth_lines(metrics.get("model_vs_truth"))
    lines += representativeness_lines(metrics["data"].get("representativeness"),
                                      pile.get("covariates"))
    lines += ["", f"Wall time: {metrics['timings']['total_s']:.0f} s. Config: `config.json`."]
    return "\n".join(lines) + "\n"


def pile_lines(pile: dict[str, Any]) -> list[str]:
    """The pile section: counts, prevalence, buckets, the gate, and the simulated reading."""
    pm = pile["simulation"]["metrics"]
    lines = [
        f"## The unlabeled pile ({pile['n_studies']} studies)",
        f"- Scored: {pile['n_scored']}; skipped: {pile['n_skipped']}; worklist: `{pile['worklist']}`",
        f"- Estimated abnormal prevalence: EM {ci(pile['prevalence']['em'], 3)}, "
        f"BBSE {ci(pile['prevalence']['bbse'], 3)}; within validated range: "
        f"{pile['prevalence']['in_validated_range']}; trusted: {pile['prevalence']['estimate_trusted']}"
        + "".join(f"\n  - not trusted: {r}" for r in pile["prevalence"]["untrusted_because"]),
        "- Buckets: " + ", ".join(f"{k} {v}" for k, v in pile["bucket_counts"].items()),
        *([f"- Not triaged (outside the intended use): {pile['gate']['n_not_triaged']}, by first "
           "reason: " + ", ".join(f"{k} {v}" for k, v in pile["gate"]["by_reason"].items())]
          if pile.get("gate") else []),
        *_refused_lines(pile.get("gate")),
        f"- Throughput multiplier on the pile: {ci(pm['throughput_multiplier'], 2)}; "
        f"days to clear {ci(pm['days_to_clear'], 1)} (no model: {ci(pm['days_to_clear_no_ai'], 1)})",
    ]
    if pile["truth_known"]:
        lines.append(
            f"- Missed abnormals among auto-cleared (truth known only because the pile is generated): "
            f"{ci(pm['missed_abnormals'], 1)} per pile"
        )
    return lines


def render_pile_summary(record: dict[str, Any]) -> str:
    """summary.md of a pile triaged with an earlier run's model (`xray.rescore`'s pile.json)."""
    m, op, pol = record["model"], record["operating_point"], record["pile"]["policy"]
    lines = [f"# Pile {record['pile_run_id']}, triaged with the model of run {record['source_run']}",
             "", f"> {record['data_note']}", "",
             f"Model: **{m.get('backbone')}** at {record['input_px']} px (trial {m.get('trial_id')}); "
             f"thresholds certified against {record['certified_against']}; operating point "
             + (f"alpha {op['alpha']}, priority rule {op['priority_rule']}" if op
                else "as configured (none recommended)") + ".",
             "No training ran: the calibrator, thresholds and gate are the run's. Not run here: "
             + "; ".join(record["not_run"]) + ".",
             f"Miss-rate bound (alpha {pol.get('alpha')}) certified at this pile's prevalence: "
             f"{bool(pol.get('feasible'))}" + ("" if pol.get("feasible") else
                                               "; no study is auto-cleared") + ".", ""]
    lines += pile_lines(record["pile"])
    lines += ["", f"Wall time: {record['timings']['total_s']:.0f} s. Record: `pile.json`."]
    return "\n".join(lines) + "\n"


def write_pile_summary(record: dict[str, Any], path: Path) -> Path:
    path.write_text(render_pile_summary(record))
    return path


def truth_lines(vs: dict[str, Any] | None) -> list[str]:
    """The model against the generator's truth (generated data only): what the images hold."""
    if not vs:
        return []
    test = vs["test"]
    out = ["", "## The model against the generator's truth (generated data only)",
           f"- Held-out test ({test['n']:,} studies): AUROC {ci(test['auroc_truth'], 3)} against "
           f"the truth, {ci(test['auroc_written'], 3)} against the written labels"
           + (f", {ci(test['reference']['auroc_reference'], 3)} against the reference "
              f"({test['reference']['n']:,} adjudicated)" if "reference" in test else "")]
    if "pile" in vs:
        pile = vs["pile"]
        low = ", ".join(f"{k}% {pile[f'abnormal_in_lowest_{k}pct']['value']:.0%}" for k in (1, 5, 10))
        out.append(f"- Pile ({pile['n']:,}): AUROC {ci(pile['auroc_truth'], 3)} against the truth; "
                   f"truly abnormal among its lowest-scored {low}")
    return out


def _reference_and_brief(metrics: dict[str, Any]) -> list[str]:
    ref, op, brief = metrics.get("reference"), metrics.get("operating"), metrics.get("brief")
    lines: list[str] = []
    if ref:
        c = ref["cost"]
        lines += ["", "## Reference standard",
                  f"- {ref['label_source']}: {ref['report'].get('adjudicated')} adjudicated "
                  f"studies, {c['reads']:,.0f} reads ({c['reading_days']:.1f} reading days)"]
    if op:
        rec = op["recommended"]
        lines += ["", f"## Operating points ({op['n_points']} scored by Tune in "
                      f"{op['seconds']:.0f} s; {len(op['pareto'])} on the front)",
                  "- Recommended: " + (", ".join(f"{k} {rec[k]}" for k in op["space"])
                                       if rec else "none")]
        if op.get("test_check"):
            t = op["test_check"]
            lines.append(f"- Test check: {t['abnormal_among_auto_normal']} abnormal of "
                         f"{t['n_auto_normal']} auto-normal; holds: {t['holds']}")
    if brief:
        lines += ["", "## Does it double throughput?", f"- {brief['answer']}"]
    return lines


REP_COLUMNS = ("studies", "images_per_patient", "ap_share", "female_share", "mean_age",
               "written_prior", "truth_prior")


def representativeness_rows(rep: dict[str, Any],
                            pile: dict[str, Any] | None) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """(header, rows): each split's covariates beside the pool's (and the pile's), with its check."""
    groups = [("pool", rep["pool"], None), *((k, v, v["passed"]) for k, v in rep["splits"].items())]
    if pile:
        groups.append(("pile", pile, pile["passed"]))
    rows = [(name, *(_cell(c, g.get(c)) for c in REP_COLUMNS),
             "" if ok is None else "pass" if ok else "FLAGGED") for name, g, ok in groups]
    return ("group", *REP_COLUMNS, "check"), rows


def representativeness_lines(rep: dict[str, Any] | None, pile: dict[str, Any] | None) -> list[str]:
    """Are the splits (and the pile) like the labelled pool? One table, from the run's report."""
    if not rep:
        return []
    header, rows = representativeness_rows(rep, pile)
    return ["", "## Are the splits representative?",
            f"Standardised mean difference (SMD) against the pooled labelled data: {rep['rule']} "
            f"(threshold {rep['threshold']:g}). Overall: {'pass' if rep['passed'] else 'FLAGGED'}.",
            "", "| " + " | ".join(header) + " |", "|---" * len(header) + "|",
            *("| " + " | ".join(r) + " |" for r in rows)]


def _cell(col: str, v: Any) -> str:
    if v is None:
        return "n/a"
    if col.endswith("_share") or col.endswith("_prior"):
        return pct(v)
    return f"{v:,.0f}" if col == "studies" else f"{v:.2f}"


def write_summary(metrics: dict[str, Any], path: Path) -> Path:
    path.write_text(render_summary(metrics))
    return path
