"""Property-based checks (hypothesis) that buckets move monotonically with t_low, t_high and p."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage_ray.abstain import assign_buckets
from triage_ray.abstain.buckets import Bucket

probs = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=60).map(np.array)
unit = st.floats(0.0, 1.0, allow_nan=False)


def _pair(a: float, b: float) -> tuple[float, float]:
    return min(a, b), max(a, b)


@settings(max_examples=200, deadline=None)
@given(p=probs, a=unit, b=unit, c=unit)
def test_raising_t_low_only_moves_studies_into_auto_normal(p, a, b, c) -> None:
    t_low, t_high = _pair(a, b)
    t_low2 = t_low + (t_high - t_low) * c  # t_low <= t_low2 <= t_high
    before, after = assign_buckets(p, t_low, t_high), assign_buckets(p, t_low2, t_high)
    auto_before, auto_after = before == Bucket.AUTO_NORMAL, after == Bucket.AUTO_NORMAL
    assert (auto_after | ~auto_before).all()  # auto-normal set only grows
    assert ((after == Bucket.PRIORITY) == (before == Bucket.PRIORITY)).all()
    assert (after <= before).all()


@settings(max_examples=200, deadline=None)
@given(p=probs, a=unit, b=unit, c=unit)
def test_raising_t_high_only_moves_studies_out_of_priority(p, a, b, c) -> None:
    t_low, t_high = _pair(a, b)
    t_high2 = t_high + (1.0 - t_high) * c
    before, after = assign_buckets(p, t_low, t_high), assign_buckets(p, t_low, t_high2)
    assert ((after == Bucket.PRIORITY) <= (before == Bucket.PRIORITY)).all()
    assert ((after == Bucket.AUTO_NORMAL) == (before == Bucket.AUTO_NORMAL)).all()
    assert (after <= before).all()


@settings(max_examples=200, deadline=None)
@given(p=probs, a=unit, b=unit)
def test_bucket_is_nondecreasing_in_p_and_matches_the_definition(p, a, b) -> None:
    t_low, t_high = _pair(a, b)
    codes = assign_buckets(p, t_low, t_high)
    order = np.argsort(p, kind="stable")
    assert (np.diff(codes[order].astype(int)) >= 0).all()
    assert ((codes == Bucket.AUTO_NORMAL) == (p < t_low)).all()
    assert ((codes == Bucket.PRIORITY) == (p >= t_high)).all()
    assert codes.dtype == np.int8 and codes.shape == p.shape


@given(a=unit, b=unit)
def test_crossed_thresholds_are_rejected(a, b) -> None:
    if a == b:
        return
    with pytest.raises(ValueError, match="t_low <= t_high"):
        assign_buckets([0.5], max(a, b), min(a, b))
