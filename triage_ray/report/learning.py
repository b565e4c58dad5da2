"""Pretraining and the learning curve in the reports: the model card's tables and figure, and the
dashboard's section, all read from metrics.json (`pretrain`, `learning_curve`)."""

from __future__ import annotations

import base64
import html
from typing import Any

from triage_ray.report.doc import Figure, FigureRow, Para, Table
from triage_ray.report.fmt import ci, num
from triage_ray.report.run import RunArtifacts

FIGURE_NAME = "learning_curve.png"


def pretrain_table(run: RunArtifacts) -> Table | Para:
    pre = run.get("pretrain", None)
    if not pre:
        return Para("No pretraining stage: no trial started from init 'pretrain'.")
    rows = []
    for backbone, p in pre.items():
        c, s = p["corpus"], p["seconds"]
        rows.append((backbone,
                     f"{num(c['n_studies'], 0)} generated studies, written-abnormal "
                     f"{c['written_abnormal_rate']:.0%}; {p['method']}",
                     f"{s['total'] / 60:.1f} min" + ("" if p["made_by_this_run"]
                                                     else " (earlier run; cached)"),
                     num(p.get("final_val_auroc"), 3)))
    return Table(("Backbone", "Source corpus and method", "Cost", "Val AUROC"), rows,
                 widths=(16, 54, 18, 12),
                 caption="Init 'pretrain': weights made by triage_ray.xray.pretrain on a "
                         "differently distributed generated corpus, cached by their parameters "
                         "under data/pretrained/; the cost is paid once per parameter set.")


def chosen_point(run: RunArtifacts) -> dict[str, Any] | None:
    """The selected trial's own test AUROCs at the full training size, for the curve's star."""
    vs = run.get("model_vs_truth", None)
    n = (run.get("data.splits", None) or {}).get("train")
    if not vs or not n:
        return None
    return {"n_train": n, "epochs": run.get("best", {}).get("epochs_run") or run.cfg("epochs", "?"),
            "written": vs["test"]["auroc_written"]["value"],
            "truth": vs["test"]["auroc_truth"]["value"]}


def curve_table(run: RunArtifacts) -> Table | Para:
    curve = run.get("learning_curve", None)
    if not curve:
        budget = run.get("budget", None) or {}
        if budget.get("learning_curve") is False:
            return Para("No learning curve in this run: its time budget skipped it to keep the "
                        "chosen model's epochs (`--set time_budget_min=null` runs it).")
        return Para("No learning curve in this run (learning_curve_sizes is empty).")
    has_truth = any("auroc_truth" in p for p in curve["points"])
    head = ("Init", "Training studies", "Test AUROC vs written labels",
            *(("Test AUROC vs truth",) if has_truth else ()), "Train s")
    rows = [(p["init"], num(p["n_train"], 0), ci(p["auroc_written"], 3),
             *((ci(p["auroc_truth"], 3),) if has_truth else ()), num(p["train_seconds"], 0))
            for p in curve["points"]]
    s = curve["settings"]
    return Table(head, rows, caption=(
        f"The chosen settings ({s['backbone']}, lr {s['lr']:g}, augmentation {s['augment']:.2f}) "
        f"retrained for {s['epochs']} epoch{'' if s['epochs'] == 1 else 's'} on nested patient "
        f"subsets of the "
        f"{num(curve['n_train_pool'], 0)}-study training split; scored on the test split, "
        f"{curve['n_boot']} patient-bootstrap replicates. One seed."))


def curve_figure(run: RunArtifacts) -> Figure | None:
    from triage_ray.report.figures import training_size_figure

    curve = run.get("learning_curve", None)
    if not curve:
        return None
    path = training_size_figure(curve, run.figures_dir / FIGURE_NAME, chosen_point(run))
    return Figure(path, "Test AUROC against training size, from scratch and from the chosen "
                        "init (bars: 95% CI). The star is the chosen model at the full training "
                        "split with its own, longer, training.")


def model_card_blocks(run: RunArtifacts) -> tuple:
    fig = curve_figure(run)
    return (pretrain_table(run), curve_table(run), *((FigureRow((fig,)),) if fig else ()))


def dashboard_html(run: RunArtifacts) -> str:
    """The learning-curve section of the run's dashboard (an embedded PNG and its table)."""
    fig = curve_figure(run)
    if fig is None:
        return ("<h2>Learning curve (training size)</h2><p class='small'>No learning curve in "
                "this run.</p>")
    uri = "data:image/png;base64," + base64.b64encode(fig.path.read_bytes()).decode("ascii")
    curve = run.get("learning_curve")
    cells = "".join(
        f"<tr><td>{html.escape(p['init'])}</td><td>{p['n_train']:,}</td>"
        f"<td>{html.escape(ci(p['auroc_written'], 3))}</td>"
        f"<td>{html.escape(ci(p['auroc_truth'], 3)) if 'auroc_truth' in p else 'n/a'}</td></tr>"
        for p in curve["points"])
    return ("<h2>Learning curve (training size)</h2>"
            f'<img src="{uri}" alt="learning curve: AUROC against training size">'
            f"<p class='small'>{html.escape(fig.caption)}</p><table><tr><th>init</th>"
            "<th>training studies</th><th>AUROC vs written</th><th>AUROC vs truth</th></tr>"
            f"{cells}</table>")

