"""Metrics against scikit-learn and hand-computed values; bad input is named."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from triage_ray.calibrate import (
    adaptive_ece,
    auroc,
    brier,
    classwise_ece,
    ece,
    nll,
    top_label_ece,
)


@pytest.fixture(scope="module")
def binary() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    p = np.round(rng.beta(1, 3, 3000), 2)  # rounding creates ties, which AUROC must handle
    return (rng.random(p.size) < p).astype(np.int64), p


def test_binary_metrics_match_sklearn(binary) -> None:
    y, p = binary
    assert auroc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert brier(y, p) == pytest.approx(brier_score_loss(y, p))
    assert nll(y, p) == pytest.approx(log_loss(y, np.clip(p, 1e-12, 1 - 1e-12)))


def test_multiclass_brier_and_nll_match_definitions() -> None:
    rng = np.random.default_rng(1)
    P = softmax(rng.normal(size=(500, 4)), axis=1)
    y = rng.integers(0, 4, 500)
    assert nll(y, P) == pytest.approx(log_loss(y, P, labels=range(4)))
    assert brier(y, P) == pytest.approx(np.mean(((P - np.eye(4)[y]) ** 2).sum(axis=1)))


def test_ece_hand_computed() -> None:
    # two bins used with n_bins=2: (0, .5] holds p=.2,.2,.4 (mean .2667, 1 positive of 3),
    # (.5, 1] holds p=.9 (1 positive). ECE = 3/4*|1/3 - .2667| + 1/4*|1 - .9| = .075
    y, p = [0, 1, 0, 1], [0.2, 0.2, 0.4, 0.9]
    assert ece(y, p, n_bins=2) == pytest.approx(0.75 * abs(1 / 3 - 0.8 / 3) + 0.25 * 0.1)
    # equal-mass with 2 bins: {.2,.2} (1 positive) and {.4,.9} (1 positive)
    assert adaptive_ece(y, p, n_bins=2) == pytest.approx(0.5 * 0.3 + 0.5 * 0.15)


def test_ece_is_small_for_calibrated_and_large_for_overconfident_scores() -> None:
    rng = np.random.default_rng(2)
    p = rng.random(50_000)
    y = (rng.random(p.size) < p).astype(np.int64)
    assert ece(y, p) < 0.01 and adaptive_ece(y, p) < 0.01
    sharp = np.clip((p - 0.5) * 3 + 0.5, 0, 1)
    assert ece(y, sharp) > 0.1 and adaptive_ece(y, sharp) > 0.1


def test_top_label_and_classwise_ece() -> None:
    P = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.5, 0.25, 0.25], [0.2, 0.2, 0.6]])
    y = np.array([0, 2, 0, 2])
    # top-label: confidences .7 .6 .5 .6, hits 1 0 1 1; 15 bins put .5 | .6 .6 | .7 apart
    expect = (abs(1 - 0.5) + abs(1 - 1.2) + abs(1 - 0.7)) / 4
    assert top_label_ece(y, P) == pytest.approx(expect)
    manual = np.mean([ece((y == k).astype(int), P[:, k]) for k in range(3)])
    assert classwise_ece(y, P) == pytest.approx(manual)


@pytest.mark.parametrize(("fn", "y", "p", "match"), [
    (ece, [0, 1], [0.2, 1.3], "p: 1 value.*outside \\[0, 1\\], first at row 1"),
    (brier, [0, 3], [0.2, 0.3], "y: 1 label.*row 1: 3"),
    (nll, [0, 1], [[0.2, 0.3], [0.5, 0.5]], "P: 1 row.*do not sum to 1.*row 0"),
    (auroc, [1, 1], [0.2, 0.3], "both classes"),
    (ece, [0.5, 1], [0.2, 0.3], "non-integer label at row 0"),
    (top_label_ece, [0, 1], [0.2, 0.3], "\\(n, K>=2\\)"),
])
def test_bad_input_raises_with_field_and_row(fn, y, p, match) -> None:
    with pytest.raises(ValueError, match=match):
        fn(y, p)
