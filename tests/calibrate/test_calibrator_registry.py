"""Every registered calibrator honours the shared contract, binary and multiclass."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from scipy.special import expit, softmax

from triage_ray.calibrate import CALIBRATORS, PlattScaler, ece, make_calibrator, top_label_ece


def miscalibrated_binary(seed: int, n: int):
    rng = np.random.default_rng(seed)
    z = rng.normal(-1.0, 2.0, n)  # true logit
    y = (rng.random(n) < expit(z)).astype(np.int64)
    return 3.0 * z, y  # over-confident (every calibrator can fix this; a shift: Platt below)


def miscalibrated_multiclass(seed: int, n: int, k: int = 4):
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 1.5, (n, k))
    cum = np.cumsum(softmax(z, axis=1), axis=1)
    y = np.minimum((rng.random((n, 1)) > cum).sum(axis=1), k - 1)
    return 2.5 * z, y


@pytest.mark.parametrize("name", sorted(CALIBRATORS))
def test_contract_and_binary_improvement(name: str) -> None:
    cls = CALIBRATORS[name]
    params = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    cal = cls()
    assert all(hasattr(cal, p) for p in params)  # __init__ stores its arguments ...
    assert not [a for a in vars(cal) if a.endswith("_")]  # ... and learns nothing
    z_fit, y_fit = miscalibrated_binary(0, 5000)
    z_test, y_test = miscalibrated_binary(1, 5000)
    assert cal.fit(z_fit, y_fit) is cal
    p = cal.predict_proba(z_test)
    assert p.shape == (5000,) and ((p >= 0) & (p <= 1)).all()
    assert ece(y_test, p) < 0.5 * ece(y_test, expit(z_test))  # held-out improvement


@pytest.mark.parametrize("name", sorted(CALIBRATORS))
def test_multiclass_rows_are_probabilities_and_better_calibrated(name: str) -> None:
    z_fit, y_fit = miscalibrated_multiclass(2, 5000)
    z_test, y_test = miscalibrated_multiclass(3, 5000)
    P = make_calibrator(name).fit(z_fit, y_fit).predict_proba(z_test)
    assert P.shape == (5000, 4)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert top_label_ece(y_test, P) < 0.5 * top_label_ece(y_test, softmax(z_test, axis=1))


def test_platt_recovers_known_slope_and_intercept() -> None:
    rng = np.random.default_rng(4)
    z = rng.normal(0.0, 2.0, 30_000)
    y = (rng.random(z.size) < expit(0.5 * z - 1.0)).astype(np.int64)
    cal = PlattScaler().fit(z, y)
    assert cal.coef_ == pytest.approx(0.5, abs=0.03)
    assert cal.intercept_ == pytest.approx(-1.0, abs=0.05)


def test_unknown_calibrator_name_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown calibrator 'nope'.*isotonic"):
        make_calibrator("nope")
