"""triage_ray.xray.doubling: score model, certified multiplier, ceiling, grid, costs, the sentence."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from scipy.stats import norm

from sim import Staffing, Worklist, simulate
from triage_ray.abstain.buckets import Bucket
from triage_ray.common.stats import sigmoid
from triage_ray.xray.doubling import (
    Binormal,
    answer_sentence,
    binormal_auroc,
    ceiling,
    certified_multiplier,
    doubling_grid,
    fit_binormal,
    net_of_costs,
)

STAFF = Staffing()
FAST = dict(n_reference=3000, staffing=STAFF, pile_size=5000, n_reps=2, n_redraws=3, seed=0)


def _strict_json(d: dict) -> None:
    json.dumps(d, allow_nan=False)


# ----------------------------------------------------------------------------- fit_binormal
def test_fit_binormal_recovers_known_parameters():
    rng = np.random.default_rng(1)
    n, prev, (mu0, sd0, mu1, sd1) = 20_000, 0.4, (-2.0, 1.0, 1.0, 1.5)
    y = rng.random(n) < prev
    z = np.where(y, rng.normal(mu1, sd1, n), rng.normal(mu0, sd0, n))
    fit = fit_binormal(sigmoid(z), y.astype(int), n_boot=100, seed=0)
    for got, want in ((fit.mu0, mu0), (fit.sd0, sd0), (fit.mu1, mu1), (fit.sd1, sd1)):
        assert got == pytest.approx(want, abs=0.05)
    true_auc = float(norm.cdf(3.0 / math.hypot(1.0, 1.5)))
    assert fit.auroc == pytest.approx(true_auc, abs=0.005)
    assert fit.auroc_ci[0] <= true_auc <= fit.auroc_ci[1]
    assert fit.auroc_ci[1] - fit.auroc_ci[0] < 0.02
    assert fit.empirical_auroc == pytest.approx(true_auc, abs=0.01)  # a binormal truth: both agree
    assert fit.prevalence == pytest.approx(prev, abs=0.01) and fit.n == n
    _strict_json(fit.to_dict())
    # sampling the fit back and refitting returns the same model (the calibration is kept)
    p2, y2 = fit.sample(20_000, fit.prevalence, np.random.default_rng(2))
    refit = fit_binormal(p2, y2, n_boot=0)
    assert refit.mu1 == pytest.approx(fit.mu1, abs=0.05) and refit.sd0 == pytest.approx(fit.sd0, abs=0.05)


def test_with_auroc_keeps_shape_and_calibrated_is_calibrated():
    m = Binormal(mu0=-2.0, sd0=1.0, mu1=0.5, sd1=1.4, prevalence=0.4)
    moved = m.with_auroc(0.97)
    assert moved.auroc == pytest.approx(0.97, abs=1e-12)
    assert (moved.mu0, moved.sd0, moved.sd1) == (m.mu0, m.sd0, m.sd1)
    c = Binormal.calibrated(0.82, 0.55)
    assert c.auroc == pytest.approx(0.82, abs=1e-12)
    p, y = c.sample(200_000, 0.55, np.random.default_rng(0))
    bins = np.digitize(p, [0.2, 0.4, 0.6, 0.8])
    for b in range(5):  # mean predicted == observed rate in each bin: sigmoid(logit) is calibrated
        assert p[bins == b].mean() == pytest.approx(y[bins == b].mean(), abs=0.01)
    assert binormal_auroc(0.0, 1.0, 0.0, 1.0) == 0.5


# ----------------------------------------------------------------------------- certified_multiplier
def test_multiplier_increases_with_auroc_and_weak_model_certifies_nothing():
    model = Binormal.calibrated(0.9, 0.3)
    meds = [certified_multiplier(model, prevalence=0.3, auroc=a, **FAST).median
            for a in (0.95, 0.98, 0.99, 0.995)]
    assert all(b >= a for a, b in zip(meds, meds[1:], strict=False)), meds
    assert meds[-1] > meds[0] + 0.5
    weak = certified_multiplier(model, prevalence=0.3, auroc=0.6, **FAST)
    assert weak.n_certified == 0 and not weak.certified
    assert weak.auto_normal_share == 0.0 and weak.auto_cleared_share == 0.0
    assert weak.median == pytest.approx(1.0, abs=1e-3)
    assert weak.spread_low == pytest.approx(1.0, abs=1e-3)
    _strict_json(weak.to_dict())


def test_certified_share_keeps_the_miss_limit_on_the_pile():
    r = certified_multiplier(Binormal.calibrated(0.9, 0.3), prevalence=0.3, auroc=0.99, **FAST)
    assert r.certified and r.auto_normal_share > 0.3
    assert r.missed_per_1000_auto_cleared < 10.0  # alpha = 1 in 100
    assert len(r.per_redraw_multiplier) == 3 and r.low <= r.spread_low <= r.median <= r.spread_high


def test_high_prevalence_stays_well_below_two():
    model = Binormal.calibrated(0.9, 0.6)
    top = ceiling(0.4, 0.05)
    assert top == pytest.approx(1 / (1 - 0.4 * 0.95)) and top < 1.62
    for a in (0.95, 0.99):
        r = certified_multiplier(model, prevalence=0.6, auroc=a, **FAST)
        assert r.spread_high < 1.65 and r.spread_high <= top + 0.02


# ----------------------------------------------------------------------------- ceiling
def test_ceiling_matches_the_simulator_on_a_perfect_model():
    n, prev, audit = 30_000, 0.3, 0.05
    y = np.zeros(n, dtype=bool)
    y[np.random.default_rng(0).permutation(n)[: int(prev * n)]] = True
    bucket = np.where(y, Bucket.PRIORITY, Bucket.AUTO_NORMAL).astype(np.int8)
    res = simulate(Worklist(bucket=bucket, is_abnormal=y), "auto_clear", STAFF, n_reps=3,
                   audit_fraction=audit, miss_bound_ok=True)
    assert res.mean("throughput_multiplier") == pytest.approx(ceiling(1 - prev, audit), rel=0.01)
    # the whole chain (reference set -> bound -> buckets -> sim) on a model with no overlap
    perfect = Binormal(mu0=-10.0, sd0=1.0, mu1=10.0, sd1=1.0, prevalence=prev)
    r = certified_multiplier(perfect, prevalence=prev, **FAST)
    # every normal is cleared; the bound also lets through a few abnormals (up to ~1 in 100)
    assert r.certified and 1 - prev <= r.auto_normal_share <= (1 - prev) * 1.01
    assert r.median == pytest.approx(ceiling(1 - prev, audit), rel=0.02)


def test_ceiling_interval_and_edges():
    lo, hi = ceiling((0.6, 0.7), 0.05)
    assert (lo, hi) == (ceiling(0.6, 0.05), ceiling(0.7, 0.05)) and lo < hi
    assert ceiling(0.0, 0.05) == 1.0 and ceiling(1.0, 0.0) == math.inf
    with pytest.raises(ValueError):
        ceiling((0.7, 0.6), 0.05)


# ----------------------------------------------------------------------------- grid
def test_grid_finds_the_two_x_frontier_where_it_exists():
    model = Binormal.calibrated(0.82, 0.3)
    aucs = (0.95, 0.98, 0.99, 0.995)
    g = doubling_grid(model, (0.2, 0.6), aucs, n_reference=3000, staffing=STAFF, pile_size=5000,
                      n_reps=2, n_redraws=3, pile_prevalence=0.3)
    row = [c.median for c in g.cells[0]]
    assert g.auroc_for_2x[0] is not None
    j = aucs.index(g.auroc_for_2x[0])
    assert row[j] >= 2.0 and all(v < 2.0 for v in row[:j])
    assert g.auroc_for_2x[1] is None and g.ceilings[1] < 2.0  # 60% abnormal: no model doubles
    assert g.present_prevalence == 0.3 and g.present_auroc == pytest.approx(0.82)
    assert len(g.present_row) == len(aucs) and g.present.n_certified == 0
    assert g.present_auroc_for_2x is not None  # 30%: reachable inside the grid
    d = g.to_dict()
    _strict_json(d)
    assert d["present"]["answer"].startswith("No:")


def test_smaller_simulated_pile_gives_nearly_the_same_multiplier():
    model = Binormal.calibrated(0.9, 0.3)
    kw = dict(prevalence=0.3, auroc=0.99, n_reference=3000, staffing=STAFF, n_reps=3, n_redraws=3)
    big = certified_multiplier(model, pile_size=30_000, **kw)
    small = certified_multiplier(model, pile_size=3_000, **kw)
    assert big.certified and small.certified
    assert small.median == pytest.approx(big.median, rel=0.02)
    for a, b in zip(small.per_redraw_multiplier, big.per_redraw_multiplier, strict=True):
        assert a == pytest.approx(b, rel=0.03)


# ----------------------------------------------------------------------------- costs
def test_net_of_costs_hand_computed():
    c = net_of_costs(days_with=15.0, days_without=30.0, reference_reads=2160,
                     audit_reads_per_day=None, staffing=STAFF, inflow_per_day=1080.0, multiplier=2.0)
    assert c.reads_per_day == 1080.0 and c.reference_days == 2.0
    assert c.net_days_saved == pytest.approx(13.0)
    assert c.daily_saving_days == pytest.approx(0.5) and c.break_even_day == pytest.approx(4.0)
    _strict_json(c.to_dict())
    extra = net_of_costs(days_with=15.0, days_without=30.0, reference_reads=2160,
                         audit_reads_per_day=54.0, staffing=STAFF, multiplier=2.0)
    assert extra.extra_audit_days == pytest.approx(0.75) and extra.net_days_saved == pytest.approx(12.25)
    assert extra.break_even_day == pytest.approx(2.0 / 0.45)
    small_pool = Staffing(radiologists=2)  # 720 reads/day: the same reads cost more pool-days
    s = net_of_costs(days_with=15.0, days_without=30.0, reference_reads=2160,
                     audit_reads_per_day=None, staffing=small_pool, multiplier=2.0)
    assert s.reference_days == 3.0 and s.break_even_day == pytest.approx(3.0 / 0.75)
    for m in (1.0, 0.9):
        never = net_of_costs(days_with=30.0, days_without=30.0, reference_reads=2160,
                             audit_reads_per_day=None, staffing=STAFF, multiplier=m)
        assert never.break_even_day is None and never.net_days_saved == pytest.approx(-2.0)


def test_audit_reads_are_already_in_the_simulated_days():
    """Why net_of_costs adds nothing for the simulator's own audits."""
    n, prev = 20_000, 0.3
    y = np.random.default_rng(0).random(n) < prev
    wl = Worklist(bucket=np.where(y, Bucket.PRIORITY, Bucket.AUTO_NORMAL).astype(np.int8), is_abnormal=y)
    days = {a: simulate(wl, "auto_clear", STAFF, n_reps=2, audit_fraction=a).mean("days_to_clear")
            for a in (0.0, 0.2)}
    expected = (~y).sum() * 0.2 / STAFF.reads_per_day
    assert days[0.2] - days[0.0] == pytest.approx(expected, rel=0.05)


# ----------------------------------------------------------------------------- the sentence
JARGON = ("confidence", "interval", "median", "quantile", "percentile", "bootstrap", "significan",
          "clopper", "certif", "bound", "p-value")


def _with(r, **kw):
    return dataclasses.replace(r, **kw)


def test_answer_sentence_never_says_doubles_below_two():
    base = certified_multiplier(Binormal.calibrated(0.9, 0.3), prevalence=0.3, auroc=0.99, **FAST)
    for m in np.linspace(1.0, 1.99, 12):
        r = _with(base, median=m, low=m - 0.1, spread_low=m - 0.1, spread_high=m + 0.05)
        for kw in ({"auroc_for_2x": 0.99, "ceiling_value": 2.98},
                   {"auroc_for_2x": None, "ceiling_value": 1.61},
                   {"auroc_for_2x": None, "ceiling_value": 2.5, "max_grid_auroc": 0.995}):
            s = answer_sentence(multiplier=r, model_auroc=0.9, prevalence=0.3, **kw)
            assert s.startswith("No:") and "doubl" not in s.lower(), s
            assert not any(w in s.lower() for w in JARGON), s
            assert f"{m:.2f}" in s
    below = _with(base, median=1.3, low=1.2, spread_low=1.25)
    s = answer_sentence(multiplier=below, model_auroc=0.82, prevalence=0.55,
                        auroc_for_2x=None, ceiling_value=ceiling(0.45, 0.05))
    assert "perfect model" in s and "1.75" in s
    s = answer_sentence(multiplier=below, model_auroc=0.82, prevalence=0.3,
                        auroc_for_2x=0.99, ceiling_value=2.98)
    assert "0.99" in s
    # a typical reference set reaches 2x, an unlucky one does not: still "No" (conservative rule)
    s = answer_sentence(multiplier=_with(base, median=2.1, low=1.8, spread_low=1.8), model_auroc=0.99,
                        prevalence=0.3, auroc_for_2x=0.99, ceiling_value=2.98)
    assert s.startswith("No:")
    s = answer_sentence(multiplier=_with(base, median=2.4, low=2.2, spread_low=2.25), model_auroc=0.995,
                        prevalence=0.3, auroc_for_2x=0.99, ceiling_value=2.98)
    assert s.startswith("Yes:") and "doubles" in s and not any(w in s.lower() for w in JARGON), s
    # "Yes" needs the conservative end too: a stale low above a median below 2 is still "No"
    s = answer_sentence(multiplier=_with(base, median=1.9, low=2.1), model_auroc=0.99,
                        prevalence=0.3, auroc_for_2x=0.99, ceiling_value=2.98)
    assert s.startswith("No:")
