"""The sweep's search plans on a real Tune run: ASHA stops weak trials on per-epoch validation
AUROC, survivors deliver their final (scored) report, and the grid covers every combination."""

from __future__ import annotations

import pytest

from triage_ray.train.reporting import EPOCH_KEY, epoch_counters
from triage_ray.xray.config import XrayConfig
from triage_ray.xray.search import SEARCHES, VAL_METRIC


def _toy_trial(config):
    """Validation AUROC rises with lr; every epoch is reported, then a final report without the
    epoch counter (what `xray_trial` sends after scoring)."""
    import ray.tune

    for epoch in range(3):
        ray.tune.report({**epoch_counters(epoch, 3), VAL_METRIC: 0.5 + config["lr"] * 10 * (epoch + 1) / 3})
    ray.tune.report({"final": 1, VAL_METRIC: 0.5 + config["lr"] * 10, "epochs_run": 3})


def _run(plan, tmp_path):
    import sys

    import ray.cloudpickle
    from ray import tune

    # workers cannot import this test module by name: ship the toy trainable by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

    return tune.Tuner(_toy_trial, param_space=plan.param_space,
                      tune_config=tune.TuneConfig(max_concurrent_trials=1, **plan.tune_config),
                      run_config=tune.RunConfig(storage_path=str(tmp_path), name="s")).fit()


@pytest.mark.slow
@pytest.mark.ray
def test_optuna_asha_stops_weak_trials_and_lets_survivors_finish(ray_local, tmp_path):
    cfg = XrayConfig.from_dict({"epochs": 3, "lrs": [1e-4, 3e-2], "n_trials": 6,
                                "backbones": ["resnet10t"], "search": "optuna_asha"})
    results = _run(SEARCHES["optuna_asha"](cfg), tmp_path)
    metrics = [r.metrics for r in results]
    assert len(metrics) == 6 and not any(r.error for r in results)
    finished = [m for m in metrics if m.get("final")]
    stopped = [m for m in metrics if not m.get("final")]
    assert finished and stopped  # some ran to the end, some were cut at a rung
    assert all(m[EPOCH_KEY] < 3 for m in stopped)
    assert all(1e-4 <= r.config["lr"] <= 3e-2 for r in results)
    # a stopped trial never beats the best finished one on validation
    assert max(m[VAL_METRIC] for m in stopped) <= max(m[VAL_METRIC] for m in finished)


@pytest.mark.slow
@pytest.mark.ray
def test_grid_runs_every_combination_to_the_end(ray_local, tmp_path):
    cfg = XrayConfig.from_dict({"lrs": [1e-3], "augments": [0.0, 0.5],
                                "backbones": ["resnet10t", "mobilenetv3_small_100"]})
    results = _run(SEARCHES["grid"](cfg), tmp_path)
    combos = {(r.config["backbone"], r.config["lr"], r.config["augment"]) for r in results}
    assert len(combos) == 4 and all(r.metrics.get("final") for r in results)


def test_input_size_is_a_search_axis_in_both_plans():
    cfg = XrayConfig.from_dict({"image_sizes": [64, 48]})
    assert cfg.input_sizes() == [48, 64] and cfg.source_image_size == 64
    assert SEARCHES["grid"](cfg).param_space["image_size"] == {"grid_search": [48, 64]}
    assert sorted(SEARCHES["optuna_asha"](cfg).param_space["image_size"].categories) == [48, 64]
    assert XrayConfig().input_sizes() == [64]  # one size unless asked, and then no axis
    assert "image_size" not in SEARCHES["optuna_asha"](XrayConfig()).param_space
    with pytest.raises(ValueError, match="include image_size"):
        XrayConfig.from_dict({"image_sizes": [32, 48]})
