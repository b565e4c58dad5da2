"""End to end: `python sweeps/intake.py --smoke` on a real local Ray (Data + Train + Tune)."""

import json
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path

import pandas as pd
import pytest

from triage_ray.intake.schema import TASKS

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_smoke_run_writes_every_output(ray_local, tmp_path):
    path = Path(__file__).resolve().parents[2] / "sweeps" / "intake.py"
    spec = spec_from_file_location("intake_sweep_e2e", path)
    mod = module_from_spec(spec)
    spec.loader.exec_module(mod)
    run_dir = mod.main(["--smoke", "--run-id", "t", "--reports-dir", str(tmp_path)])

    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["smoke"] and cfg["run_id"] == "t"
    res = pd.read_csv(run_dir / "results.csv")
    n_cells = len(cfg["relatedness"]) * len(cfg["train_sizes"])
    # per cell: xgb and every multi-task setup score both tasks, each single-task one
    n_mtl = len(cfg["mtl_weights"]) + int(cfg["uncertainty_weighting"])
    assert len(res) == n_cells * (2 * (1 + n_mtl) + 2)
    assert (res.data_source == "generated").all() and set(res.task) == set(TASKS)
    assert (res.f1_ci_low <= res.f1).all() and (res.f1 <= res.f1_ci_high).all()
    assert res.filter(like="top_label_ece_after").notna().all().all()
    tr = pd.read_csv(run_dir / "transfer.csv")
    assert len(tr[tr.selected]) == n_cells * len(TASKS)
    assert set(tr.verdict) <= {"positive", "negative", "inconclusive"}
    costs = pd.read_csv(run_dir / "costs.csv")
    assert (costs.fit_cpu_s > 0).all() and "tf_pair" in set(costs.setup)
    assert not pd.read_csv(run_dir / "grad_cosine.csv").empty
    text = (run_dir / "recommendation.md").read_text()
    assert "generated" in text and "**Recommendation:**" in text
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["data_source"] == "generated" and len(summary["figures"]) == 4
    for fig in summary["figures"]:
        assert (run_dir / fig).stat().st_size > 10_000
