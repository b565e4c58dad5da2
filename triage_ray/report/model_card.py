"""The model card for the chosen X-ray configuration: model_card.md and model_card.html.

Follows the usual model-card headings (details, intended use, out-of-scope use, data, metrics with
uncertainty, limitations) for the ML team and reviewers; the memo is the short version for
operations. Scope texts are shared with the memo (`scope.py`); every number comes from the run.
"""

from __future__ import annotations

from pathlib import Path

from triage_ray.common.stats import clopper_pearson
from triage_ray.report import brief, learning, scope, subgroups
from triage_ray.report.doc import Bullets, Callout, Document, FigureRow, Heading, Para, Table
from triage_ray.report.fmt import NA, calibrated_as, ci, interval, is_number, num, pct
from triage_ray.report.memo import backlog, reliability, trials_table
from triage_ray.report.memo_tables import rules_table
from triage_ray.report.render import to_html, to_markdown
from triage_ray.report.run import RunArtifacts
from triage_ray.report.standards import standards_blocks
from triage_ray.report.summary import representativeness_rows

CAL_METRICS = {"auroc": "AUROC", "ece": "ECE (equal-width bins, bias-corrected)",
               "adaptive_ece": "Adaptive ECE (equal-mass bins, bias-corrected)", "brier": "Brier score",
               "nll": "Negative log-likelihood"}


def _details(run: RunArtifacts) -> Table:
    best, cal, ab = run.get("best"), run.get("calibration"), run.get("abstention")
    init = best.get("init") or ("file" if run.cfg("weights_file", None) and run.cfg("pretrained", False)
                                else "hub" if run.cfg("pretrained", False) else "scratch")
    weights = (run.cfg("weights_file", None) if init == "file" else
               (run.get("pretrain", None) or {}).get(best["backbone"], {}).get("weights")
               if init == "pretrain" else None)
    per_finding = run.cfg("supervision", "binary") == "multilabel"
    aug = best.get("augment")
    rows = (
        ("Architecture", f"{best['backbone']} (timm), " + (
            "1 logit P(abnormal) plus one per written finding (per-finding supervision); only "
            "the abnormal logit is calibrated and used" if per_finding else
            "1 logit: P(abnormal)")),
        ("Initialisation", (f"pretrained from {weights}" + (
            " (triage-ray's pretraining on a generated source corpus; below)"
            if init == "pretrain" else "") + (
            f"; {run.cfg('finetune', 'full')} fine-tune" + (
                f" ({run.cfg('probe_epochs', 1)} head-only epochs first)"
                if run.cfg("finetune", "full") == "probe_then_full" else "")))
         if weights else
         ("pretrained (timm hub)" if init == "hub" else "random (no pretrained weights)")),
        ("Training", f"lr {best['lr']:g}, weight decay {run.cfg('weight_decay', NA)}, "
                     f"{best.get('epochs_run') or run.cfg('epochs', NA)} epochs, "
                     f"batch {run.cfg('batch_size', NA)}, "
                     f"input {best.get('image_size') or run.cfg('image_size', NA)} px grayscale, "
                     f"{run.cfg('schedule', 'cosine')} schedule"
                     + (f", chest augmentation strength {aug:.2f}" if is_number(aug) else "")),
        ("Selected by", f"{_search_text(run)}; chosen by {run.get('sweep.metric')} (simulated) "
                        "under the miss-rate bound"),
        ("Calibration", f"{calibrated_as(cal, 3)}, fitted on "
                        f"{num(cal['n_fit'], 0)} '{cal['fit_split']}' studies"),
        ("Triage thresholds", f"auto-normal < {num(ab['t_low'], 3)}, priority >= "
                              f"{_threshold(ab['t_high'])} (held-out prevalence); on the pile "
                              f"{num(run.get('pile.policy.t_low'), 3)} / "
                              f"{_threshold(run.get('pile.policy.t_high'))}"),
        ("Abstention rules", f"t_low: {ab['t_low_rule']} ({ab['bound_procedure']}); t_high: "
                             f"{ab['t_high_rule']} (target precision {ab['target_ppv']})"),
        ("Trial / checkpoint", f"{best['trial_id']} / {best['checkpoint_path']}"),
        ("Run", f"{run.get('run_id')} ({run.get('created')}); config.json beside this card"),
    )
    return Table(("Field", "Value"), rows, widths=(22, 78))


def _search_text(run: RunArtifacts) -> str:
    n = run.get("sweep.n_trials")
    if run.cfg("search", "grid") == "optuna_asha":
        stopped = sum(t.get("status") == "stopped" for t in run.get("sweep.trials"))
        many = {"backbone": len(run.cfg("backbones", []) or []) > 1, "learning rate": True,
                "augmentation": True, "init": len(run.cfg("inits", None) or []) > 1,
                "input size": len(run.cfg("image_sizes", None) or []) > 1}
        axes = ", ".join(k for k, v in many.items() if v)
        return (f"Ray Tune, {n} Optuna (TPE) trials over {axes}; "
                f"ASHA stopped {stopped} early on per-epoch validation AUROC{_budget_text(run)}")
    return f"Ray Tune grid over {n} configurations{_budget_text(run)}"


def _budget_text(run: RunArtifacts) -> str:
    """What the run's time budget (xray.budget) did, from the plan the run recorded."""
    plan = run.get("budget", None)
    if not plan or plan["budget_s"] is None:
        return ""
    how = "cut " + ", ".join(plan["cuts"]) if plan["cut"] else "cut nothing"
    return (f"; its {plan['budget_s'] / 60:.0f}-min time budget, at a measured "
            f"{plan['epoch_s']:.0f} s per sweep epoch on this machine, {how} "
            f"(the run took {plan['actual_s'] / 60:.1f} min)")


def _truth_table(run: RunArtifacts) -> Table | Para:
    """The model against the generator's truth (generated runs only): what the images hold."""
    vs = run.get("model_vs_truth", None)
    if not vs:
        return Para("No ground truth: real data. AUROC against the written labels is above.")
    test = vs["test"]
    rows = [("Held-out test: AUROC vs truth", ci(test["auroc_truth"], 3), num(test["n"], 0)),
            ("Held-out test: AUROC vs written labels", ci(test["auroc_written"], 3),
             num(test["n"], 0))]
    if "reference" in test:
        rows.append(("Held-out test: AUROC vs reference", ci(test["reference"]["auroc_reference"], 3),
                     num(test["reference"]["n"], 0)))
    if "pile" in vs:
        pile = vs["pile"]
        rows.append(("Pile: AUROC vs truth", ci(pile["auroc_truth"], 3), num(pile["n"], 0)))
        for k in (1, 5, 10):
            m = pile[f"abnormal_in_lowest_{k}pct"]
            rows.append((f"Pile: truly abnormal among its lowest-scored {k}%",
                         f"{pct(m['value'], 1)} ({pct(m['ci_low'], 1)}-{pct(m['ci_high'], 1)})",
                         num(m["n"], 0)))
    return Table(("Against the generator's truth", "Value (95% CI)", "Studies"), rows,
                 widths=(50, 30, 20),
                 caption="Generated data only: the truth is the generator's. The lowest-scored "
                         "studies are the ones an auto-normal bucket would clear first.")


def _threshold(t: object) -> str:
    return num(t, 3) if is_number(t) else "none (no threshold reaches the target precision)"


def _data(run: RunArtifacts) -> Bullets:
    d, pile = run.get("data"), run.get("pile")
    splits = ", ".join(f"{k} {num(v, 0)}" for k, v in d["splits"].items())
    items = [
        f"Source: {d['source']}. {run.get('data_note')}",
        f"Labelled studies: {num(d['n_studies'], 0)}, split by patient: {splits}; abnormal "
        f"rate {pct(d['abnormal_rate'])}.",
        f"Unlabeled pile: {num(pile['n_studies'], 0)} studies, {num(pile['n_scored'], 0)} "
        f"scored, {num(pile['n_skipped'], 0)} skipped (listed in metrics.json with reasons); "
        f"estimated abnormal prevalence EM {ci(pile['prevalence']['em'], 3)}, BBSE "
        f"{ci(pile['prevalence']['bbse'], 3)}.",
    ]
    gate = pile.get("gate")
    if gate:
        ff, probes = gate["check"]["false_flag_test"], gate["check"]["probes"]
        items.append(
            f"Intended-use gate: {num(gate['n_not_triaged'], 0)} of {num(gate['n_studies'], 0)} "
            "pile studies not triaged (" + ", ".join(f"{k} {num(v, 0)}" for k, v in
                                                     gate["by_reason"].items()) + "). Feature "
            f"check: flags {num(ff['flagged'], 0)} of {num(ff['n'], 0)} in-scope test studies "
            f"({pct(ff['rate'])}, {pct(ff['ci_low'])}-{pct(ff['ci_high'])}; target "
            f"{pct(ff['target'])}); with the image checks it catches "
            + ", ".join(f"{k} {pct(v['rate'])}" + (f" ({pct(v['ci_low'])}-{pct(v['ci_high'])})"
                                                   if is_number(v.get("ci_low")) else "")
                        for k, v in probes.items()) + " of probe images."
            + (f" Not tested: {'; '.join(gate['check']['not_tested'])}."
               if gate["check"].get("not_tested") else ""))
        compared = scope.feature_check_comparison(gate["check"])
        if compared:
            items.append(compared)
    if is_number(d.get("bayes_ceiling_auroc")):
        items.append(f"Generated data: the generator's Bayes-optimal AUROC (ceiling) is "
                     f"{num(d['bayes_ceiling_auroc'], 3)}.")
    if is_number(pile.get("written_prevalence")):
        items.append(f"Generated pile: its written labels call {pct(pile['written_prevalence'])} "
                     "abnormal. That is what EM and BBSE estimate (both are fitted on written "
                     "labels), so it is the figure to check them against.")
    if is_number(pile.get("true_prevalence")):
        items.append(f"Generated pile: true abnormal prevalence {pct(pile['true_prevalence'])} "
                     "(the generator's truth, a different definition from the written labels; "
                     "hidden from the model).")
    return Bullets(tuple(items))


def _representativeness_table(run: RunArtifacts) -> Table | Para:
    rep = run.get("data.representativeness", None)
    if not rep:
        return Para("Split representativeness: not measured by this run.")
    header, rows = representativeness_rows(rep, run.get("pile.covariates", None))
    return Table(header, tuple(rows), caption=(
        f"Each split and the pile against the pooled labelled data. {rep['rule']} (threshold "
        f"{rep['threshold']:g}). Overall: {'pass' if rep['passed'] else 'FLAGGED'}."))


def _frontier(run: RunArtifacts) -> tuple:
    fig = brief.frontier_figure(run)
    table = brief.frontier_table(run)
    return tuple(b for b in (table, brief.operating_bullets(run),
                             FigureRow((fig,)) if fig else None) if b is not None)


def _doubling_table(run: RunArtifacts, key: str, shape: str) -> Table | Para:
    d = run.get(f"brief.{key}", None)
    if not d:
        return Para(f"No doubling analysis ({shape}) in this run.")
    rows = tuple((pct(prev, 0), *(num(v, 2) for v in row), num(need, 3) if is_number(need) else "none")
                 for prev, row, need in zip(d["prevalences"], d["median_multiplier"],
                                            d["auroc_for_2x"], strict=True))
    return Table(("Pile abnormal", *(f"AUROC {a:g}" for a in d["aurocs"]), "2x from AUROC"), rows,
                 caption="Certified throughput multiplier at alpha "
                         f"{pct(d['settings']['alpha'])} (median over {d['settings']['n_redraws']} "
                         f"reference-set redraws), simulated for a binormal score model with "
                         f"{shape}; present model: AUROC {num(d['present']['auroc'], 3)} at "
                         f"{pct(d['present']['prevalence'])} abnormal.")


def _calibration_table(run: RunArtifacts) -> Table:
    b, a = run.get("calibration.before"), run.get("calibration.after")
    rows = tuple((label, ci(b.get(k), 3), ci(a.get(k), 3))
                 for k, label in CAL_METRICS.items() if k in b or k in a)
    return Table(("Held-out test split", "Raw", "Temperature-scaled"), rows, widths=(34, 33, 33),
                 caption=f"{num(run.get('calibration.n_eval'), 0)} test studies; 95% percentile "
                         "bootstrap CIs.")


def _abstention_table(run: RunArtifacts) -> Table:
    ab = run.get("abstention")
    rows = []
    for name, s in ab["bucket_stats"].items():
        rows.append((name.replace("_", "-"), num(s["n"], 0), num(s["n_abnormal"], 0),
                     pct(s["abnormal_rate"]) if is_number(s["abnormal_rate"]) else NA,
                     f"{pct(s['ci_low'])}-{pct(s['ci_high'])}", pct(ab["coverage"].get(name))))
    tc = ab["test_check"]
    level = 1 - ab["delta"]  # the bucket intervals are two-sided Clopper-Pearson at 1 - delta
    if tc["n_auto_normal"]:
        lo, hi = clopper_pearson(tc["abnormal_among_auto_normal"], tc["n_auto_normal"], level)
        rows.append(("auto-normal, test split (check)", num(tc["n_auto_normal"], 0),
                     num(tc["abnormal_among_auto_normal"], 0), pct(tc["rate"]),
                     f"{pct(lo)}-{pct(hi)}", NA))
    return Table(("Bucket", "Studies", "Abnormal", "Abnormal rate",
                  f"{pct(level, 0)} CI (exact)", "Share"),
                 tuple(rows), widths=(28, 12, 12, 16, 18, 14),
                 caption=f"Selection split ({num(ab['n_selection'], 0)} studies). Bound: abnormal "
                         f"rate among auto-normal <= {pct(ab['bound'], 2)} with "
                         f"{pct(1 - ab['delta'], 0)} confidence (target {pct(ab['alpha'])}); "
                         f"{ab['bound_statistic']}.")


def _simulation_table(run: RunArtifacts) -> Table:
    test, pile = run.get("simulation"), run.get("pile.simulation")
    units = _units()
    rows = tuple(
        (f"{name}" + (f" ({units[name]})" if name in units else ""),
         ci(test["metrics"][name], 3), ci(pile["metrics"].get(name), 3))
        for name in test["metrics"]
    )
    return Table(("Simulated metric (sim.metrics)", f"Test split ({test['pile']})",
                  f"Pile ({num(pile['n_studies'], 0)} studies)"), rows, widths=(40, 30, 30),
                 caption=f"Policy {pile['policy']} vs no_ai on the same draws, {pile['n_reps']} "
                         "replications, 95% CI over replications; n/a: needs ground truth.")


def _uncertainty_table(run: RunArtifacts) -> Table | Para:
    """Each pile figure's replication-only interval beside its study-bootstrap interval."""
    unc = run.get("uncertainty", None)
    if not unc:
        return Para("This run has no study-bootstrap intervals (it predates xray.uncertainty).")
    pile = run.get("pile.simulation.metrics")
    units = _units()
    rows = tuple(
        (f"{k}" + (f" ({units[k]})" if k in units else ""), ci(pile.get(k), 3),
         interval(unc["pile"][k], 3))
        for k in unc["pile"] if pile.get(k) and pile[k].get("mean") is not None)
    return Table(("Pile figure", "Replications only (as simulated)", "Study bootstrap 95% CI"),
                 rows, widths=(40, 32, 28),
                 caption=f"{unc['method']}; {num(unc['n_boot'], 0)} replicates, seed "
                         f"{unc['seed']}, resampled by {unc['resampled_by']}; the guarantee held "
                         f"in {pct(unc['feasible_share'], 0)} of them (docs/uncertainty.md).")


def _units() -> dict[str, str]:
    try:
        from sim import METRICS
    except ImportError:  # pragma: no cover - sim ships with the package
        return {}
    return {k: v.unit for k, v in METRICS.items()}


def build_model_card(run: RunArtifacts) -> Document:
    best = run.get("best")
    doc = Document(f"Model card: chest X-ray triage, {best['backbone']}",
                   f"run {run.get('run_id')} - generated from the run's artifacts by triage-ray")
    if run.get("generated_data"):
        doc.add(Callout(f"NOT A CLINICAL MODEL. {run.get('data_note')}"))
    doc.add(
        Heading("Model details"), _details(run),
        Heading("Intended use"), Bullets(tuple(scope.intended_use(run))),
        Heading("Out-of-scope use"), rules_table(run),
        Heading("Data"), _data(run), _representativeness_table(run),
        Heading("Metrics with uncertainty"),
        Heading("Discrimination and calibration", 3), _calibration_table(run),
        Heading("Against what the images hold", 3), _truth_table(run),
        Heading("Pretraining and the learning curve", 3), *learning.model_card_blocks(run),
        Heading("Results by subgroup", 3), subgroups.subgroup_table(run),
        FigureRow((reliability(run), backlog(run))),
        Heading("Triage buckets and the miss-rate bound", 3), _abstention_table(run),
        Para(brief.reference_text(run) + " " + brief.written_comparison(run)),
        Heading("Operating frontier", 3), *_frontier(run),
        Heading("Under other guarantee standards", 3), *standards_blocks(run),
        Heading("Does it double effective radiologist throughput?", 3),
        *brief.brief_paragraphs(run), _doubling_table(run, "doubling", "this model's score shape"),
        _doubling_table(run, "doubling_equal_variance", "equal-variance scores of the same AUROC"),
        Heading("Operational effect (simulated reading)", 3), _simulation_table(run),
        Heading("What the intervals cover", 3), _uncertainty_table(run),
        Heading("Configurations compared", 3), trials_table(run),
        Heading("Limitations"), Bullets(tuple(scope.limitations(run))),
        Para(f"Source: {run.metrics_path} and config.json. Rebuild with "
             f"`python -m triage_ray.report {run.run_dir}`.", small=True),
    )
    return doc


def write_model_card(run_dir: str | Path) -> Path:
    """Write model_card.md and model_card.html into the run dir; returns the Markdown path."""
    run = RunArtifacts.load(run_dir)
    doc = build_model_card(run)
    md = run.run_dir / "model_card.md"
    md.write_text(to_markdown(doc, run.run_dir))
    (run.run_dir / "model_card.html").write_text(to_html(doc))
    return md
