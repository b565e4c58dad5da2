"""End to end: `python sweeps/intake.py --smoke` on a real local Ray (Data + Train + Tune): the
tuning, the headline, the transfer map, the controls and the recommendation document."""

import json
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader

from triage_ray.intake.config import IntakeConfig
from triage_ray.intake.schema import TASKS
from triage_ray.intake.setups import Setup
from triage_ray.intake.tuning import design

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_smoke_run_writes_every_output(ray_local, tmp_path):
    path = Path(__file__).resolve().parents[2] / "sweeps" / "intake.py"
    spec = spec_from_file_location("intake_sweep_e2e", path)
    mod = module_from_spec(spec)
    spec.loader.exec_module(mod)
    run_dir = mod.main(["--smoke", "--run-id", "t", "--reports-dir", str(tmp_path)])

    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["smoke"] and cfg["run_id"] == "t"
    summary = json.loads((run_dir / "summary.json").read_text())
    selected = summary["selected_mtl"]
    n_w = len(cfg["weightings"])
    pool = cfg["n_records"] - cfg["n_val"] - cfg["n_test"]
    res = pd.read_csv(run_dir / "results.csv")
    head = res[res.setting == "rel0.5"]
    # headline: every size plus the whole pool; each weighting and XGBoost score both tasks, each
    # single-task Transformer one; the matched model trains on the whole pool only
    assert sorted(set(head["size"])) == [*cfg["train_sizes"], pool]
    assert len(head) == len(cfg["train_sizes"] + [pool]) * (2 * (n_w + 1) + 2) + 2
    assert set(head[head.setup.str.endswith("_matched")]["size"]) == {pool}
    others = res[res.setting != "rel0.5"]
    assert set(others.setup) == {selected, "tf_urgency", "tf_specialty"}
    assert (res.data_source == "generated").all() and set(res.task) == set(TASKS)
    assert (res.f1_ci_low <= res.f1).all() and (res.f1 <= res.f1_ci_high).all()
    assert res.filter(like="top_label_ece_after").notna().all().all()
    tfs = res[~res.setup.eq("xgb")]
    assert (tfs.setup_train_gflop > 0).all() and (tfs.setup_n_params > 0).all()

    tr = pd.read_csv(run_dir / "transfer.csv")
    cells = len(cfg["relatedness"]) * len(cfg["train_sizes"]) + 1 + len(cfg["controls"])
    assert len(tr[tr.selected]) == cells * len(TASKS)
    assert set(tr.verdict) <= {"positive", "negative", "inconclusive"}
    controls = pd.read_csv(run_dir / "controls.csv")
    assert set(controls.control) == set(cfg["controls"]) and controls.passed.dtype == bool
    assert not pd.read_csv(run_dir / "weightings.csv").empty
    tuning = pd.read_csv(run_dir / "tuning.csv")
    assert (tuning.groupby("setup").size() == cfg["tune_trials"]).all()
    assert (tuning.groupby("setup").chosen.sum() == 1).all()
    study = IntakeConfig.from_dict(cfg)
    for key, trials in tuning.groupby("setup"):  # each setup ran exactly the design's points
        assert np.allclose(sorted(trials.lr), sorted(p["lr"] for p in design(Setup.from_key(key),
                                                                              study)))
    assert not pd.read_csv(run_dir / "probes.csv").empty
    by_class = pd.read_csv(run_dir / "calibration_by_class.csv")
    assert list(by_class[by_class.task == "urgency"]["class"])[0] == "immediate"

    pdf = PdfReader(run_dir / "recommendation.pdf")
    text = " ".join(p.extract_text() for p in pdf.pages)
    assert len(pdf.pages) <= 2 and "GENERATED DATA" in text
    decisions = json.loads((run_dir / "recommendation.json").read_text())
    assert decisions["size"] == pool and decisions["mtl_setup"] == selected
    assert "Ship" in text or "No single option" in text
    assert (run_dir / "recommendation.md").read_text().startswith("# Intake triage")
    assert summary["data_source"] == "generated" and len(summary["figures"]) == 3
    assert set(summary["timing"]) >= {"tuning_s", "trials_s", "total_s"}
    for fig in summary["figures"]:
        assert (run_dir / fig).stat().st_size > 10_000
