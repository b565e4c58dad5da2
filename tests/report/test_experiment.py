"""Reading Tune experiment folders with ExperimentAnalysis: a finished sweep, a live one (running,
pending, torn), and the Pareto front."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from triage_ray.report.experiment import load_experiment, pareto_front


@pytest.mark.ray
def test_real_tune_experiment_is_read_with_status_params_and_rows(tune_experiment):
    exp = load_experiment(tune_experiment)
    assert exp.state_file is not None and exp.warnings == []
    assert exp.hyperparams == ["backbone", "lr"]  # from Tune's evaluated_params, not cfg/*
    by_cfg = {(t.params["backbone"], t.params["lr"]): t for t in exp.trials}
    assert len(by_cfg) == 4
    failed = by_cfg[("b", 0.01)]
    assert failed.status == "ERROR" and "deliberate failure" in failed.error
    assert failed.metric("throughput_multiplier") is None and len(failed.rows) == 2
    ok = by_cfg[("a", 0.001)]
    assert ok.status == "TERMINATED" and len(ok.rows) == 3
    assert ok.metric("throughput_multiplier") == pytest.approx(1.2 + 40 * 0.001)
    # the per-epoch metric survives the final row (which does not repeat it)
    assert ok.metric("val_auroc") == pytest.approx(0.8)
    assert exp.finished


def _live_trial(gate: str):
    """A Tune function trial that reports once, waits for `gate` to exist, then reports a final
    row (lr 0.1 reports an undefined miss rate, NaN). A closure, so Ray pickles it by value."""

    def live_trial(config: dict) -> None:
        import os
        import time

        import ray.tune

        ray.tune.report({"val_auroc": 0.6 + config["lr"]})
        while not os.path.exists(gate):
            time.sleep(0.05)
        ray.tune.report({"final": 1, "throughput_multiplier": 1.5,
                         "missed_per_1000_auto_cleared": (float("nan") if config["lr"] < 0.15
                                                          else 2.5)})

    return live_trial


@pytest.fixture(scope="module")
def live_sweep(ray_local, tmp_path_factory) -> tuple[Path, Path]:
    """(a copy of a real Tune experiment directory taken mid-sweep: the first trial has reported
    once and waits, the second has not started; the same experiment once finished)."""
    import threading

    from ray import tune

    root = tmp_path_factory.mktemp("live")
    gate, snap, exp_dir = root / "go", root / "snapshot", root / "store" / "live"
    tuner = tune.Tuner(  # one trial at a time: it takes all 4 of ray_local's CPUs
        tune.with_resources(_live_trial(str(gate)), {"cpu": 4}),
        param_space={"lr": tune.grid_search([0.1, 0.2])},
        run_config=tune.RunConfig(name="live", storage_path=str(root / "store"), verbose=0),
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TUNE_GLOBAL_CHECKPOINT_S", "0")  # a fresh snapshot on every controller step
        run = threading.Thread(target=tuner.fit, daemon=True)
        run.start()
        deadline, caught = time.monotonic() + 90, False
        while not caught and time.monotonic() < deadline and run.is_alive():
            time.sleep(0.2)
            if not any(exp_dir.glob("experiment_state-*.json")):
                continue
            shutil.rmtree(snap, ignore_errors=True)
            shutil.copytree(exp_dir, snap)
            exp = load_experiment(snap)
            caught = (sorted(len(t.rows) for t in exp.trials) == [0, 1]
                      and any(t.last_result for t in exp.trials))  # the snapshot has the report
        gate.touch()
        run.join(timeout=120)
    assert caught, "no mid-sweep snapshot with one trial reported and one pending"
    assert not run.is_alive(), "the live sweep did not finish"
    return snap, exp_dir


@pytest.mark.ray
def test_live_snapshot_shows_running_and_pending_trials(live_sweep):
    exp = load_experiment(live_sweep[0])
    assert exp.warnings == [] and exp.hyperparams == ["lr"] and not exp.finished
    started, pending = sorted(exp.trials, key=lambda t: -len(t.rows))
    # Tune's snapshot says PENDING for both; the started trial's folder says it runs
    assert started.status == "RUNNING" and started.logdir is not None
    assert started.metric("val_auroc") is not None and started.metric("throughput_multiplier") is None
    assert pending.status == "PENDING" and pending.logdir is None and pending.rows == []
    assert {started.params["lr"], pending.params["lr"]} == {0.1, 0.2}


@pytest.mark.ray
def test_torn_last_line_of_a_live_sweep_is_reported_not_dropped_silently(live_sweep, tmp_path):
    live = shutil.copytree(live_sweep[0], tmp_path / "live")
    started = next(t for t in load_experiment(live).trials if t.rows)
    with (started.logdir / "result.json").open("a") as f:
        f.write('{"trial_id": "' + started.trial_id[:3])  # the sweep is mid-write
    exp = load_experiment(live)
    assert len(exp.warnings) == 1 and "result.json" in exp.warnings[0]
    assert "sweep may be writing" in exp.warnings[0]
    torn = next(t for t in exp.trials if t.trial_id == started.trial_id)
    # still listed, still running, its last result (from Tune's snapshot) still shown
    assert torn.status == "RUNNING" and len(torn.rows) == 1
    assert torn.metric("val_auroc") == started.metric("val_auroc")


@pytest.mark.ray
def test_trial_folder_missing_from_the_snapshot_is_reported(tune_experiment, tmp_path):
    exp_dir = shutil.copytree(tune_experiment, tmp_path / "tune")
    first = load_experiment(exp_dir).trials[0].logdir
    shutil.copytree(first, exp_dir / (first.name + "_copy"))
    exp = load_experiment(exp_dir)
    assert len(exp.trials) == 4
    assert len(exp.warnings) == 1 and first.name + "_copy" in exp.warnings[0]


def test_directory_before_tunes_first_snapshot_has_no_trials_yet(tmp_path):
    (tmp_path / "trial_x_00000_0").mkdir()
    exp = load_experiment(tmp_path)
    assert exp.trials == [] and exp.state_file is None and not exp.finished
    assert len(exp.warnings) == 1 and "experiment_state" in exp.warnings[0]


def test_missing_experiment_dir_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        load_experiment(tmp_path / "nope")


def test_pareto_front_small_case():
    # (throughput, missed): higher x better, lower y better
    pts = [(1.0, 5.0), (2.0, 4.0), (1.5, 1.0), (2.0, 6.0), (0.5, 0.5), (float("nan"), 0.0)]
    assert pareto_front(pts) == [4, 2, 1]


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=30))
def test_pareto_front_is_exactly_the_non_dominated_set(pts):
    front = set(pareto_front(pts))

    def dominates(a, b):
        return a[0] >= b[0] and a[1] <= b[1] and a != b

    for i, p in enumerate(pts):
        dominated = any(dominates(q, p) for q in pts)
        assert (i in front) == (not dominated)


@pytest.mark.ray
def test_nan_metrics_show_as_na_and_sort_last(live_sweep):
    from triage_ray.report.dashboard import render_dashboard

    exp = load_experiment(live_sweep[1])  # the finished sweep: lr 0.1 reported a NaN miss rate
    assert exp.finished and exp.warnings == []
    nan_trial, ok = sorted(exp.trials, key=lambda t: t.params["lr"])
    assert nan_trial.metric("missed_per_1000_auto_cleared") is None
    assert ok.metric("missed_per_1000_auto_cleared") == 2.5
    page = render_dashboard(exp)
    assert '<td data-v="">n/a</td>' in page and ">nan<" not in page.lower()
    assert '<td data-v="2.5">2.5</td>' in page


def test_a_relative_experiment_path_reads_every_trial(tune_experiment, monkeypatch):
    """`python -m triage_ray.report reports/xray/<run-id>` passes a relative path; pyarrow's
    filesystem layer behind ExperimentAnalysis refuses those ("URI has empty scheme")."""
    from triage_ray.report.experiment import load_experiment

    monkeypatch.chdir(tune_experiment.parent)
    exp = load_experiment(tune_experiment.name)
    assert len(exp.trials) == 4 and not exp.warnings
