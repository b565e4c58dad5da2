"""The memo's three figures, drawn from the run's metrics (matplotlib, no pyplot).

Each function takes the plain dict the pipeline stored and writes one small PNG sized to sit three
abreast on an A4 page; nothing is recomputed from the model. The reliability diagram is
`triage_ray.calibrate.plot_reliability`, drawn at this size and in this style.

Style: `report_style()` is the reports' one matplotlib style (the dashboard adds its overrides),
applied as an `rc_context` around each figure, so drawing a report figure never changes the global
`matplotlib.rcParams`. Figures are `matplotlib.figure.Figure` objects saved directly (PNG through
Agg): no pyplot state, no backend switch, nothing to close.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

FIGSIZE = (3.6, 2.9)  # inches; three fit across an A4 page at 180 mm
DPI = 150
COLORS = {"before": "#9aa3b5", "after": "#1f5fa8", "no_ai": "#9aa3b5", "policy": "#1f5fa8",
          "auto_normal": "#2e8b57", "uncertain": "#d4a017", "priority": "#c0392b"}
STYLE: dict[str, Any] = {"font.size": 7.5, "axes.titlesize": 8.5, "axes.spines.top": False,
                         "axes.spines.right": False}


def report_style(overrides: Mapping[str, Any] | None = None) -> AbstractContextManager:
    """`with report_style(): ...` draws in the reports' style; rcParams are restored on exit."""
    import matplotlib

    return matplotlib.rc_context({**STYLE, **(overrides or {})})


def new_figure(figsize: tuple[float, float] = FIGSIZE):
    """A pyplot-free Figure (call inside `report_style()` so its artists take the style)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    return path


def reliability_figure(curves: Mapping[str, Mapping[str, Sequence[float]]], path: Path,
                       labels: Mapping[str, str] | None = None) -> Path:
    """`plot_reliability` at memo size and in the report style: observed abnormal rate vs
    predicted probability per bin, studies per bin in the lower panel."""
    from triage_ray.calibrate.plot import plot_reliability

    with report_style():
        return plot_reliability(curves, path, title="Reliability (held-out test)", labels=labels,
                                colors=COLORS, figsize=FIGSIZE, dpi=DPI,
                                xlabel="predicted P(abnormal)", ylabel="observed abnormal rate")


def bucket_figure(counts: Mapping[str, int], path: Path, title: str = "Pile by bucket") -> Path:
    """Studies per bucket (bars labelled with count and share)."""
    names = list(counts)
    values = [int(counts[n]) for n in names]
    total = max(1, sum(values))
    with report_style():
        fig = new_figure()
        ax = fig.subplots()
        bars = ax.bar([n.replace("_", "-") for n in names], values,
                      color=[COLORS.get(n, "#777") for n in names])
        for bar, v in zip(bars, values, strict=True):
            ax.annotate(f"{v:,}\n({100 * v / total:.1f}%)",
                        (bar.get_x() + bar.get_width() / 2, v),
                        ha="center", va="bottom", fontsize=6.5)
        ax.set(ylabel="studies", title=title, ylim=(0, max(values + [1]) * 1.25))
        return _save(fig, path)


def backlog_figure(backlog: Mapping[str, Any], path: Path, policy_label: str = "with model",
                   title: str = "Backlog over reading days") -> Path:
    """Studies not yet dispositioned at the end of each day: model policy vs reading everything."""
    for key in ("day", "policy", "no_ai"):
        if key not in backlog:
            raise ValueError(f"backlog: missing '{key}' (have {sorted(backlog)})")
    from matplotlib.ticker import MaxNLocator

    with report_style():
        fig = new_figure()
        ax = fig.subplots()
        ax.step(backlog["day"], backlog["no_ai"], where="post", color=COLORS["no_ai"], lw=1.4,
                label="no model (FIFO)")
        ax.step(backlog["day"], backlog["policy"], where="post", color=COLORS["policy"], lw=1.6,
                label=policy_label)
        ax.set(xlabel="reading day", ylabel="studies waiting", title=title, ylim=(0, None))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=6.5, frameon=False)
        return _save(fig, path)
