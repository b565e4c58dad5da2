"""The run's time budget: training sized from a measured speed, cut in a stated order."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from triage_ray.data.ingest import ingest_to_shards
from triage_ray.data.nih import load_nih
from triage_ray.data.schema import NIH_FINDINGS
from triage_ray.data.synth import generate_nih_tree
from triage_ray.report.learning import curve_table
from triage_ray.report.run import RunArtifacts
from triage_ray.xray.budget import (
    MIN_TRIALS,
    Pretraining,
    RunPlan,
    Workload,
    measure_speed,
    plan_run,
    project,
    run_plan,
    workload,
)
from triage_ray.xray.config import XrayConfig

SPEED = {"resnet10t@64px": 0.004}  # seconds per training study
WORK = Workload(8000, [Pretraining(22_800)], [1000, 2000, 4000] * 2)


def _cfg(**over) -> XrayConfig:
    return XrayConfig.from_dict({"n_trials": 4, "epochs": 8, "pretrain_epochs": 4,
                                 "learning_curve_epochs": 3, **over})


def _total(cfg: XrayConfig, **plan) -> float:
    full = {"n_trials": 4, "epochs": 8, "pretrain_epochs": 4, "learning_curve_epochs": 3,
            "learning_curve": 1, **plan}
    return project(cfg, full, SPEED, WORK)["total"]


def test_a_budget_that_fits_keeps_the_configured_plan():
    cfg = _cfg()
    plan = plan_run(cfg, SPEED, WORK, _total(cfg) + 60, elapsed_s=50)
    assert plan.planned() == plan.asked and not plan.cut
    assert plan.projected_s["total"] <= plan.budget_s - 50


@pytest.mark.parametrize(("budget", "planned", "cut"), [
    # trials first, down to MIN_TRIALS ...
    (dict(n_trials=3), dict(n_trials=3), ["sweep trials 4 -> 3"]),
    # ... then learning-curve epochs, the curve, pretraining epochs, then sweep epochs
    (dict(n_trials=2, learning_curve_epochs=2), dict(n_trials=2, learning_curve_epochs=2),
     ["sweep trials 4 -> 2", "learning-curve epochs 3 -> 2"]),
    (dict(n_trials=2, learning_curve=0), dict(n_trials=2, learning_curve=0),
     ["sweep trials 4 -> 2", "learning curve skipped"]),
    (dict(n_trials=2, learning_curve=0, pretrain_epochs=2),
     dict(n_trials=2, learning_curve=0, pretrain_epochs=2),
     ["sweep trials 4 -> 2", "learning curve skipped", "pretraining epochs 4 -> 2"]),
    (dict(n_trials=2, learning_curve=0, pretrain_epochs=1, epochs=5),
     dict(n_trials=2, learning_curve=0, pretrain_epochs=1, epochs=5),
     ["sweep trials 4 -> 2", "learning curve skipped", "pretraining epochs 4 -> 1",
      "sweep epochs 8 -> 5"]),
    # the time of a one-epoch curve plus two pretraining epochs: skipping the curve (116 s here)
    # buys back one pretraining epoch (114 s), which serves the chosen model
    (dict(n_trials=2, learning_curve_epochs=1, pretrain_epochs=2),
     dict(n_trials=2, learning_curve=0, pretrain_epochs=3),
     ["sweep trials 4 -> 2", "learning curve skipped", "pretraining epochs 4 -> 3"]),
])
def test_the_budget_cuts_trials_then_the_curve_then_pretraining_then_epochs(budget, planned, cut):
    cfg = _cfg()
    plan = plan_run(cfg, SPEED, WORK, _total(cfg, **budget) + 1, elapsed_s=0)
    got = plan.planned()
    if not got["learning_curve"]:  # a skipped curve's epochs are moot
        got["learning_curve_epochs"] = planned.get("learning_curve_epochs", 3)
    assert got == {**plan.asked, **planned} and plan.cuts == cut
    assert plan.n_trials >= MIN_TRIALS and plan.projected_s["total"] <= plan.budget_s


def test_slack_from_a_coarse_cut_is_given_back():
    """With a cheap curve (one 100-study point), the greedy order skips it, then must still cut
    a pretraining epoch (114 s) where ~12 s was missing: the slack buys the curve back whole."""
    cfg, small = _cfg(), Workload(8000, [Pretraining(22_800)], [100])
    at = {"n_trials": 2, "epochs": 8, "pretrain_epochs": 3, "learning_curve_epochs": 3,
          "learning_curve": 1}
    plan = plan_run(cfg, SPEED, small, project(cfg, at, SPEED, small)["total"] + 1, elapsed_s=0)
    assert plan.planned() == at
    assert plan.cuts == ["sweep trials 4 -> 2", "pretraining epochs 4 -> 3"]


def test_a_skipped_curve_reaches_the_config_and_the_reports():
    plan = plan_run(_cfg(), SPEED, WORK, _total(_cfg(), n_trials=2, learning_curve=0) + 1, 0)
    assert not plan.learning_curve and "no learning curve" in plan.describe()
    assert plan.apply(_cfg()).learning_curve_sizes == []
    kept = plan_run(_cfg(), SPEED, WORK, _total(_cfg()) + 1, 0)
    assert kept.apply(_cfg()).learning_curve_sizes == _cfg().learning_curve_sizes
    def text(plan: RunPlan) -> str:
        run = RunArtifacts(Path("run"), {"learning_curve": None, "budget": plan.to_dict()}, {})
        return curve_table(run).text

    assert "time budget skipped it" in text(plan)
    assert "learning_curve_sizes is empty" in text(replace(kept, learning_curve=True))


def test_a_starved_budget_stops_at_the_floors():
    plan = plan_run(_cfg(), SPEED, WORK, 60, elapsed_s=0)
    assert plan.planned() == {"n_trials": MIN_TRIALS, "epochs": 1, "pretrain_epochs": 1,
                              "learning_curve_epochs": 1, "learning_curve": 0}
    assert plan.projected_s["total"] > 60  # said, not hidden: the floors do not fit either


def test_cached_pretraining_costs_nothing_and_a_cached_shorter_one_is_taken():
    cfg = _cfg()
    cached = Workload(8000, [Pretraining(22_800, (4,))], WORK.curve_points)
    full = {"n_trials": 4, "epochs": 8, "pretrain_epochs": 4, "learning_curve_epochs": 3,
            "learning_curve": 1}
    assert project(cfg, full, SPEED, cached)["pretrain"] == 0
    shorter = Workload(8000, [Pretraining(22_800, (1,))], WORK.curve_points)
    cut = {**full, "n_trials": 2, "learning_curve_epochs": 1, "pretrain_epochs": 1}
    budget = project(cfg, cut, SPEED, WORK)["total"] - project(cfg, cut, SPEED, WORK)["pretrain"] + 1
    plan = plan_run(cfg, SPEED, shorter, budget, elapsed_s=0)
    assert plan.pretrain_epochs == 1 and plan.projected_s["pretrain"] == 0
    assert plan.epochs == 8  # the cached shorter pretraining spared the sweep's epochs


def test_a_grid_keeps_every_combination():
    cfg = _cfg(search="grid", lrs=[1e-3, 3e-3], augments=[0.0, 0.5])
    plan = plan_run(cfg, SPEED, WORK, 600, elapsed_s=0)
    assert plan.n_trials == plan.asked["n_trials"] == 4 and plan.epochs < 8


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("budget")
    generate_nih_tree(root / "tree", 200, image_size=32, seed=4, parallel=False, ceiling_sample=0)
    studies = load_nih(root / "tree")
    studies["split"] = np.where(np.arange(len(studies)) % 5 == 0, "test", "train")
    ingest_to_shards(studies, root / "shards", image_size=32, parallel=False)
    return root / "shards", studies


def test_speed_is_measured_for_every_backbone_and_the_plan_is_kept(shards, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIAGE_RAY_DATA_DIR", str(tmp_path / "data"))  # no cached pretraining
    shard_dir, studies = shards
    cfg = XrayConfig.from_dict({"backbones": ["resnet10t", "mobilenetv3_small_050"],
                                "image_size": 32, "batch_size": 16, "time_budget_min": 5,
                                "learning_curve_sizes": [50, 100]})
    speed = measure_speed(cfg, {32: shard_dir}, NIH_FINDINGS)
    assert set(speed) == {"resnet10t@32px", "mobilenetv3_small_050@32px"}
    assert all(0 < s < 1 for s in speed.values())
    work = workload(cfg, studies)
    n_train = int((studies["split"] == "train").sum())
    assert work.n_train == n_train and work.curve_points == [50, 100, 50, 100]
    assert work.n_heldout == len(studies) - n_train  # the test split here
    assert [p.cached_epochs for p in work.pretraining] == [(), ()]  # one per backbone
    plan = run_plan(cfg, {32: shard_dir}, work, NIH_FINDINGS, tmp_path, 12.0, log=lambda *_: None)
    assert plan.budget_s == 300 and plan.elapsed_at_plan_s > 12 and (tmp_path / "run_plan.json").is_file()
    again = run_plan(XrayConfig.from_dict({**cfg.to_dict(), "time_budget_min": 1}),
                     {32: shard_dir}, work, NIH_FINDINGS, tmp_path, 0.0, log=lambda *_: None)
    assert again == plan  # a resumed run keeps the plan it started with
    (tmp_path / "other").mkdir()
    unbudgeted = run_plan(XrayConfig.from_dict({"time_budget_min": None}), {}, work, (),
                          tmp_path / "other", 0.0, log=lambda *_: None)
    assert unbudgeted.planned() == unbudgeted.asked and not unbudgeted.cut
    assert RunPlan.load(tmp_path / "other") == unbudgeted


def test_cached_pretraining_at_the_asked_epochs_is_never_cut():
    """Cutting it would start a pretraining the cache already spares."""
    cfg = _cfg()
    cached = Workload(8000, [Pretraining(22_800, (4,))], WORK.curve_points)
    plan = plan_run(cfg, SPEED, cached, 60, elapsed_s=0)
    assert plan.pretrain_epochs == 4 and plan.projected_s["pretrain"] == 0
    assert not any("pretraining" in c for c in plan.cuts)
