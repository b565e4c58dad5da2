"""The X-ray study end to end in the fast tier (`make test-fast`): `sweeps/xray.py --smoke` with
one trial from scratch at one input size, in this session's Ray. Every stage runs: data, shards,
the sweep (one Tune trial driving a TorchTrainer), calibration, the operating-point stage, the
gate, the pile, the learning curve, the bootstrap, the brief and every report; then the run's
saved deployment triages its pile again without training (`xray.rescore`). The full smoke
(four trials, two backbones, two sizes, pretraining) runs from a shell in the slow tier, with a
DICOM pile (tests/conftest.py `dicom_job`): this is the suite's run on a generated pile, whose
truth the run is scored against."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from report_intervals import run_interval_violations
from shell_runs import sweep_script

from triage_ray.common.paths import DATA_DIR_ENV

QUICK = ["n_trials=1", 'backbones=["resnet10t"]', "image_sizes=null", 'inits=["scratch"]',
         "learning_curve_sizes=[150]", "pile_size=300", "op_alphas=[0.05]",
         "op_aging_caps_days=[null]"]

pytestmark = pytest.mark.ray


def test_the_quick_study_writes_every_output(ray_local, tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))
    run_dir = sweep_script("xray", "xray_sweep_quick").main(
        ["--smoke", "--reports-dir", str(tmp_path / "reports"), "--set", *QUICK])

    config = json.loads((run_dir / "config.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert config["smoke"] and config["n_trials"] == 1 and metrics["generated_data"] is True
    (trial,) = metrics["sweep"]["trials"]
    assert trial["status"] == "done" and trial["init"] == "scratch" and metrics["pretrain"] is None
    worklist = pd.read_parquet(run_dir / "worklist.parquet")
    assert len(worklist) == config["pile_size"] == metrics["pile"]["n_scored"]
    assert metrics["model_vs_truth"]["pile"]["n"] == config["pile_size"]
    assert worklist["study_id"].is_unique
    assert [p["n_train"] for p in metrics["learning_curve"]["points"]] == [150]
    for name in ("memo.pdf", "memo.md", "model_card.md", "dashboard.html", "review.html",
                 "summary.md"):
        assert (run_dir / name).stat().st_size > 0, name
    assert "GENERATED DATA" in (run_dir / "summary.md").read_text()
    assert run_interval_violations(run_dir) == {}  # every figure inside its own interval

    # the run's deployment triages its own (generated) pile again, no training: the same worklist,
    # thresholds certified against the simulated panel read back from deployment/reference.parquet
    from triage_ray.xray.rescore import score_new_pile

    assert (run_dir / "deployment" / "reference.parquet").is_file()
    again = score_new_pile(run_dir, out_dir=tmp_path / "again")
    cols = ["study_id", "bucket_name", "read_rank", "gate_reason"]
    pd.testing.assert_frame_equal(pd.read_parquet(again / "worklist.parquet")[cols],
                                  worklist[cols])
    said: list[str] = []  # the same --out again: the scored studies are kept, none scored twice
    assert score_new_pile(run_dir, out_dir=again, log=said.append) == again
    n = config["pile_size"]
    assert f"pile scoring: {n:,} studies, {n:,} already committed" in "\n".join(said)
    assert any("resuming" in line for line in said)
    record = json.loads((again / "pile.json").read_text())
    assert record["pile"]["truth_known"] and record["data_note"].startswith("GENERATED DATA")
    assert record["certified_against"] == metrics["abstention"]["label_source"]
