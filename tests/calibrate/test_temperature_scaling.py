"""TemperatureScaler recovers a known temperature (binary and multiclass) and keeps the ranking."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, softmax

from triage_ray.calibrate import TemperatureScaler, auroc


def binary_logits(rng: np.random.Generator, n: int, temperature: float):
    """Logits whose calibrated version is logits / temperature (labels drawn from that)."""
    z = rng.normal(0.0, 2.0, n)  # calibrated logits
    y = (rng.random(n) < expit(z)).astype(np.int64)
    return z * temperature, y


def multiclass_logits(rng: np.random.Generator, n: int, k: int, temperature: float):
    z = rng.normal(0.0, 2.0, (n, k))
    cum = np.cumsum(softmax(z, axis=1), axis=1)
    y = (rng.random((n, 1)) > cum).sum(axis=1)  # inverse-CDF draw from each row
    return z * temperature, np.minimum(y, k - 1)


@pytest.mark.parametrize("temperature", [0.6, 2.5])
def test_recovers_known_binary_temperature(temperature: float) -> None:
    z, y = binary_logits(np.random.default_rng(1), 20_000, temperature)
    ts = TemperatureScaler().fit(z, y)
    assert ts.temperature_ == pytest.approx(temperature, rel=0.05)
    assert ts.converged_ and not ts.at_bound_
    assert ts.nll_after_ < ts.nll_before_


@pytest.mark.parametrize(("k", "temperature"), [(4, 1.8), (12, 0.7)])
def test_recovers_known_multiclass_temperature(k: int, temperature: float) -> None:
    z, y = multiclass_logits(np.random.default_rng(2), 20_000, k, temperature)
    ts = TemperatureScaler().fit(z, y)
    assert ts.temperature_ == pytest.approx(temperature, rel=0.05)
    P = ts.predict_proba(z)
    assert P.shape == (20_000, k)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert (P.argmax(axis=1) == z.argmax(axis=1)).all()  # a temperature never changes the argmax


def test_temperature_one_is_recovered_when_already_calibrated() -> None:
    z, y = binary_logits(np.random.default_rng(3), 20_000, 1.0)
    assert TemperatureScaler().fit(z, y).temperature_ == pytest.approx(1.0, rel=0.05)


def test_transform_divides_and_keeps_auroc() -> None:
    z, y = binary_logits(np.random.default_rng(4), 2000, 3.0)
    ts = TemperatureScaler().fit(z, y)
    np.testing.assert_allclose(ts.transform(z), z / ts.temperature_)
    assert auroc(y, ts.predict_proba(z)) == pytest.approx(auroc(y, expit(z)))


def test_errors_name_the_problem() -> None:
    ts = TemperatureScaler()
    with pytest.raises(RuntimeError, match="not fitted"):
        ts.predict_proba([0.1])
    with pytest.raises(ValueError, match="only one class"):
        ts.fit([0.1, 0.2, 0.3], [1, 1, 1])
    with pytest.raises(ValueError, match=r"logits: 1 row\(s\) with NaN/inf values, first at row 1"):
        ts.fit([0.1, np.inf, 0.3], [0, 1, 0])
    with pytest.raises(ValueError, match="y: has 2 rows but the scores have 3"):
        ts.fit([0.1, 0.2, 0.3], [0, 1])
    z, y = multiclass_logits(np.random.default_rng(5), 200, 4, 1.0)
    ts.fit(z, y)
    with pytest.raises(ValueError, match="fitted for 4 classes"):
        ts.predict_proba(z[:, :3])
    with pytest.raises(ValueError, match="outside 0..3"):
        TemperatureScaler().fit(z, np.full(200, 4))
