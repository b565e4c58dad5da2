"""Worklist, Staffing, clock and statistics: bad input fails loudly; conversions are exact."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim import READ_TIME_DISTRIBUTIONS, Bucket, Staffing, Worklist, with_prevalence
from sim.clock import calendar_to_work, ends_to_calendar, start_to_calendar, starts_to_calendar
from sim.stats import mean_ci
from sim.worklist import dprime_for_auc, synthetic_worklist


def test_worklist_coerces_and_validates():
    wl = Worklist(bucket=np.array([0, 1, 2], np.int64), order_key=[0.1, 0.2, 0.3],
                  is_abnormal=np.array([0, 1, 0]))
    assert wl.bucket.dtype == np.int8 and wl.is_abnormal.dtype == bool and len(wl) == 3
    with pytest.raises(ValueError, match=r"2 entries, first at index 1 \(value 5\)"):
        Worklist(bucket=np.array([0, 5, 1, 7]))
    with pytest.raises(ValueError, match="order_key must be finite; 1 entries, first at index 2"):
        Worklist(bucket=np.zeros(3, np.int8), order_key=[0.0, 1.0, np.nan])
    with pytest.raises(ValueError, match=r"is_abnormal must have shape \(3,\)"):
        Worklist(bucket=np.zeros(3, np.int8), is_abnormal=np.zeros(2, bool))
    with pytest.raises(ValueError, match="bool or 0/1; 1 entries, first at index 0"):
        Worklist(bucket=np.zeros(2, np.int8), is_abnormal=np.array([2, 1]))
    with pytest.raises(ValueError, match="integer Bucket codes"):
        Worklist(bucket=np.array([0.5, 1.0]))


def test_with_prevalence_hits_the_target_and_keeps_each_class_mix():
    wl = synthetic_worklist(4000, prevalence=0.5, seed=1)
    low = with_prevalence(wl, 0.1, seed=2)
    assert len(low) == len(wl) and low.is_abnormal.mean() == pytest.approx(0.1, abs=1e-3)
    for cls in (True, False):
        before = np.bincount(wl.bucket[wl.is_abnormal == cls], minlength=3) / (
            wl.is_abnormal == cls).sum()
        after = np.bincount(low.bucket[low.is_abnormal == cls], minlength=3) / (
            low.is_abnormal == cls).sum()
        np.testing.assert_allclose(after, before, atol=0.04)
    with pytest.raises(ValueError, match="needs Worklist.is_abnormal"):
        with_prevalence(Worklist(bucket=np.zeros(3, np.int8)), 0.2)


@pytest.mark.parametrize("auc", [0.6, 0.8, 0.95])
def test_synthetic_worklist_has_the_requested_auc(auc: float):
    wl = synthetic_worklist(20_000, auc=auc, seed=3)
    rank = np.argsort(np.argsort(wl.order_key)) + 1.0  # Mann-Whitney U (scores are continuous)
    n_pos, n_neg = wl.is_abnormal.sum(), (~wl.is_abnormal).sum()
    observed = (rank[wl.is_abnormal].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    assert observed == pytest.approx(auc, abs=0.01)
    assert (wl.bucket == Bucket.AUTO_NORMAL).mean() == pytest.approx(0.3, abs=1e-3)
    assert dprime_for_auc(0.5) == pytest.approx(0.0, abs=1e-12)


def test_staffing_validates_and_reports():
    s = Staffing()
    assert s.reads_per_day == 1080.0 and s.mean_read_hours == pytest.approx(1 / 60)
    for bad in [dict(radiologists=0), dict(hours_per_day=25), dict(reads_per_hour=-1),
                dict(read_time_dist="weibull"), dict(bucket_read_multiplier=(1.0, 1.0)),
                dict(abnormal_read_multiplier=0.0)]:
        with pytest.raises(ValueError, match="Staffing"):
            Staffing(**bad)
    assert Staffing(read_time_dist="exponential").to_dict()["read_time_cv_effective"] == 1.0


@pytest.mark.parametrize("name", sorted(READ_TIME_DISTRIBUTIONS))
def test_read_time_distributions_have_unit_mean_and_the_stated_cv(name: str):
    z = READ_TIME_DISTRIBUTIONS[name](np.random.default_rng(0), 200_000, 0.5)
    assert z.mean() == pytest.approx(1.0, abs=0.01) and (z > 0).all()
    cv = {"exponential": 1.0, "fixed": 0.0}.get(name, 0.5)
    assert z.std() == pytest.approx(cv, abs=0.01)


def test_clock_maps_shift_edges_as_documented():
    h = 6.0
    assert start_to_calendar(6.0, h) == 24.0  # a start at the shift's end is tomorrow's first
    assert ends_to_calendar(np.array([6.0]), h)[0] == 6.0  # an end there is today's last
    assert starts_to_calendar(np.array([7.5]), h)[0] == 25.5
    np.testing.assert_array_equal(calendar_to_work(np.array([0.0, 5.0, 7.0, 23.0, 24.5]), h),
                                  [0.0, 5.0, 6.0, 6.0, 6.5])


def test_five_day_rota_skips_the_weekend_on_both_clocks():
    h, k = 6.0, 5
    # reading day 4 is Friday (calendar day 4); reading day 5 is the next Monday (calendar day 7)
    assert start_to_calendar(4 * h + 1.0, h, k) == 4 * 24.0 + 1.0
    assert start_to_calendar(5 * h, h, k) == 7 * 24.0
    assert ends_to_calendar(np.array([5 * h]), h, k)[0] == 4 * 24.0 + h  # Friday's last minute
    # a study arriving on Friday evening, Saturday or Sunday is first readable on Monday morning
    arrivals = np.array([4 * 24.0 + 7.0, 5 * 24.0 + 3.0, 6 * 24.0 + 23.0, 7 * 24.0 + 2.0])
    np.testing.assert_array_equal(calendar_to_work(arrivals, h, k), [5 * h, 5 * h, 5 * h,
                                                                     5 * h + 2.0])
    assert Staffing().reading_days_per_week == 5
    assert Staffing(reading_days_per_week=5).reads_per_calendar_day == pytest.approx(
        Staffing().reads_per_day * 5 / 7)
    with pytest.raises(ValueError, match="reading_days_per_week"):
        Staffing(reading_days_per_week=0)


@given(w=st.floats(0, 1e4), h=st.sampled_from([4.0, 6.0, 8.0, 24.0]), k=st.sampled_from([3, 5, 7]))
def test_clock_round_trips_inside_shifts(w: float, h: float, k: int):
    t = starts_to_calendar(np.array([w]), h, k)
    assert t[0] % 24.0 < h + 1e-9
    assert (t[0] // 24.0) % 7 < k  # every read starts on a reading day
    assert calendar_to_work(t, h, k)[0] == pytest.approx(w, abs=1e-9)


def test_t_quantile_and_interval():
    from scipy import stats

    # the half-width is Student's t quantile (df = n - 1) x sd / sqrt(n), small df included
    for n in [2, 3, 4, 6, 11, 12, 31, 201]:
        x = np.arange(n, dtype=float) ** 1.5
        mean, lo, hi = mean_ci(x)
        half = stats.t.ppf(0.975, n - 1) * x.std(ddof=1) / np.sqrt(n)
        assert mean == pytest.approx(x.mean()) and hi - mean == pytest.approx(half, rel=1e-9)
        assert mean - lo == pytest.approx(half, rel=1e-9)
    mean, lo, hi = mean_ci(np.array([1.0, 2.0, 3.0, np.nan]))
    assert mean == 2.0 and hi - mean == pytest.approx(stats.t.ppf(0.975, 2) / np.sqrt(3))
    assert np.isnan(mean_ci(np.array([4.0]))[1])
    # coverage: about 95% of intervals from normal samples contain the true mean
    rng = np.random.default_rng(0)
    hits = [lo <= 0 <= hi for _, lo, hi in (mean_ci(rng.standard_normal(5)) for _ in range(2000))]
    assert np.mean(hits) == pytest.approx(0.95, abs=0.015)
