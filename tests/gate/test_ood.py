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


def _staged(rng, n, shift_stage0=0.0):
    """Two 'stages': a shift in the first one only is what pooling at the last stage misses."""
    return {"stage0": _gauss(rng, n, d=8, shift=shift_stage0), "pooled": _gauss(rng, n)}


def test_per_stage_check_catches_a_shift_the_pooled_check_misses():
    rng = np.random.default_rng(4)
    train, calib = _staged(rng, 3000), _staged(rng, 600)
    stages = FeatureDistance.fit(train, seed=0).calibrate(calib, 0.01)
    pooled = FeatureDistance.fit(train, ["pooled"], seed=0).calibrate(calib, 0.01)
    shifted = _staged(rng, 500, shift_stage0=3.0)
    assert stages.flags(shifted).mean() > 0.95
    assert pooled.flags(shifted).mean() < 0.05  # control: the pooled features did not move
    assert stages.flags(_staged(rng, 4000)).mean() < 0.02  # its false-flag target still holds
    assert stages.meta()["feature_check"] == "stages" and pooled.meta()["feature_check"] == "pooled"


def test_per_stage_false_flag_rate_holds_on_fresh_in_scope_data():
    """The score is fixed before calibration (standardised on held-out training studies), so the
    conformal guarantee holds for the maximum over stages without a Bonferroni correction."""
    rng = np.random.default_rng(5)
    det = FeatureDistance.fit(_staged(rng, 3000), seed=1)
    rates = []
    for _ in range(20):
        det.calibrate(_staged(rng, 500), 0.05)
        rates.append(det.flags(_staged(rng, 2000)).mean())
    assert 0.02 < np.mean(rates) <= 0.05 + 0.01


def test_a_stage_the_features_lack_is_named(tmp_path):
    rng = np.random.default_rng(6)
    det = FeatureDistance.fit(_staged(rng, 200)).calibrate(_staged(rng, 200), 0.05)
    with pytest.raises(KeyError, match="stage0"):
        det.distance({"pooled": _gauss(rng, 3)})
    again = FeatureDistance.load(det.save(tmp_path / "s.npz"))
    x = _staged(rng, 7)
    assert np.allclose(again.distance(x), det.distance(x))
    assert again.fingerprint() == det.fingerprint() and again.stages == ["stage0", "pooled"]


def test_a_detector_file_from_before_stages_loads_as_the_pooled_check(tmp_path):
    """An old run's ood_detector.npz (one Gaussian: mean, precision) keeps its distances and its
    fingerprint, so a resumed pile reuses the chunks it scored with it."""
    import hashlib
    import json

    rng = np.random.default_rng(7)
    x = _gauss(rng, 300)
    mean, precision = x.mean(0), np.linalg.inv(np.cov(x.T))
    meta = {"threshold": 20.0, "false_flag_rate": 0.01, "n_fit": 300, "n_calibration": 100}
    np.savez(tmp_path / "old.npz", mean=mean, precision=precision, meta=json.dumps(meta))
    det = FeatureDistance.load(tmp_path / "old.npz")
    d = x[:5] - mean
    assert np.allclose(det.distance(x[:5]), np.einsum("ij,jk,ik->i", d, precision, d))
    old = hashlib.sha256(mean.tobytes() + precision.tobytes())
    old.update(repr(20.0).encode())
    assert det.fingerprint() == old.hexdigest()[:16] and det.stages == ["pooled"]
