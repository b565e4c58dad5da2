"""Reading Tune experiment folders: real Tune output, a live (torn) one, and the Pareto front."""

from __future__ import annotations

import json
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


def _trial_dir(root: Path, name: str, params: dict, lines: list[str]) -> Path:
    d = root / name
    d.mkdir()
    (d / "params.json").write_text(json.dumps(params))
    (d / "result.json").write_text("\n".join(lines) + "\n")
    return d


def test_torn_last_line_of_a_live_sweep_is_reported_not_dropped_silently(tmp_path):
    def rows(tid: str, n: int) -> list[str]:
        return [json.dumps({"trial_id": tid, "training_iteration": i, "val_auroc": 0.6 + i / 10})
                for i in range(1, n + 1)]

    _trial_dir(tmp_path, "trial_abc_00000_0_lr=0.1", {"lr": 0.1},
               [*rows("abc_00000", 2), '{"trial_id": "abc_0'])
    _trial_dir(tmp_path, "trial_abc_00001_1_lr=0.2", {"lr": 0.2}, rows("abc_00001", 1))
    exp = load_experiment(tmp_path)
    first = next(t for t in exp.trials if t.trial_id == "abc_00000")
    assert len(first.rows) == 2
    assert len(exp.warnings) == 1 and "line 3" in exp.warnings[0]
    assert "result.json" in exp.warnings[0] and "sweep may be writing" in exp.warnings[0]
    assert exp.hyperparams == ["lr"]  # no state file: the params that vary
    assert {t.status for t in exp.trials} == {"RUNNING"} and not exp.finished


def test_state_file_adds_pending_trials_and_statuses(tmp_path):
    _trial_dir(tmp_path, "trial_x_00000_0", {"lr": 0.1},
               [json.dumps({"trial_id": "x_00000", "training_iteration": 1, "loss": 1.0})])
    state = {"trial_data": [
        [json.dumps({"trial_id": "x_00000", "status": "RUNNING",
                     "relative_logdir": "trial_x_00000_0",
                     "evaluated_params": {"lr": 0.1}, "config": {"lr": 0.1}}), "{}"],
        [json.dumps({"trial_id": "x_00001", "status": "PENDING", "relative_logdir": None,
                     "evaluated_params": {"lr": 0.2}, "config": {"lr": 0.2}}), "{}"],
        ["not json", "{}"],
    ]}
    (tmp_path / "experiment_state-2026-01-01_00-00-00.json").write_text(json.dumps(state))
    exp = load_experiment(tmp_path)
    assert [(t.trial_id, t.status) for t in exp.trials] == [("x_00000", "RUNNING"),
                                                            ("x_00001", "PENDING")]
    assert exp.trials[1].logdir is None and exp.trials[1].params == {"lr": 0.2}
    assert len(exp.warnings) == 1 and "trial_data[2]" in exp.warnings[0]


def test_two_folders_with_one_trial_id_are_both_kept_and_reported(tmp_path):
    line = json.dumps({"trial_id": "dup_00000", "training_iteration": 1, "loss": 1.0})
    _trial_dir(tmp_path, "trial_dup_00000_a", {"lr": 0.1}, [line])
    _trial_dir(tmp_path, "trial_dup_00000_b", {"lr": 0.2}, [line])
    exp = load_experiment(tmp_path)
    assert len(exp.trials) == 2
    assert len(exp.warnings) == 1 and "dup_00000" in exp.warnings[0]


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


def test_nan_metrics_show_as_na_and_sort_last(tmp_path):
    from triage_ray.report.dashboard import render_dashboard

    for i, miss in enumerate(("NaN", "2.5")):  # Python's json writes NaN for an undefined rate
        _trial_dir(tmp_path, f"trial_n_0000{i}_{i}", {"lr": 0.1 * (i + 1)},
                   [f'{{"trial_id": "n_0000{i}", "training_iteration": 1, "final": 1, '
                    f'"throughput_multiplier": 1.5, "missed_per_1000_auto_cleared": {miss}}}'])
    exp = load_experiment(tmp_path)
    assert exp.trials[0].metric("missed_per_1000_auto_cleared") is None
    page = render_dashboard(exp)
    assert '<td data-v="">n/a</td>' in page and ">nan<" not in page.lower()
    assert '<td data-v="2.5">2.5</td>' in page
