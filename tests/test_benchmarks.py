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


def test_gpu_check_says_there_is_no_gpu_and_exits_non_zero(tmp_path):
    """This machine has no GPU: the check measures nothing, says why, and fails (status 2)."""
    out = tmp_path / "gpu_check.json"
    res = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--out", str(out)], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "no GPU here" in res.stdout and "--allow-cpu" in res.stdout
    assert not out.exists()


@pytest.mark.slow
def test_gpu_check_runs_every_part_on_the_cpu_when_allowed(tmp_path):
    """The script's own test (its figures say nothing of a GPU): the plain loop, Ray Train, pile
    scoring in bf16 + channels-last, each reported, the ratio last."""
    out = tmp_path / "gpu_check.json"
    res = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--allow-cpu", "--smoke",
                          "--no-sweep", "--out", str(out)], cwd=REPO, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["gpu"] is None and data["on_cpu_for_testing"] and data["precision"] == "bf16"
    assert data["ray_train"]["n_train"] == [data["splits"]["train"]] * data["epochs"]
    assert 0 <= data["ray_train"]["data_wait_share"] <= 1 and data["plain"]["steady_img_s"] > 0
    assert data["pile"]["n"] == data["n_studies"] and "study" not in data
    last = [line for line in res.stdout.splitlines() if line.strip()][-1]
    assert re.fullmatch(r"Ray Train / plain loop, training img/s on the same device: \d+\.\d\dx",
                        last)
    assert "a test of the script, not a GPU figure" in res.stdout


@pytest.mark.slow
def test_ingest_scale_measures_every_size_in_its_own_process(tmp_path):
    data, last = run_benchmark("ingest_scale", tmp_path / "ingest_scale.json")
    sizes = [row["n_studies"] for row in data["sizes"]]
    assert sizes == [150, 300] and data["px"] == 64
    for row in data["sizes"]:
        assert row["ingest_img_s"] > 0 and row["shard_bytes_per_image"] > 0
        assert row["shards_img_s"] > 0 and row["dataloader_img_s"] > 0
        assert row["peak_mb"]["ingest"]["driver"] > 0
    assert set(data["memory_ratio_largest_over_smallest"]) == {"driver", "workers_sum"}
    assert re.fullmatch(r"Ray Data shards / DataLoader PNG at 300 studies, 64 px = \d+\.\d\dx", last)
