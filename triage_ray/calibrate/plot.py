"""Reliability diagram: several curves (e.g. before / after calibration) on one figure.

matplotlib is imported inside the function (Agg backend) so importing the package stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def plot_reliability(curves: Mapping[str, Mapping[str, list]], path: str | Path,
                     title: str = "Reliability diagram") -> Path:
    """Draw `reliability_curve` outputs keyed by label; the lower panel shows bin counts (log).

    Writes a PNG to `path` (parent folders created) and returns the path.
    """
    if not curves:
        raise ValueError("curves: pass at least one reliability curve")
    for label, c in curves.items():
        missing = {"bin_confidence", "bin_accuracy", "bin_count"} - set(c)
        if missing:
            raise ValueError(f"curves[{label!r}]: missing keys {sorted(missing)}; "
                             "pass reliability_curve(...) outputs")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, axc) = plt.subplots(2, 1, figsize=(5.5, 6.5), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    for label, c in curves.items():
        line, = ax.plot(c["bin_confidence"], c["bin_accuracy"], marker="o", ms=4, label=label)
        axc.plot(c["bin_confidence"], c["bin_count"], marker=".", color=line.get_color())
    ax.set(ylabel="observed frequency", xlim=(0, 1), ylim=(0, 1), title=title)
    ax.legend(loc="upper left", fontsize=8)
    axc.set(xlabel="predicted probability (bin mean)", ylabel="studies", yscale="log")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
