"""The recommendation as a document for clinical leadership: recommendation.pdf (at most 2 pages),
with .md and .html twins built from the same blocks.

Every number is read from `decisions` (study.decide, saved as recommendation.json beside the
document); every sentence that states a conclusion is chosen by a comparison, none is fixed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from triage_ray.intake.recommend import OPTION_NAMES
from triage_ray.intake.schema import GENERATED, TASKS
from triage_ray.intake.tables import TF_PAIR
from triage_ray.report.doc import Bullets, Callout, Document, Figure, FigureRow, Heading, Para, Table
from triage_ray.report.fmt import cci, num, pct
from triage_ray.report.pdf import write_pdf
from triage_ray.report.render import to_html, to_markdown

MAX_PAGES = 2
FILES = ("recommendation.pdf", "recommendation.md", "recommendation.html", "recommendation.json")
SETUP_OF = {"xgb": "xgb", TF_PAIR: TF_PAIR}
RECALL_HALF_WIDTH = 0.05  # how precisely a site should measure immediate-tier recall


def _f1(d: dict[str, Any], setup: str, task: str) -> dict[str, float]:
    row = next(r for r in d["results"] if r["setup"] == setup and r["task"] == task)
    return {"value": row["f1"], "ci_low": row["f1_ci_low"], "ci_high": row["f1_ci_high"]}


def _diff(x: dict[str, Any]) -> str:
    return f"{x['delta']:+.3f} ({x['ci_low']:+.3f} to {x['ci_high']:+.3f})"


def decision_text(d: dict[str, Any]) -> str:
    lvl = f"{d['level']:.0%}"
    if d["choice"] is None:
        per = " and ".join(f"{OPTION_NAMES[d['leader'][t]]} for {t}" for t in TASKS)
        return (f"**No single option is as good as the best on both tasks: use {per}.** Every "
                f"option trails a leader on at least one task (paired {lvl} CI below 0).")
    name = OPTION_NAMES[d["choice"]]
    extra = f" ({d['mtl_setup']})" if d["choice"] == "mtl" else ""
    return (f"**Ship {name}{extra}.** It is not worse than the best option on either task (the "
            f"paired {lvl} CI of the difference reaches 0) and, of the options for which that "
            "holds, it costs the least to train.")


def options_table(d: dict[str, Any]) -> Table:
    cost = {c["setup"]: c for c in d["costs"]}
    rows = []
    for option, name in OPTION_NAMES.items():
        setups = {t: (d["mtl_setup"] if option == "mtl" else
                      "xgb" if option == "xgb" else f"tf_{t}") for t in TASKS}
        c = cost[SETUP_OF.get(option, d["mtl_setup"])]
        ms = (sum(cost[s]["predict_ms_per_record"] for s in set(setups.values()))
              if option != "mtl" else cost[d["mtl_setup"]]["predict_ms_per_record"])
        mark = " (shipped)" if d["choice"] == option else ""
        rows.append((f"{name}{mark}", *(cci(_f1(d, setups[t], t), 3) for t in TASKS),
                     num(c["fit_cpu_s"] / 60, 1),
                     "trees" if option == "xgb" else num(c["train_gflop"], 0),
                     num(c["n_params"], 0), num(ms, 3)))
    return Table(("option", "urgency macro-F1 (95% CI)", "specialty macro-F1 (95% CI)",
                  "training CPU-min", "training GFLOP", "size", "ms per record"),
                 tuple(rows), widths=(2.3, 1.9, 1.9, 1.1, 1.1, 1.0, 0.9),
                 caption=f"Trained on all {d['size']:,} training records of the headline setting "
                         f"({_setting(d)}), {d['seeds']} seeds; F1 is the seed mean, its interval "
                         "resamples test records and seeds. Costs sum the seeds; GFLOP is the "
                         "Transformers' forward and backward passes (estimated); size is "
                         "parameters (tree nodes for XGBoost); ms per record is CPU inference.")


def _setting(d: dict[str, Any]) -> str:
    r = d["relatedness"]
    return "a real data file" if r is None else f"relatedness {r:g}"


def calibration_blocks(d: dict[str, Any], by_class: list[dict[str, Any]]) -> list[Any]:
    cal = d["calibration"]
    parts = [f"{t}: top-label ECE {cci(cal[t]['top_label_ece'], 3)} after temperature scaling "
             f"(T = {cal[t]['temperature']:.2f}, fitted on validation)" for t in TASKS]
    urg = [r for r in by_class if r["task"] == "urgency"]
    imm = urg[0]
    spec = [r for r in by_class if r["task"] == "specialty" and math.isfinite(r["ece"])]
    worst = max(spec, key=lambda r: r["ece"]) if spec else None
    text = ("Calibration of what ships (seed 0): " + "; ".join(parts) + ". The rarest urgency tier "
            f"is **immediate** ({pct(imm['observed_rate'])} of test records, n = {imm['n']:,}): "
            f"the model finds {pct(imm['recall'])} of them "
            f"(95% CI {pct(imm['recall_ci_low'])}-{pct(imm['recall_ci_high'])}) and puts "
            f"{pct(cal['urgency']['immediate_to_lowest_two'])} in the two lowest tiers.")
    if worst:
        text += (f" The worst-calibrated service is {worst['class']} (one-vs-rest ECE "
                 f"{worst['ece']:.3f}).")
    table = Table(("urgency tier", "share of records", "mean predicted", "ECE (95% CI)",
                   "recall (95% CI)"),
                  tuple((r["class"], pct(r["observed_rate"]), pct(r["mean_predicted"]),
                         cci({"value": r["ece"], "ci_low": r["ece_ci_low"],
                              "ci_high": r["ece_ci_high"]}, 3),
                         cci({"value": r["recall"], "ci_low": r["recall_ci_low"],
                              "ci_high": r["recall_ci_high"]}, 2)) for r in urg),
                  widths=(1.4, 1.1, 1.1, 1.6, 1.6))
    return [Para(text), table]


def transfer_blocks(d: dict[str, Any], figure: Path) -> list[Any]:
    m = d["map"]
    o = m["overall"]
    lvl = f"{d['level']:.0%}"
    lines = [f"Across the map ({m['n_cells']} cells: relatedness x training size x task, "
             f"{d['mtl_setup']} against the single-task Transformers), transfer was **positive in "
             f"{o['positive']}, negative in {o['negative']} and inconclusive in "
             f"{o['inconclusive']}** (paired {lvl} CIs). Best cell: {_cell(m['best'])}; "
             f"worst cell: {_cell(m['worst'])}."]
    ctrl = [f"{c['control']} control {'passed' if c['passed'] else '**FAILED**'} ("
            + ", ".join(f"{t} {_diff(x)}" for t, x in c["tasks"].items()) + ")"
            for c in d["controls"]]
    if ctrl:
        c0 = d["controls"][0]
        lines.append(f"Controls, where the answer is known (n = {c0['size']:,}, {c0['seeds']} "
                     "seeds): " + "; ".join(ctrl) + ".")
    w = [f"{r['weighting']} vs tuned fixed weights on {r['task']} at n = {r['size']:,}: "
         f"{r['verdict']}" for r in d["weightings"] if r["size"] == d["size"]]
    if w:
        same = all(r["verdict"] == "inconclusive" for r in d["weightings"]
                   if r["size"] == d["size"])
        lines.append("Weighting methods at full size: " + "; ".join(w) + (
            ". A tuned scalarised loss matched the specialised methods here." if same else "."))
    matched = [r for r in d["matched"] if r["size"] == d["size"]]
    if matched:
        lines.append("One multi-task model as large as the two single-task models together ("
                     + ", ".join(f"{r['task']} {_diff(r)}: {r['verdict']}" for r in matched)
                     + ").")
    return [Bullets(tuple(lines)), FigureRow((Figure(
        figure, "Transfer map (top: sign only where the CI excludes 0; right: the controls) and "
                "how the tasks relate in training (bottom: gradient cosine, TAG affinity)."),))]


def _cell(c: dict[str, Any]) -> str:
    return (f"{c['task']} at {c['setting']}, n = {int(c['size']):,}, "
            f"{c['delta']:+.3f} ({c['verdict']})")


def less_related_text(d: dict[str, Any]) -> str:
    m = d["map"]
    lo, hi = m["lowest"], m["highest"]
    probes = {(p["setting"], p["size"]): p for p in d["probes"]}
    cos = [p["cosine"] for (s, _), p in probes.items() if s == f"rel{lo['relatedness']:g}"]
    cos_hi = [p["cosine"] for (s, _), p in probes.items() if s == f"rel{hi['relatedness']:g}"]
    text = (f"At relatedness {lo['relatedness']:g} (the labels share only the patient's history) "
            f"transfer was positive in {lo['positive']}, negative in {lo['negative']} and "
            f"inconclusive in {lo['inconclusive']} cells; at {hi['relatedness']:g}: "
            f"{hi['positive']} / {hi['negative']} / {hi['inconclusive']}.")
    if cos and cos_hi:
        text += (f" The gradient cosine averaged {sum(cos) / len(cos):+.3f} at "
                 f"{lo['relatedness']:g} and {sum(cos_hi) / len(cos_hi):+.3f} at "
                 f"{hi['relatedness']:g}.")
    if d["choice"] == "mtl":
        text += (" A multi-task model is the one option whose quality depends on that: if the "
                 "labels on site are less related, re-check it against the single-task pair.")
    else:
        text += (f" The shipped option ({OPTION_NAMES.get(d['choice'] or '', 'per-task leaders')})"
                 " trains each task on its own, so its quality does not depend on how related "
                 "the labels are.")
    return text


def pilot_checks(d: dict[str, Any], by_class: list[dict[str, Any]]) -> tuple[str, ...]:
    imm = next(r for r in by_class if r["task"] == "urgency")
    p = imm["recall"] if math.isfinite(imm["recall"]) else 0.5
    n_imm = math.ceil(1.96**2 * p * (1 - p) / RECALL_HALF_WIDTH**2)
    rate = imm["observed_rate"] or 0.01
    card = d["data_card"]
    kappa = card.get("urgency_weighted_kappa_between_raters")
    return (
        f"Immediate-tier recall on local records, with at least {n_imm:,} immediate cases (about "
        f"{math.ceil(n_imm / rate):,} records at this {pct(rate)} share) for a "
        f"+/-{RECALL_HALF_WIDTH:.0%} interval; here it was {pct(imm['recall'])}.",
        "Two nurses label the same records: the F1 ceiling is set by their agreement"
        + (f" (here simulated raters reached weighted kappa {kappa:.2f})." if kappa else "."),
        "Re-fit the temperature on local validation records before reading probabilities "
        f"(here T = {d['calibration']['urgency']['temperature']:.2f} for urgency).",
        "How related the two labels are on site (gradient cosine and TAG affinity on a local "
        "fine-tune): this study's transfer results hold for its generator's settings only.",
        "Case mix: tier and service shares against this study's data card.",
    )


def build_document(d: dict[str, Any], by_class: list[dict[str, Any]],
                   figures: dict[str, Path]) -> Document:
    doc = Document("Intake triage: which model to ship for the pilot",
                   f"Computed from run {d['run_id']} ({d['seeds']} seeds, {d['level']:.0%} "
                   "intervals); every number is read from the run's tables.")
    if d["source"] == GENERATED:
        doc.add(Callout("GENERATED DATA: every record in this run was produced by triage-ray's "
                        "intake generator. Nothing here is evidence about real patients; run "
                        "the study on real intake data before any decision."))
    doc.add(Heading("1. What to ship"), Para(decision_text(d)), options_table(d))
    doc.add(Heading("2. Calibration per task and per class"), *calibration_blocks(d, by_class))
    doc.add(Heading("3. Does one shared model help? Transfer, controls, weightings"),
            *transfer_blocks(d, figures["transfer_map"]))
    doc.add(Heading("4. If the two labels are less related than here"),
            Para(less_related_text(d)))
    doc.add(Heading("5. Check on real intake data before a pilot"),
            Bullets(pilot_checks(d, by_class)))
    doc.add(Para(f"Decision rule: per task the option with the highest macro-F1 leads; an option "
                 f"is not worse when the paired {d['level']:.0%} CI of its difference to the "
                 "leader reaches 0; among options not worse on both tasks the cheapest in "
                 "training CPU-seconds is chosen. Tables: results.csv, transfer.csv, "
                 "controls.csv, weightings.csv, costs.csv, calibration_by_class.csv, tuning.csv.",
                 small=True))
    return doc


def write_recommendation(run_dir: Path, decisions: dict[str, Any], figures: dict[str, Path]
                         ) -> Path:
    """recommendation.pdf (<= 2 pages, else PageLimitError), .md, .html and .json; returns the
    PDF. Reads the per-class table the study wrote (calibration_by_class.csv)."""
    import pandas as pd

    for name in FILES:
        (run_dir / name).unlink(missing_ok=True)
    by_class = pd.read_csv(run_dir / "calibration_by_class.csv").to_dict("records")
    (run_dir / "recommendation.json").write_text(json.dumps(decisions, indent=1, default=str))
    doc = build_document(decisions, by_class, figures)
    pdf = write_pdf(doc, run_dir / "recommendation.pdf", max_pages=MAX_PAGES,
                    footer=f"triage-ray intake recommendation - run {decisions['run_id']}")
    (run_dir / "recommendation.md").write_text(to_markdown(doc, run_dir))
    (run_dir / "recommendation.html").write_text(to_html(doc))
    return pdf
