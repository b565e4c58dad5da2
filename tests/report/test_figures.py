"""Report figures draw in the report style without touching the global matplotlib rcParams."""

from __future__ import annotations

from pathlib import Path

import matplotlib

from triage_ray.report import figures
from triage_ray.report.dashboard import curves_figure, pareto_figure
from triage_ray.report.experiment import Experiment, Trial

CURVE = {"bin_confidence": [0.1, 0.5, 0.9], "bin_accuracy": [0.12, 0.45, 0.8],
         "bin_count": [40, 10, 50]}


def _rc() -> dict:
    return {k: matplotlib.rcParams[k] for k in matplotlib.rcParams if k != "backend"}


def _experiment(tmp: Path) -> Experiment:
    rows = [{"training_iteration": i, "val_auroc": 0.6 + i / 10} for i in (1, 2)]
    final = {"training_iteration": 3, "throughput_multiplier": 1.4,
             "missed_per_1000_auto_cleared": 2.0, "feasible": 1.0}
    trials = [Trial(f"t_0000{i}", None, "TERMINATED", {"lr": 0.1 * (i + 1)}, [*rows, final])
              for i in range(2)]
    return Experiment(tmp, trials, ["lr"], [], None)


def test_drawing_report_figures_leaves_global_rcparams_unchanged(tmp_path):
    before = _rc()
    figures.reliability_figure({"before": CURVE, "after": CURVE}, tmp_path / "rel.png",
                               labels={"after": "temperature-scaled"})
    figures.bucket_figure({"auto_normal": 3, "uncertain": 5, "priority": 2}, tmp_path / "b.png")
    pts = [{"status": "done", "feasible": 1.0, "bound": 0.008, "throughput_multiplier": 1.2,
            "normal_wait_max_hours": 300.0},
           {"status": "done", "feasible": 0.0, "bound": None, "throughput_multiplier": 1.0,
            "normal_wait_max_hours": 200.0}]
    figures.frontier_figure(pts, [0, 1], pts[0], 0.01, tmp_path / "f.png")
    figures.backlog_figure({"day": [0, 1, 2], "policy": [9, 4, 0], "no_ai": [9, 6, 3]},
                           tmp_path / "backlog.png")
    exp = _experiment(tmp_path)
    png, front = pareto_figure(exp.trials, "throughput_multiplier", "missed_per_1000_auto_cleared")
    assert png.startswith("data:image/png;base64,") and len(front) == 2
    assert curves_figure(exp, ["val_auroc"]).startswith("data:image/png;base64,")
    for name in ("rel.png", "b.png", "backlog.png", "f.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _rc() == before


def test_report_style_applies_only_inside_its_block():
    default = matplotlib.rcParams["font.size"]
    with figures.report_style():
        assert matplotlib.rcParams["font.size"] == figures.STYLE["font.size"]
        assert matplotlib.rcParams["axes.spines.top"] is False
    with figures.report_style({"font.size": 8}):
        assert matplotlib.rcParams["font.size"] == 8
    assert matplotlib.rcParams["font.size"] == default
