"""Write a study run's tables (CSV + JSON) and figures under reports/intake/<run-id>/. Every file
says where the records came from; every figure title says so too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from triage_ray.intake.prepare import CONTROL
from triage_ray.intake.recommend import probe_summary
from triage_ray.intake.schema import TASKS
from triage_ray.intake.tables import StudyTables

HEADLINE_COLS = ["setting", "size", "setup", "task", "f1", "f1_ci_low", "f1_ci_high",
                 "top_label_ece_after", "setup_n_params", "setup_train_gflop", "setup_fit_cpu_s"]
TABLES = ("results", "transfer", "weightings", "controls", "costs", "probes")


def _save_figure(fig: Any, path: Path) -> Path:
    """Lay out, write (PNG, 110 dpi) and close one figure; returns its path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_tables(run_dir: Path, t: StudyTables, source: str, extra: dict[str, pd.DataFrame]
                 ) -> None:
    """Each table as CSV (and JSON, except the long probe series); `extra` adds named tables."""
    frames = {name: getattr(t, name) for name in TABLES} | extra
    for name, frame in frames.items():
        df = frame.copy()
        df.insert(0, "data_source", source)
        df.to_csv(run_dir / f"{name}.csv", index=False)
        if name != "probes":
            (run_dir / f"{name}.json").write_text(df.to_json(orient="records", indent=1))


def headline_table(t: StudyTables) -> str:
    res = t.results[t.results.setting == t.headline()]
    df = res[res["size"] == res["size"].max()][HEADLINE_COLS]
    return df.to_string(index=False, float_format=lambda v: f"{v:.3f}")


def _title(ax: Any, text: str, source: str) -> None:
    ax.set_title(f"{text}\n({source} records)", fontsize=8.5)


def _grid(frame: pd.DataFrame, value: str, settings: list[str], sizes: list[int]) -> np.ndarray:
    out = np.full((len(settings), len(sizes)), np.nan)
    for r in frame.itertuples():
        if r.setting in settings and r.size in sizes:
            out[settings.index(r.setting), sizes.index(r.size)] = getattr(r, value)
    return out


def _heatmap(ax: Any, values: np.ndarray, labels: np.ndarray, rows: list[str], cols: list[int],
             limit: float, cmap: str = "RdBu") -> None:
    ax.imshow(values, cmap=cmap, vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(len(cols)), [f"n={c:,}" for c in cols], fontsize=7)
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    for (i, j), text in np.ndenumerate(labels):
        dark = np.isfinite(values[i, j]) and abs(values[i, j]) > 0.6 * limit
        ax.text(j, i, text, ha="center", va="center", fontsize=7,
                color="white" if dark else "black")


SIGN_CODE = {"positive": 1, "negative": -1}


def _transfer_label(value: float, mark: float) -> str:
    """"+0.012 +" (the sign only when the CI excludes 0), "" for an empty cell."""
    if np.isnan(value):
        return ""
    sign = " +" if mark > 0 else " \u2212" if mark < 0 else ""
    return f"{value:+.3f}{sign}"


def transfer_map_figure(t: StudyTables, path: Path, source: str, level: float) -> Path:
    """Top: transfer per task (multi-task minus single-task F1), a sign only where the paired CI
    excludes 0. Bottom: gradient cosine and TAG affinity of the same runs."""
    import matplotlib.pyplot as plt

    map_settings = {k: v for k, v in t.settings.items() if v["role"] != CONTROL}
    rows = sorted(map_settings, key=lambda k: map_settings[k]["relatedness"] or 0.0)
    sizes = sorted({z for k in rows for z in map_settings[k]["sizes"]})
    names = [f"r={map_settings[k]['relatedness']:g}" if map_settings[k]["relatedness"] is not None
             else k for k in rows]
    tr = t.transfer[t.transfer.selected & t.transfer.setting.isin(rows)]
    fig, axes = plt.subplots(2, 3, figsize=(11.5, 6.4))
    limit = max(0.02, float(np.nanmax(np.abs(tr.delta)))) if len(tr) else 0.02
    for ax, task in zip(axes[0][:2], TASKS, strict=True):
        d = tr[tr.task == task]
        vals = _grid(d, "delta", rows, sizes)
        marks = _grid(d.assign(m=d.verdict.map(SIGN_CODE).fillna(0)), "m", rows, sizes)
        labels = np.vectorize(_transfer_label)(vals, marks)
        _heatmap(ax, vals, labels, names, sizes, limit)
        _title(ax, f"transfer, {task}: F1(multi) - F1(single)\nsign shown where the {level:.0%} "
                   "paired CI excludes 0", source)
    _controls_panel(axes[0][2], t, source)
    ps = probe_summary(t, level)
    for ax, (col, label) in zip(axes[1], (
            ("cosine", "gradient cosine on the shared encoder"),
            ("tag_urgency_to_specialty", "TAG affinity urgency -> specialty"),
            ("tag_specialty_to_urgency", "TAG affinity specialty -> urgency")), strict=True):
        vals = _grid(ps, col, rows, sizes) if len(ps) else np.full((len(rows), len(sizes)), np.nan)
        lim = max(1e-3, float(np.nanmax(np.abs(vals)))) if np.isfinite(vals).any() else 1.0
        labels = np.vectorize(lambda v: "" if np.isnan(v) else f"{v:+.3f}")(vals)
        _heatmap(ax, vals, labels, names, sizes, lim, cmap="PuOr")
        _title(ax, f"{label}\n(mean over steps and seeds; > 0: the tasks help each other)", source)
    return _save_figure(fig, path)


def _controls_panel(ax: Any, t: StudyTables, source: str) -> None:
    c = t.controls
    if c.empty:
        ax.axis("off")
        return
    labels = [f"{r.control}\n{r.task}" for r in c.itertuples()]
    x = np.arange(len(c))
    ax.errorbar(x, c.delta, yerr=np.vstack([c.delta - c.ci_low, c.ci_high - c.delta]), fmt="o",
                capsize=3)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylabel("F1(multi) - F1(single)", fontsize=7)
    passed = ", ".join(f"{n}: {'passed' if p else 'FAILED'}"
                       for n, p in c.groupby("control", sort=False).passed.first().items())
    _title(ax, f"controls (n={int(c['size'].iloc[0]):,}): {passed}", source)


def learning_curve_figure(t: StudyTables, path: Path, source: str) -> Path:
    """Macro-F1 against training size at the headline setting, every setup, per task."""
    import matplotlib.pyplot as plt

    res = t.results[t.results.setting == t.headline()]
    fig, axes = plt.subplots(1, len(TASKS), figsize=(10, 3.6), squeeze=False)
    for ax, task in zip(axes[0], TASKS, strict=True):
        for k, (setup, d) in enumerate(res[res.task == task].groupby("setup")):
            d = d.sort_values("size")
            ax.errorbar(d["size"] * (1 + 0.03 * k), d.f1,
                        yerr=np.vstack([d.f1 - d.f1_ci_low, d.f1_ci_high - d.f1]), capsize=2,
                        marker="o", ms=3, lw=1, label=setup)
        ax.set_xscale("log")
        ax.set_xlabel("training records")
        ax.set_ylabel("test macro-F1")
        ax.legend(fontsize=6)
        _title(ax, f"learning curve, {task} ({t.headline()}, 95% CI)", source)
    return _save_figure(fig, path)


def tuning_figure(tuning: pd.DataFrame, path: Path, source: str) -> Path:
    """Every tuning trial's best validation macro-F1 against its learning rate."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.4, 3.4))
    for k, (setup, d) in enumerate(tuning.groupby("setup")):
        ax.scatter(d.lr, d.best_val_f1, s=14, color=f"C{k}", label=setup)
        top = d[d.chosen]
        ax.scatter(top.lr, top.best_val_f1, s=60, facecolors="none", edgecolors=f"C{k}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("best validation macro-F1")
    ax.legend(fontsize=6)
    _title(ax, "tuning: same budget per setup (circled: chosen)", source)
    return _save_figure(fig, path)


def write_figures(run_dir: Path, t: StudyTables, tuning: pd.DataFrame, source: str,
                  level: float) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    fig_dir = run_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    return {"transfer_map": transfer_map_figure(t, fig_dir / "transfer_map.png", source, level),
            "learning_curve": learning_curve_figure(t, fig_dir / "learning_curve.png", source),
            "tuning": tuning_figure(tuning, fig_dir / "tuning.png", source)}


def write_summary(run_dir: Path, summary: dict[str, Any]) -> None:
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))


