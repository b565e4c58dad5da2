import numpy as np
import pandas as pd
import pytest

from triage_ray.intake.generate import generate_records
from triage_ray.intake.schema import (
    COMORBIDITIES,
    NUMERIC_RANGES,
    RECORD_COLUMNS,
    SPECIALTIES,
    URGENCY_TIERS,
)


def test_schema_ranges_and_labels(records):
    df, card = records
    assert list(df.columns) == list(RECORD_COLUMNS)
    assert df.record_id.is_unique and (df.source == "generated").all()
    for col, (lo, hi) in NUMERIC_RANGES.items():
        v = df[col].dropna()
        assert v.between(lo, hi).all(), col
    assert set(df.urgency) <= set(range(len(URGENCY_TIERS)))
    assert set(df.specialty) <= set(range(len(SPECIALTIES)))
    names = {c for s in df.comorbidities for c in s.split("|") if c}
    assert names <= set(COMORBIDITIES)
    assert card["source"] == "generated" and card["n"] == len(df)


def test_deterministic_for_a_seed():
    a, _ = generate_records(200, 0.3, seed=7)
    b, _ = generate_records(200, 0.3, seed=7)
    c, _ = generate_records(200, 0.3, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a.chief_complaint.equals(c.chief_complaint)


def test_imbalance_missingness_and_messy_text():
    df, _ = generate_records(6000, 0.5, seed=1)
    share = df.urgency.value_counts(normalize=True)
    assert share[0] < 0.08, "the most urgent tier must be rare"
    assert share[0] == share.min()
    assert 0.10 < share[1] < 0.30 and share[2] > 0.3
    assert df.temp_c.isna().mean() > 0.05 and df.hr.isna().mean() > 0.01
    assert df.chief_complaint.str.len().min() > 0
    text = " ".join(df.chief_complaint.str.lower())
    assert " w/ " in f" {text} " or " c/o " in f" {text} "  # abbreviations
    assert any(w in text for w in ("sob", "abd", "n/v"))
    assert df.chief_complaint.nunique() > len(df) / 3  # not one phrase per class


def test_label_noise_at_inter_rater_levels():
    _, card = generate_records(6000, 0.5, seed=2)
    assert 0.72 <= card["urgency_weighted_kappa_between_raters"] <= 0.88
    assert 0.75 <= card["specialty_kappa_between_raters"] <= 0.95


def _eta_squared(df: pd.DataFrame) -> float:
    """Share of urgency variance explained by the specialty label (shared signal)."""
    grand = df.urgency.mean()
    groups = df.groupby("specialty").urgency
    between = (groups.count() * (groups.mean() - grand) ** 2).sum()
    return float(between / ((df.urgency - grand) ** 2).sum())


def test_relatedness_knob_controls_shared_signal():
    low, card_low = generate_records(5000, 0.0, seed=4)
    high, card_high = generate_records(5000, 1.0, seed=4)
    assert abs(card_low["corr_acuity_complaint"]) < 0.1
    assert card_high["corr_acuity_complaint"] > 0.99
    assert _eta_squared(high) > 2 * _eta_squared(low)
    # the urgency case mix stays comparable: the knob moves signal, not prevalence
    assert abs(high.urgency.mean() - low.urgency.mean()) < 0.25


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_relatedness_out_of_range(bad):
    with pytest.raises(ValueError, match="relatedness"):
        generate_records(10, bad)


def test_missing_not_at_random_sicker_have_fuller_forms():
    df, _ = generate_records(6000, 0.5, seed=5)
    miss = df[["hr", "rr", "spo2", "temp_c"]].isna().mean(axis=1)
    assert miss[df.urgency <= 1].mean() < miss[df.urgency == 3].mean()
    assert np.isfinite(df.age).all()
