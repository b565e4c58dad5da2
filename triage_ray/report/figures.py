"""The memo's three figures, drawn from the run's metrics (matplotlib, Agg backend).

Each function takes the plain dict the pipeline stored and writes one small PNG sized to sit three
abreast on an A4 page; nothing is recomputed from the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

FIGSIZE = (3.6, 2.9)  # inches; three fit across an A4 page at 180 mm
DPI = 150
COLORS = {"before": "#9aa3b5", "after": "#1f5fa8", "no_ai": "#9aa3b5", "policy": "#1f5fa8",
          "auto_normal": "#2e8b57", "uncertain": "#d4a017", "priority": "#c0392b"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 7.5, "axes.titlesize": 8.5, "axes.spines.top": False,
                         "axes.spines.right": False})
    return plt


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def reliability_figure(curves: Mapping[str, Mapping[str, Sequence[float]]], path: Path,
                       labels: Mapping[str, str] | None = None) -> Path:
    """Observed abnormal rate vs predicted probability per bin; marker area ~ bin count."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    ax.plot([0, 1], [0, 1], ls="--", lw=0.8, color="grey", label="perfect")
    total = max(1, max((sum(c["bin_count"]) for c in curves.values()), default=1))
    for name, c in curves.items():
        sizes = [8 + 400 * n / total for n in c["bin_count"]]
        color = COLORS.get(name)
        label = (labels or {}).get(name, name)
        ax.plot(c["bin_confidence"], c["bin_accuracy"], lw=1, color=color)
        ax.scatter(c["bin_confidence"], c["bin_accuracy"], s=sizes, color=color, alpha=0.75,
                   label=label, edgecolors="white", linewidths=0.4)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted P(abnormal)",
           ylabel="observed abnormal rate", title="Reliability (held-out test)")
    ax.legend(loc="upper left", fontsize=6.5, frameon=False)
    return _save(fig, path)


def bucket_figure(counts: Mapping[str, int], path: Path, title: str = "Pile by bucket") -> Path:
    """Studies per bucket (bars labelled with count and share)."""
    plt = _plt()
    names = list(counts)
    values = [int(counts[n]) for n in names]
    total = max(1, sum(values))
    fig, ax = plt.subplots(figsize=FIGSIZE)
    bars = ax.bar([n.replace("_", "-") for n in names], values,
                  color=[COLORS.get(n, "#777") for n in names])
    for bar, v in zip(bars, values, strict=True):
        ax.annotate(f"{v:,}\n({100 * v / total:.1f}%)", (bar.get_x() + bar.get_width() / 2, v),
                    ha="center", va="bottom", fontsize=6.5)
    ax.set(ylabel="studies", title=title, ylim=(0, max(values + [1]) * 1.25))
    return _save(fig, path)


def backlog_figure(backlog: Mapping[str, Any], path: Path, policy_label: str = "with model",
                   title: str = "Backlog over reading days") -> Path:
    """Studies not yet dispositioned at the end of each day: model policy vs reading everything."""
    for key in ("day", "policy", "no_ai"):
        if key not in backlog:
            raise ValueError(f"backlog: missing '{key}' (have {sorted(backlog)})")
    plt = _plt()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    ax.step(backlog["day"], backlog["no_ai"], where="post", color=COLORS["no_ai"], lw=1.4,
            label="no model (FIFO)")
    ax.step(backlog["day"], backlog["policy"], where="post", color=COLORS["policy"], lw=1.6,
            label=policy_label)
    ax.set(xlabel="reading day", ylabel="studies waiting", title=title, ylim=(0, None))
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=6.5, frameon=False)
    return _save(fig, path)
