"""Scores against the generator's truth: low-end abnormal shares and AUROC with intervals."""

from __future__ import annotations

import numpy as np
import pytest

from triage_ray.xray.truth import auroc_against, low_end_abnormal, model_vs_truth


def test_low_end_share_counts_the_lowest_scored_studies():
    p = np.arange(1000) / 1000.0  # study i has score i/1000
    truth = np.zeros(1000, dtype=int)
    truth[:5] = 1  # five abnormal studies among the lowest 10 scores
    out = low_end_abnormal(p, truth)
    assert out["abnormal_in_lowest_1pct"]["value"] == pytest.approx(0.5)
    assert out["abnormal_in_lowest_1pct"]["n"] == 10
    assert out["abnormal_in_lowest_10pct"]["value"] == pytest.approx(0.05)
    lo, hi = out["abnormal_in_lowest_1pct"]["ci_low"], out["abnormal_in_lowest_1pct"]["ci_high"]
    assert lo < 0.5 < hi


def test_auroc_against_each_label_set_with_patient_intervals():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    p = np.clip(y * 0.3 + rng.uniform(0, 0.7, 400), 0, 1)
    out = auroc_against(p, {"truth": y, "noise": rng.integers(0, 2, 400)},
                        groups=np.arange(400) // 2, n_boot=200)
    assert out["auroc_truth"]["value"] > 0.8
    assert abs(out["auroc_noise"]["value"] - 0.5) < 0.1
    for v in out.values():
        assert v["ci_low"] <= v["value"] <= v["ci_high"]


def test_model_vs_truth_has_a_pile_section_only_when_its_truth_is_known():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    p = rng.uniform(size=200)
    without = model_vs_truth(p, {"truth": y}, np.arange(200), None, None)
    assert set(without) == {"test"} and without["test"]["n"] == 200
    with_pile = model_vs_truth(p, {"truth": y}, np.arange(200), p, y)
    assert with_pile["pile"]["n"] == 200 and "abnormal_in_lowest_5pct" in with_pile["pile"]
