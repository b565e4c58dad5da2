"""Reliability diagram: several curves (e.g. before / after calibration) on one figure.

The project's one reliability plot: the reports draw it too (`triage_ray.report.figures`, at memo
size and in the report style). matplotlib is imported inside the function, and the figure is a
pyplot-free `matplotlib.figure.Figure` saved directly (PNG through Agg), so importing the package
stays cheap and drawing touches neither pyplot's state nor the backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def plot_reliability(curves: Mapping[str, Mapping[str, list]], path: str | Path,
                     title: str = "Reliability diagram", *,
                     labels: Mapping[str, str] | None = None,
                     colors: Mapping[str, str] | None = None,
                     figsize: tuple[float, float] = (5.5, 6.5), dpi: int = 120,
                     xlabel: str = "predicted probability (bin mean)",
                     ylabel: str = "observed frequency") -> Path:
    """Draw `reliability_curve` outputs keyed by name; the lower panel shows bin counts (log).

    `labels` / `colors` map a name to its legend text / colour (defaults: the name, matplotlib's
    cycle). Writes a PNG to `path` (parent folders created) and returns the path.
    """
    if not curves:
        raise ValueError("curves: pass at least one reliability curve")
    for name, c in curves.items():
        missing = {"bin_confidence", "bin_accuracy", "bin_count"} - set(c)
        if missing:
            raise ValueError(f"curves[{name!r}]: missing keys {sorted(missing)}; "
                             "pass reliability_curve(...) outputs")
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    fig = Figure(figsize=figsize)
    ax, axc = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    for name, c in curves.items():
        line, = ax.plot(c["bin_confidence"], c["bin_accuracy"], marker="o", ms=4,
                        color=(colors or {}).get(name), label=(labels or {}).get(name, name))
        axc.plot(c["bin_confidence"], c["bin_count"], marker=".", color=line.get_color())
    ax.set(ylabel=ylabel, xlim=(0, 1), ylim=(0, 1), title=title)
    ax.legend(loc="upper left", fontsize="small")
    axc.set(xlabel=xlabel, ylabel="studies", yscale="log")
    axc.yaxis.set_minor_formatter(NullFormatter())  # minor labels collide on a short log axis
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    return out
