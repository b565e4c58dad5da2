"""The Ray-overhead benchmarks run from a checkout the way the README runs them
(`.venv/bin/python benchmarks/<name>.py --smoke`), write their JSON and print their headline ratio
last. Smoke sizes say nothing about speed (start-up dominates); this checks that they still run
against the code they time. The figures themselves: docs/performance.md."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_benchmark(name: str, out: Path) -> tuple[dict, str]:
    res = subprocess.run([sys.executable, f"benchmarks/{name}.py", "--smoke", "--out", str(out)],
                         cwd=REPO, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    lines = [line for line in res.stdout.splitlines() if line.strip()]
    return json.loads(out.read_text()), lines[-1]


@pytest.mark.slow
def test_train_overhead_alternates_the_loops_and_reports_the_median_ratio(tmp_path):
    data, last = run_benchmark("train_overhead", tmp_path / "train_overhead.json")
    assert data["benchmark"] == "train_overhead" and data["smoke"] is True
    assert len(data["plain"]["runs"]) == data["repeats"] + 1 == len(data["ray_train"]["runs"]) + 1
    assert data["ratio"] == pytest.approx(sorted(data["ratios"])[len(data["ratios"]) // 2])
    for run in data["ray_train"]["runs"]:  # every epoch reported, each with its time stamp
        assert run["n_train"] == [data["splits"]["train"]] * data["epochs"]
        assert run["mark_source"] == "worker checkpoint stamp"
    parts = data["where_the_time_goes"]["ray_train"]
    assert all(math.isfinite(v) for v in parts.values()), parts
    assert 0 < data["flops"]["fraction_of_peak"] < 2
    assert re.fullmatch(r"Ray Train / plain loop = \d+\.\d\dx, median of 1 \(target >= 0\.90\)", last)


@pytest.mark.slow
def test_pile_inference_scores_every_study_with_the_plain_loops_logits(tmp_path):
    data, last = run_benchmark("pile_inference", tmp_path / "pile_inference.json")
    assert data["benchmark"] == "pile_inference" and data["n_scored"] == data["pile_size"]
    assert data["max_abs_logit_difference"] < 1e-3
    assert last.startswith("Ray Data / plain loop time = ") and data["ratio"] > 0


@pytest.mark.slow
def test_train_startup_times_every_phase_of_a_ray_train_run(tmp_path):
    data, last = run_benchmark("train_startup", tmp_path / "train_startup.json")
    (run,) = data["ray_train"]
    phases = run["phases_s"]
    assert list(phases) == data["phases"] and all(v is not None and v >= 0 for v in phases.values())
    assert sum(phases.values()) == pytest.approx(run["wall_s"], rel=1e-6)  # the phases tile fit()
    assert run["worker_seconds"]["seconds_train"] > 0 and data["plain_wall_s"] > 0
    assert re.fullmatch(r"Ray Train fit\(\) / plain loop, one epoch = \d+\.\dx \(median of 1\)", last)


@pytest.mark.slow
def test_real_resolution_measures_both_sizes_and_projects_epochs(tmp_path):
    data, last = run_benchmark("real_resolution", tmp_path / "real_resolution.json")
    assert data["benchmark"] == "real_resolution" and data["smoke"] is True
    m = data["model"]["resnet10t"]
    assert m["224"]["train_s_per_image"] > m["64"]["train_s_per_image"] > 0
    hours = data["projected_hours_per_epoch"]["resnet10t"]
    assert hours["100000"]["224"] > hours["10000"]["224"]
    assert re.fullmatch(r"training s/image at 224 px / at 64 px \(resnet10t, CPU\) = \d+\.\dx", last)
