"""Bootstrap reports, paired tables, reliability curves, the figure, and the calibration split."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit

from triage_ray.calibrate import (
    TemperatureScaler,
    calibration_report,
    calibration_split,
    calibration_table,
    plot_reliability,
    reliability_curve,
)


@pytest.fixture(scope="module")
def overconfident() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    z = rng.normal(0.0, 1.5, 4000)
    return 2.5 * z, (rng.random(z.size) < expit(z)).astype(np.int64)


def test_binary_report_keys_and_intervals(overconfident) -> None:
    z, y = overconfident
    r = calibration_report(y, expit(z), n_boot=200, seed=1)
    assert set(r) == {"auroc", "ece", "adaptive_ece", "brier", "nll"}
    for name in ("auroc", "brier", "nll"):  # smooth metrics: the interval brackets the value
        assert r[name]["ci_low"] < r[name]["value"] < r[name]["ci_high"], name
    assert r["auroc"]["ci_high"] - r["auroc"]["ci_low"] < 0.05
    assert calibration_report(y, expit(z), n_boot=200, seed=1) == r  # seeded
    json.dumps(r, allow_nan=False)


def test_multiclass_report_keys() -> None:
    rng = np.random.default_rng(1)
    P = rng.dirichlet(np.ones(4), 300)
    r = calibration_report(rng.integers(0, 4, 300), P, n_boot=50)
    assert set(r) == {"top_label_ece", "classwise_ece", "brier", "nll"}


def test_patient_bootstrap_is_wider_when_studies_are_clustered() -> None:
    rng = np.random.default_rng(2)
    p = np.repeat(rng.random(400), 5)  # 400 patients with 5 near-identical studies each
    y = np.repeat((rng.random(400) < 0.5).astype(np.int64), 5)
    groups = np.repeat(np.arange(400), 5)
    rows = calibration_report(y, p, n_boot=300, seed=3)["brier"]
    pats = calibration_report(y, p, n_boot=300, seed=3, groups=groups)["brier"]
    assert (pats["ci_high"] - pats["ci_low"]) > 1.5 * (rows["ci_high"] - rows["ci_low"])


def test_paired_table_shows_temperature_scaling_helps(overconfident) -> None:
    z, y = overconfident
    fit, sel = calibration_split(z.size, seed=0)
    ts = TemperatureScaler().fit(z[fit], y[fit])
    tab = calibration_table(y[sel], {"uncalibrated": expit(z[sel]),
                                     "temperature": ts.predict_proba(z[sel])}, n_boot=200)
    d = tab["difference"]["temperature"]
    assert d["auroc"]["value"] == 0.0 and d["auroc"]["ci_low"] == d["auroc"]["ci_high"] == 0.0
    assert d["ece"]["ci_high"] < 0 and d["nll"]["ci_high"] < 0  # paired CI excludes no change
    assert tab["reference"] == "uncalibrated" and tab["n"] == sel.size
    json.dumps(tab, allow_nan=False)


def test_reliability_curve_and_figure(overconfident, tmp_path) -> None:
    z, y = overconfident
    before = reliability_curve(y, expit(z))
    after = reliability_curve(y, TemperatureScaler().fit(z, y).predict_proba(z))
    assert sum(before["bin_count"]) == y.size == sum(after["bin_count"])
    json.dumps(before)
    out = plot_reliability({"before": before, "after": after}, tmp_path / "fig" / "rel.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
    with pytest.raises(ValueError, match="missing keys"):
        plot_reliability({"bad": {"bin_count": []}}, tmp_path / "x.png")


def test_calibration_split_is_disjoint_and_keeps_patients_together() -> None:
    fit, sel = calibration_split(1000, select_fraction=0.3, seed=1)
    assert np.intersect1d(fit, sel).size == 0 and fit.size + sel.size == 1000
    assert sel.size == 300
    groups = np.repeat(np.arange(250), 4)
    fit, sel = calibration_split(1000, groups=groups, seed=1)
    assert np.intersect1d(groups[fit], groups[sel]).size == 0
    assert fit.size + sel.size == 1000 and 400 <= sel.size <= 600
    with pytest.raises(ValueError, match="select_fraction"):
        calibration_split(10, select_fraction=1.0)


def test_binned_ece_is_bias_corrected_inside_its_interval_and_covers_the_truth() -> None:
    """The plug-in ECE of an overconfident model (true ECE 0.039, from 2M studies) on 300 studies
    is biased upward, and the percentile interval of its replicates sits higher still: it covered
    the truth in 0 of these 60 draws. The bias-corrected value with the basic interval covered it
    in 49 of 60 (0.95 nominal; under-coverage remains, worst near a true ECE of 0), and the value
    is inside its own interval every time."""
    from triage_ray.calibrate import ece
    from triage_ray.calibrate.report import _replicates
    from triage_ray.common.stats import percentile_interval

    rng = np.random.default_rng(0)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        z = rng.normal(0.0, 1.5, n)
        return (rng.random(n) < expit(z)).astype(np.int64), expit(1.3 * z)

    truth = ece(*draw(2_000_000))
    covered = percentile_covered = 0
    for r in range(60):
        y, p = draw(300)
        e = calibration_report(y, p, n_boot=200, seed=r)["ece"]
        assert 0 <= e["ci_low"] <= e["value"] <= e["ci_high"] and e["value"] < e["plug_in"]
        assert e["value"] == pytest.approx(e["plug_in"] - e["bias"]) or e["value"] == 0
        covered += e["ci_low"] <= truth <= e["ci_high"]
        point, reps = _replicates(y, {"p": p}, 200, r, 15, None)
        lo, hi = percentile_interval(reps["p"]["ece"], 0.95)
        percentile_covered += lo <= truth <= hi
    assert covered >= 0.75 * 60
    assert percentile_covered <= 0.2 * 60  # control: what the interval was before
