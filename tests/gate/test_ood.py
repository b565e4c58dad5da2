"""The feature check on a problem whose answer is known: Gaussian features, a conformal
threshold whose false-flag rate on fresh in-distribution data is at most the target, and shifted
data flagged."""

from __future__ import annotations

import numpy as np
import pytest

from triage_ray.gate import FeatureDistance


def _gauss(rng, n, d=16, shift=0.0):
    cov = np.diag(np.linspace(0.5, 3.0, d))
    return rng.multivariate_normal(np.full(d, shift), cov, n)


def test_false_flag_rate_holds_on_fresh_in_scope_data():
    rng = np.random.default_rng(0)
    det = FeatureDistance.fit(_gauss(rng, 4000))
    rates = []
    for _ in range(20):  # the guarantee is on average over calibration draws
        det.calibrate(_gauss(rng, 500), 0.05)
        rates.append(det.flags(_gauss(rng, 2000)).mean())
    assert np.mean(rates) <= 0.05 + 0.01
    assert np.mean(rates) > 0.02  # not a vacuous threshold either


def test_shifted_features_are_flagged():
    rng = np.random.default_rng(1)
    det = FeatureDistance.fit(_gauss(rng, 3000)).calibrate(_gauss(rng, 400), 0.01)
    assert det.flags(_gauss(rng, 500, shift=2.5)).mean() > 0.95
    assert det.flags(_gauss(rng, 500)).mean() < 0.05


def test_too_few_calibration_studies_are_refused():
    rng = np.random.default_rng(2)
    det = FeatureDistance.fit(_gauss(rng, 200))
    with pytest.raises(ValueError, match="cannot set"):
        det.calibrate(_gauss(rng, 50), 0.01)
    with pytest.raises(ValueError, match="need"):
        FeatureDistance.fit(np.zeros((1, 4)))


def test_save_load_keeps_distances_and_fingerprint(tmp_path):
    rng = np.random.default_rng(3)
    det = FeatureDistance.fit(_gauss(rng, 500)).calibrate(_gauss(rng, 200), 0.02)
    again = FeatureDistance.load(det.save(tmp_path / "d.npz"))
    x = _gauss(rng, 10)
    assert np.allclose(again.distance(x), det.distance(x))
    assert again.threshold == det.threshold and again.fingerprint() == det.fingerprint()
    assert again.meta()["n_calibration"] == 200
