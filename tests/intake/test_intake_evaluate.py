import numpy as np
import pytest
from sklearn.metrics import f1_score

from triage_ray.intake.evaluate import (
    BootstrapPlan,
    TaskPredictions,
    align_seeds,
    calibration_summary,
    f1_summary,
    macro_f1,
)


def _noisy(y, k, acc, rng):
    return np.where(rng.random(y.size) < acc, y, rng.integers(0, k, y.size))


@pytest.mark.parametrize("k", [4, 12])
def test_macro_f1_matches_sklearn(k):
    rng = np.random.default_rng(k)
    y = rng.integers(0, k, 500)
    p = _noisy(y, k, 0.6, rng)
    p[p == 1] = 2  # a class never predicted
    assert macro_f1(y, p, k) == pytest.approx(f1_score(y, p, average="macro"))


def test_bootstrap_ci_covers_truth_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    widths = []
    for n in (400, 4000):
        y = rng.integers(0, 4, n)
        preds = np.stack([_noisy(y, 4, 0.7, rng) for _ in range(3)])
        summ, reps = f1_summary(y, preds, 4, BootstrapPlan(n, 3, 300, seed=1), 0.95)
        assert summ["f1_ci_low"] < summ["f1"] < summ["f1_ci_high"]
        assert reps.shape == (300,)
        widths.append(summ["f1_ci_high"] - summ["f1_ci_low"])
    assert widths[1] < widths[0] / 2


def test_plan_checks_shapes():
    plan = BootstrapPlan(10, 2, 5)
    with pytest.raises(ValueError, match="seeds"):
        plan.f1_replicates(np.zeros(10, int), np.zeros((3, 10), int), 4)
    with pytest.raises(ValueError, match="records"):
        plan.f1_replicates(np.zeros(9, int), np.zeros((2, 9), int), 4)


def test_align_seeds_sorts_and_drops_unknown_labels():
    parts = [{"test_record_id": np.array([3, 1, 2]), "test_urgency_y": np.array([0, -1, 2]),
              "test_urgency_logits": np.eye(3)[[0, 1, 2]]} for _ in range(2)]
    ids, y, z, n_unl = align_seeds(parts, "test", "urgency")
    assert list(ids) == [2, 3] and list(y) == [2, 0] and z.shape == (2, 2, 3) and n_unl == 1
    parts[1]["test_record_id"] = np.array([4, 1, 2])
    with pytest.raises(ValueError, match="different records"):
        align_seeds(parts, "test", "urgency")


def test_temperature_scaling_fixes_overconfidence():
    rng = np.random.default_rng(0)
    k, n = 4, 3000

    def logits(y):
        z = rng.normal(0, 1, (y.size, k))
        z[np.arange(y.size), y] += 1.0
        return 6.0 * z  # far too confident

    yv, yt = rng.integers(0, k, n), rng.integers(0, k, n)
    p = TaskPredictions(np.arange(n), yt, np.stack([logits(yt)] * 2), yv, np.stack([logits(yv)] * 2))
    cal = calibration_summary(p, 0.95, 15)
    assert cal["temperature"] > 2
    assert cal["top_label_ece_after"] < cal["top_label_ece_before"] / 2
    assert cal["nll_after"] < cal["nll_before"]
