"""The ablation script as a user runs it: table, figure and per-arm files; a rerun keeps them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_ablation_smoke_writes_its_table_and_resumes(tmp_path):
    cmd = [sys.executable, "sweeps/ablation.py", "--smoke", "--out", str(tmp_path)]
    first = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    report = json.loads((tmp_path / "ablation.json").read_text())
    assert set(report["arms"]) == {"base", "per-finding labels"}
    assert "GENERATED DATA" in report["note"] and "GENERATED DATA" in first.stdout
    for arm in report["arms"].values():
        for key in ("auroc_truth", "auroc_written", "auroc_panel"):
            m = arm[key]
            assert m["ci_low"] <= m["value"] <= m["ci_high"]
        assert arm["n_test"] > 0 and len(arm["history"]) == arm["config"]["epochs"]
    table = (tmp_path / "ablation.md").read_text()
    assert "| base |" in table and "per true finding" in table
    assert (tmp_path / "ablation.png").stat().st_size > 0

    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and again.stdout.count("done in an earlier run, kept") == 2
