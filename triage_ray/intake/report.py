"""Write a study run's outputs under reports/intake/<run-id>/: tables (CSV + JSON), figures and
the computed recommendation. Every file says where the records came from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from triage_ray.intake.tables import StudyTables

HEADLINE_COLS = ["setting", "size", "setup", "task", "f1", "f1_ci_low", "f1_ci_high",
                 "top_label_ece_before", "top_label_ece_after", "nll_before", "nll_after",
                 "setup_fit_wall_s", "setup_fit_cpu_s"]



def _save_figure(fig, path: Path) -> Path:
    """Lay out, write (PNG, 110 dpi) and close one figure; returns its path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

def write_tables(run_dir: Path, t: StudyTables, source: str) -> None:
    for name in ("results", "transfer", "costs", "weight_sweep", "grad_cosine"):
        df: pd.DataFrame = getattr(t, name).copy()
        df.insert(0, "data_source", source)
        df.to_csv(run_dir / f"{name}.csv", index=False)
        if name != "grad_cosine":
            (run_dir / f"{name}.json").write_text(df.to_json(orient="records", indent=1))


def headline_table(t: StudyTables) -> str:
    df = t.results[HEADLINE_COLS].copy()
    fmt = {"float_format": lambda v: f"{v:.3f}", "index": False}
    costs = t.costs.pivot_table(index=["setting", "size"], columns="setup",
                                values="fit_cpu_s").reset_index()
    return (df.to_string(**fmt) + "\n\nTraining CPU-seconds per setup (all seeds; tf_pair = the two "
            "single-task Transformers together, xgb = both XGBoost models):\n"
            + costs.to_string(index=False, float_format=lambda v: f"{v:.1f}"))


def _title(ax: Any, text: str, source: str) -> None:
    ax.set_title(f"{text}\n({source} records)", fontsize=9)


def write_figures(run_dir: Path, t: StudyTables, source: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig_dir = run_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    paths = []
    res = t.results
    cells = sorted({(s, z) for s, z in zip(res.setting, res["size"], strict=True)})
    tasks = list(dict.fromkeys(res.task))
    fig, axes = plt.subplots(len(tasks), len(cells), figsize=(3.2 * len(cells), 3.2 * len(tasks)),
                             squeeze=False, sharey="row")
    for i, task in enumerate(tasks):
        for j, (setting, size) in enumerate(cells):
            ax = axes[i][j]
            d = res[(res.task == task) & (res.setting == setting) & (res["size"] == size)]
            x = np.arange(len(d))
            err = np.vstack([d.f1 - d.f1_ci_low, d.f1_ci_high - d.f1])
            ax.bar(x, d.f1, yerr=err, capsize=3,
                   color=["C1" if s.startswith("mtl") else "C0" for s in d.setup])
            ax.set_xticks(x, d.setup, rotation=60, ha="right", fontsize=7)
            _title(ax, f"{task} macro-F1, {setting}, n={size}", source)
    paths.append(_save_figure(fig, fig_dir / "f1_by_setup.png"))

    tr = t.transfer[t.transfer.selected]
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 3.4), squeeze=False)
    for i, task in enumerate(tasks):
        ax = axes[0][i]
        for k, (size, d) in enumerate(tr[tr.task == task].groupby("size")):
            x = np.arange(len(d)) + 0.1 * k
            ax.errorbar(x, d.delta, yerr=np.vstack([d.delta - d.ci_low, d.ci_high - d.delta]),
                        fmt="o", capsize=3, label=f"n={size}")
            ax.set_xticks(np.arange(len(d)), d.setting)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_ylabel("F1(multi-task) - F1(single-task)")
        ax.legend(fontsize=7)
        _title(ax, f"transfer, {task} (95% paired CI)", source)
    paths.append(_save_figure(fig, fig_dir / "transfer.png"))

    if not t.grad_cosine.empty:
        g = t.grad_cosine
        settings = sorted(set(g.setting))
        fig, axes = plt.subplots(1, len(settings), figsize=(4.5 * len(settings), 3.4),
                                 squeeze=False, sharey=True)
        for i, setting in enumerate(settings):
            ax = axes[0][i]
            for (size, setup), d in g[g.setting == setting].groupby(["size", "setup"]):
                m = d.groupby("step").cosine.mean()
                smooth = m.rolling(5, min_periods=1).mean()
                ax.plot(smooth.index, smooth.to_numpy(), label=f"n={size} {setup}", lw=1)
            ax.axhline(0, color="k", lw=0.8)
            ax.set_xlabel("training step")
            ax.set_ylabel("cos(grad urgency, grad specialty)")
            ax.legend(fontsize=6)
            _title(ax, f"gradient cosine on the shared encoder, {setting}", source)
        paths.append(_save_figure(fig, fig_dir / "grad_cosine.png"))

    ws = t.weight_sweep
    fixed = ws[ws.weighting == "fixed"]
    if not fixed.empty:
        fig, ax = plt.subplots(figsize=(5, 3.4))
        for k, ((setting, size), d) in enumerate(fixed.groupby(["setting", "size"])):
            d = d.sort_values("urgency_weight")
            ax.plot(d.urgency_weight, d.val_f1_mean, "o-", color=f"C{k}", label=f"{setting} n={size}")
            uw = ws[(ws.setting == setting) & (ws["size"] == size) & (ws.weighting != "fixed")]
            for v in uw.val_f1_mean:
                ax.axhline(v, color=f"C{k}", ls="--", lw=0.8)
        ax.set_xlabel("urgency loss weight w (specialty: 1 - w)")
        ax.set_ylabel("validation macro-F1, mean of tasks")
        ax.legend(fontsize=7)
        _title(ax, "loss-weight sweep (Ray Tune grid); dashed: uncertainty weighting", source)
        paths.append(_save_figure(fig, fig_dir / "weight_sweep.png"))
    return paths


def write_summary(run_dir: Path, summary: dict[str, Any]) -> None:
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
