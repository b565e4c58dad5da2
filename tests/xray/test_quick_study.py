"""The X-ray study end to end in the fast tier (`make test-fast`): `sweeps/xray.py --smoke` with
one trial from scratch at one input size (`smoke_runs.QUICK_SETTINGS`), from a plain shell, started
by the session's background lane so that it runs while the unit tests do (the `quick_run` fixture
in conftest.py). Every stage runs: data, shards, the sweep (one Tune trial driving a
TorchTrainer), calibration, the operating-point stage, the gate, the pile, the learning curve, the
bootstrap, the brief and every report. The full smoke (four trials, two backbones, two sizes,
pretraining) runs as a job on two nodes in the slow tier, with a DICOM pile (tests/conftest.py
`dicom_job`): this is the suite's run on a generated pile, whose truth the run is scored
against."""

from __future__ import annotations

import json

import pandas as pd


def test_the_quick_study_writes_every_output(quick_run):
    run_dir = quick_run

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
