"""AbstentionPolicy: contract, infeasibility, t_high rules, JSON summary, bad input."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
from binormal_scores import draw

from triage_ray.abstain import T_HIGH_RULES, T_LOW_RULES, AbstentionPolicy
from triage_ray.abstain.bounds import cp_lower, cp_upper
from triage_ray.abstain.buckets import Bucket
from triage_ray.abstain.rules import (
    BONFERRONI_GRID,
    LTT_START_ABNORMAL,
    SelectionCounts,
    fixed_sequence,
)


@pytest.fixture(scope="module")
def selection() -> tuple[np.ndarray, np.ndarray]:
    return draw(np.random.default_rng(0), 10_000, 0.3)


def test_init_only_stores_arguments() -> None:
    params = inspect.signature(AbstentionPolicy.__init__).parameters
    pol = AbstentionPolicy(alpha=0.02, target_ppv=0.8)
    assert {k: getattr(pol, k) for k in params if k != "self"}["alpha"] == 0.02
    assert not [a for a in vars(pol) if a.endswith("_")]


@pytest.mark.parametrize("rule", sorted(T_LOW_RULES))
def test_every_t_low_rule_fits_and_reports(rule: str, selection) -> None:
    p, y = selection
    pol = AbstentionPolicy(t_low_rule=rule)
    assert pol.fit(p, y) is pol
    codes = pol.assign(p)
    assert codes.dtype == np.int8 and set(np.unique(codes)) <= {int(b) for b in Bucket}
    assert sum(pol.coverage_.values()) == pytest.approx(1.0)
    assert pol.n_auto_normal_ == int((codes == Bucket.AUTO_NORMAL).sum())
    assert pol.feasible_ and 0 < pol.t_low_ <= pol.t_high_
    stats = pol.bucket_stats_["auto_normal"]
    assert stats["n"] == pol.n_auto_normal_
    if rule != "point_estimate":  # the certified rules meet the bound they report
        assert pol.bound_ <= pol.alpha
    # the reported bound is the exact CP bound of what landed in the bucket
    level = pol.delta / BONFERRONI_GRID.size if rule == "bonferroni_grid" else pol.delta
    assert pol.bound_level_ == pytest.approx(level)
    assert pol.bound_ == pytest.approx(cp_upper(stats["n_abnormal"], stats["n"], level))
    json.dumps(pol.to_dict(), allow_nan=False)


def test_infeasible_bound_gives_empty_auto_normal_not_a_relaxed_alpha() -> None:
    rng = np.random.default_rng(1)
    p, y = draw(rng, 200, 0.3)  # 200 studies cannot certify 1% at 95%: 0/299 is the minimum
    pol = AbstentionPolicy(alpha=0.01).fit(p, y)
    assert not pol.feasible_
    assert pol.t_low_ == 0.0 and pol.coverage_["auto_normal"] == 0.0 and pol.n_auto_normal_ == 0
    assert pol.alpha == 0.01 and pol.to_dict()["alpha"] == 0.01
    assert "too few studies" in pol.notes_["t_low"]
    assert (pol.assign(np.zeros(5)) != Bucket.AUTO_NORMAL).all()


def test_fixed_sequence_stops_at_the_first_failure() -> None:
    passes = np.array([False, True, True, False, True, True])
    last, n_tested = fixed_sequence(lambda i: passes[i], 1, passes.size)
    assert (last, n_tested) == (2, 3)  # index 4 passes but comes after a failure
    assert fixed_sequence(lambda i: passes[i], 0, passes.size) == (None, 1)
    assert fixed_sequence(lambda i: passes[i], 4, passes.size) == (5, 2)


def test_ltt_certifies_every_threshold_up_to_t_low_and_fails_the_next(selection) -> None:
    p, y = selection
    pol = AbstentionPolicy().fit(p, y)
    c = SelectionCounts.build(p, y)
    t = np.append(c.distinct(), np.nextafter(c.distinct()[-1], np.inf))
    n, k = c.below(t)
    bound = cp_upper(k, n, pol.delta)
    first_possible = int(np.argmax(cp_upper(LTT_START_ABNORMAL, n, pol.delta) <= pol.alpha))
    chosen = int(np.searchsorted(t, pol.t_low_))
    assert t[chosen] == pol.t_low_ and chosen >= first_possible
    assert (bound[first_possible:chosen + 1] <= pol.alpha).all()
    assert chosen + 1 == t.size or bound[chosen + 1] > pol.alpha


def test_ppv_rule_certifies_the_priority_bucket(selection) -> None:
    p, y = selection
    pol = AbstentionPolicy(t_high_rule="ppv", target_ppv=0.9).fit(p, y)
    s = pol.bucket_stats_["priority"]
    assert pol.t_high_feasible_ and s["n"] > 0
    assert cp_lower(s["n_abnormal"], s["n"], pol.delta) >= 0.9
    assert pol.t_high_bound_ >= 0.9


def test_capacity_rule_respects_capacity(selection) -> None:
    p, y = selection
    pol = AbstentionPolicy(t_high_rule="capacity", capacity_fraction=0.1).fit(p, y)
    assert 0.09 < pol.coverage_["priority"] <= 0.1


def test_t_high_is_clamped_up_to_t_low(selection) -> None:
    p, y = selection
    pol = AbstentionPolicy(alpha=0.05, t_high_rule="capacity", capacity_fraction=0.95).fit(p, y)
    assert pol.t_high_clamped_ and pol.t_high_ == pol.t_low_
    assert pol.coverage_["uncertain"] == 0.0


def test_unreachable_ppv_leaves_priority_empty_and_says_so(selection) -> None:
    p, y = selection
    pol = AbstentionPolicy(target_ppv=0.9999).fit(p, y)
    assert not pol.t_high_feasible_ and pol.coverage_["priority"] == 0.0
    assert pol.to_dict()["t_high"] is None


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"alpha": 0.0}, "alpha"), ({"delta": 1.5}, "delta"), ({"t_low_rule": "nope"}, "t_low_rule"),
    ({"t_high_rule": "nope"}, "t_high_rule"), ({"t_high_rule": "capacity"}, "capacity_fraction"),
    ({"target_ppv": 1.0}, "target_ppv"), ({"deploy_prior": (0.5, 0.2)}, "deploy_prior"),
])
def test_bad_settings_raise_clearly(kwargs, match, selection) -> None:
    p, y = selection
    with pytest.raises(ValueError, match=match):
        AbstentionPolicy(**kwargs).fit(p, y)


def test_bad_rows_are_named() -> None:
    p = np.array([0.1, 0.2, np.nan, 0.3])
    with pytest.raises(ValueError, match="row 2"):
        AbstentionPolicy().fit(p, [0, 1, 0, 1])
    with pytest.raises(ValueError, match="row 1: 2"):
        AbstentionPolicy().fit([0.1, 0.2], [0, 2])
    with pytest.raises(ValueError, match="3 rows but the scores have 2"):
        AbstentionPolicy().fit([0.1, 0.2], [0, 1, 1])
    with pytest.raises(RuntimeError, match="not fitted"):
        AbstentionPolicy().assign([0.1])


def test_registries_are_filled() -> None:
    assert {"ltt_fixed_sequence", "bonferroni_grid", "point_estimate"} <= set(T_LOW_RULES)
    assert {"ppv", "capacity"} <= set(T_HIGH_RULES)


def test_coverage_curve_bounds_what_fixed_shares_would_carry() -> None:
    rng = np.random.default_rng(5)
    y = (rng.random(4000) < 0.4).astype(int)
    p = np.clip(rng.normal(0.3 + 0.3 * y, 0.15), 0.001, 0.999)  # informative, far from alpha = 1%
    pol = AbstentionPolicy(alpha=0.01).fit(p, y)
    assert not pol.feasible_
    curve = pol.to_dict()["coverage_curve"]
    assert [round(r["coverage"], 2) for r in curve] == [0.05, 0.1, 0.2, 0.3]
    for r in curve:
        assert r["observed_rate"] <= r["upper_bound"] <= 1.0
        lowest = np.argsort(p, kind="stable")[: r["n"]]
        assert r["n_abnormal"] == y[lowest].sum()
    # a larger share reaches further into abnormal scores: the bound grows
    assert curve[0]["upper_bound"] < curve[-1]["upper_bound"]
