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
                   title: str = "Backlog over calendar days") -> Path:
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
        ax.set(xlabel="calendar day (days off included)", ylabel="studies waiting", title=title,
               ylim=(0, None))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=6.5, frameon=False)
        return _save(fig, path)


def frontier_figure(points: Sequence[Mapping[str, Any]], pareto: Sequence[int],
                    recommended: Mapping[str, Any] | None, alpha: float, path: Path) -> Path:
    """Operating points: simulated throughput against the certified bound (per 1,000 cleared),
    coloured by the worst normal wait; points with no certified bound sit at the right edge."""
    import math

    def bound(p: Mapping[str, Any]) -> float:
        b = p.get("bound")
        ok = p.get("feasible") and b is not None and math.isfinite(b)
        return 1000.0 * b if ok else math.nan

    done = [p for p in points if p.get("status") == "done"]
    xs = [bound(p) for p in done]
    right = max([x for x in xs if math.isfinite(x)] + [1000.0 * alpha * 2]) * 1.15
    xs = [x if math.isfinite(x) else right for x in xs]
    ys = [p.get("throughput_multiplier") or 1.0 for p in done]
    cs = [p.get("normal_wait_max_hours") or 0.0 for p in done]
    with report_style():
        fig = new_figure()
        ax = fig.add_subplot()
        sc = ax.scatter(xs, ys, c=cs, s=12, cmap="viridis", alpha=0.85)
        front = [i for i in pareto if i < len(points) and points[i].get("status") == "done"]
        idx = {id(p): k for k, p in enumerate(done)}
        fx = [xs[idx[id(points[i])]] for i in front]
        fy = [ys[idx[id(points[i])]] for i in front]
        ax.scatter(fx, fy, s=40, facecolors="none", edgecolors="#c0392b", linewidths=0.8)
        if recommended is not None:
            ax.scatter([bound(recommended) if math.isfinite(bound(recommended)) else right],
                       [recommended.get("throughput_multiplier") or 1.0], marker="*", s=110,
                       color="#c0392b", zorder=3)
        ax.axvline(1000.0 * alpha, color="#9aa3b5", lw=0.8, ls="--")
        if not any(p.get("feasible") for p in done):
            ax.text(0.5, 0.5, "no point certified:\nnothing can be cleared", ha="center",
                    va="center", transform=ax.transAxes, color="#c0392b")
        ax.ticklabel_format(axis="y", useOffset=False)
        lo, hi = min(ys + [1.0]), max(ys + [1.0])
        ax.set_ylim(min(lo, 0.95) - 0.02, max(hi, 1.1) + 0.05)
        ax.set_xlim(0, right * 1.08)
        ax.set_xlabel("certified abnormal per 1,000 cleared (right: none)")
        ax.set_ylabel("throughput multiplier")
        ax.set_title("Operating frontier (selection set)")
        bar = fig.colorbar(sc, ax=ax, label="worst normal wait (h)")
        bar.formatter.set_useOffset(False)
        bar.update_ticks()
        return _save(fig, path)


def training_size_figure(curve: Mapping[str, Any], path: Path,
                         chosen: Mapping[str, Any] | None = None) -> Path:
    """Test AUROC (95% CI bars) against training studies, one line per init; solid against the
    written labels, dashed against the generator's truth where known. `chosen`: the selected
    trial's own point (n_train, its epochs, AUROC vs written / truth), drawn as a star."""
    styles = {"written": "-", "truth": "--"}
    colours = {"scratch": "#9aa3b5", "pretrain": "#1f5fa8", "file": "#1f5fa8", "hub": "#2e8b57"}
    with report_style():
        fig = new_figure()
        ax = fig.add_subplot()
        for init in curve["inits"]:
            pts = [p for p in curve["points"] if p["init"] == init]
            xs = [p["n_train"] for p in pts]
            for against, ls in styles.items():
                key = f"auroc_{against}"
                if not pts or key not in pts[0]:
                    continue
                ys = [p[key]["value"] for p in pts]
                err = [[y - p[key]["ci_low"] for y, p in zip(ys, pts, strict=True)],
                       [p[key]["ci_high"] - y for y, p in zip(ys, pts, strict=True)]]
                ax.errorbar(xs, ys, yerr=err, ls=ls, marker="o", ms=3, lw=1, capsize=2,
                            color=colours.get(init, "#444444"), label=f"{init}, vs {against}")
        if chosen:
            for against, marker in (("written", "*"), ("truth", "P")):
                v = chosen.get(against)
                if v is not None:
                    ax.scatter([chosen["n_train"]], [v], marker=marker, s=60, color="#c0392b",
                               zorder=3, label=f"chosen model ({chosen['epochs']} ep), vs {against}")
        from matplotlib.ticker import NullFormatter

        ax.set_xscale("log")
        ticks = sorted({p["n_train"] for p in curve["points"]} | (
            {chosen["n_train"]} if chosen else set()))
        ax.set_xticks(ticks, [f"{t:,}" for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("training studies (log scale)")
        ax.set_ylabel("test AUROC")
        e = curve["settings"]["epochs"]
        ax.set_title(f"Learning curve ({e} epoch{'s' if e != 1 else ''} per point)")
        ax.legend(fontsize=5.5, frameon=False)
        return _save(fig, path)
