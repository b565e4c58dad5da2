"""EM and BBSE recover a known shifted prevalence; posterior adjustment; range flag."""

from __future__ import annotations

import numpy as np
import pytest
from binormal_scores import draw

from triage_ray.abstain import (
    adjust_posteriors,
    estimate_prior_bbse,
    estimate_prior_em,
    prior_shift_report,
)
from triage_ray.abstain.shift import _em_iterate

TRAIN_PRIOR = 0.3
N_PILE = 30_000


@pytest.fixture(scope="module")
def validation() -> tuple[np.ndarray, np.ndarray]:
    return draw(np.random.default_rng(100), 5000, TRAIN_PRIOR)


@pytest.mark.parametrize("true_prior", [0.12, 0.45])
def test_em_and_bbse_recover_a_shifted_prevalence_within_two_points(true_prior, validation) -> None:
    p_val, y_val = validation
    # the pile has another prevalence but is scored by the model calibrated at TRAIN_PRIOR
    p_pile, _ = draw(np.random.default_rng(7), N_PILE, true_prior, score_prior=TRAIN_PRIOR)
    em = estimate_prior_em(p_pile, TRAIN_PRIOR)
    bbse = estimate_prior_bbse(p_pile, p_val, y_val)
    assert abs(em - true_prior) < 0.02, em
    assert abs(bbse - true_prior) < 0.02, bbse
    # not vacuous: the plain mean of the unadjusted p is pulled toward the training prior
    assert abs(np.mean(p_pile) - true_prior) > 0.04


def test_direct_em_solution_equals_plain_em_iterations() -> None:
    p, _ = draw(np.random.default_rng(9), 5000, 0.2, score_prior=TRAIN_PRIOR)
    plain, iterations = _em_iterate(p, TRAIN_PRIOR, max_iter=100_000, tol=1e-12)
    assert iterations < 100_000
    assert estimate_prior_em(p, TRAIN_PRIOR) == pytest.approx(plain, abs=1e-8)


def test_adjust_posteriors_is_bayes_rule() -> None:
    p = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
    np.testing.assert_allclose(adjust_posteriors(p, 0.3, 0.3), p)
    back = adjust_posteriors(adjust_posteriors(p, 0.3, 0.6), 0.6, 0.3)
    np.testing.assert_allclose(back, p, atol=1e-12)
    q = adjust_posteriors(p, 0.3, 0.6)  # odds scale by (0.6/0.4)/(0.3/0.7) = 3.5
    assert q[2] == pytest.approx(3.5 / 4.5)
    assert (np.diff(q) > 0).all()  # monotone: buckets are the same sets before and after
    with pytest.raises(ValueError, match="new_prior"):
        adjust_posteriors(p, 0.3, 1.0)


def test_adjusted_posteriors_are_calibrated_at_the_new_prior() -> None:
    rng = np.random.default_rng(3)
    p, y = draw(rng, 200_000, 0.1, score_prior=TRAIN_PRIOR)
    q = adjust_posteriors(p, TRAIN_PRIOR, 0.1)
    for lo, hi in [(0.0, 0.05), (0.05, 0.2), (0.2, 0.6)]:
        m = (q >= lo) & (q < hi)
        assert abs(y[m].mean() - q[m].mean()) < 0.01


def test_report_flags_a_prevalence_outside_the_validated_range(validation) -> None:
    p_val, y_val = validation
    p_pile, _ = draw(np.random.default_rng(8), 10_000, 0.45, score_prior=TRAIN_PRIOR)
    inside = prior_shift_report(p_pile, p_val, y_val, TRAIN_PRIOR, (0.2, 0.6), n_boot=40)
    outside = prior_shift_report(p_pile, p_val, y_val, TRAIN_PRIOR, (0.2, 0.4), n_boot=40)
    assert inside["in_validated_range"] and not outside["in_validated_range"]
    for method in ("em", "bbse"):
        r = inside[method]
        assert r["ci_low"] <= 0.45 <= r["ci_high"], (method, r)
        assert r["ci_low"] <= r["value"] <= r["ci_high"]
    assert inside["methods_agree"]
    assert inside["n_pile"] == p_pile.size and inside["n_val"] == p_val.size


def test_bbse_refuses_a_threshold_that_does_not_separate_classes(validation) -> None:
    p_val, y_val = validation
    with pytest.raises(ValueError, match="TPR - FPR"):
        estimate_prior_bbse(p_val, p_val, y_val, threshold=0.9999999)
    with pytest.raises(ValueError, match="y_val"):
        estimate_prior_bbse(p_val, p_val, np.zeros(p_val.size, dtype=int))


def test_report_marks_bbse_unavailable_for_a_model_that_separates_nothing() -> None:
    """A useless model (scores independent of the label) must not crash the pile report: BBSE is
    reported unavailable with its reason and the range flag stays conservative (False)."""
    rng = np.random.default_rng(5)
    y_val = rng.integers(0, 2, 2000)
    p_val = np.full(2000, 0.3)
    p_pile = np.full(3000, 0.3)
    out = prior_shift_report(p_pile, p_val, y_val, 0.5, validated_range=(0.0, 1.0), n_boot=20)
    assert out["bbse"]["value"] is None and "cannot separate" in out["bbse"]["unavailable"]
    assert out["in_validated_range"] is False and out["methods_agree"] is False
    assert 0.0 <= out["em"]["value"] <= 1.0


def test_default_threshold_is_chosen_where_the_classes_separate_best(validation) -> None:
    p_val, y_val = validation
    out = prior_shift_report(p_val, p_val, y_val, float(np.mean(y_val)), validated_range=(0, 1),
                             n_boot=20)
    assert out["bbse"]["value"] is not None
    assert abs(out["bbse"]["value"] - np.mean(y_val)) < 0.05  # same data: recovers its own prior
