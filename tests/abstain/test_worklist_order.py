"""Uncertain-bucket orders, the read_value formula, and the worklist order built on them."""

from __future__ import annotations

import numpy as np
import pytest

from sim import Staffing, Worklist, simulate
from sim.draws import Scenario, draw_replication
from sim.policies import get_policy
from sim.replication import run_policy
from triage_ray.abstain import UNCERTAIN_ORDERS, read_value, uncertain_order_key, worklist_order
from triage_ray.abstain.buckets import Bucket


def test_read_value_matches_the_documented_formula() -> None:
    p = np.array([0.0, 0.02, 0.2, 0.5, 1.0])
    v = read_value(p, cost_miss=10.0, cost_false_alarm=2.0, cost_read=0.1,
                   reader_sensitivity=0.9, reader_specificity=0.8)
    expect = (np.minimum(10 * p, 2 * (1 - p)) - (p * 0.1 * 10 + (1 - p) * 0.2 * 2) - 0.1)
    np.testing.assert_allclose(v, expect)


def test_perfect_read_value_peaks_at_the_decision_boundary() -> None:
    p = np.linspace(0, 1, 100_001)
    v = read_value(p, cost_miss=20.0, cost_false_alarm=1.0)
    assert p[np.argmax(v)] == pytest.approx(1 / 21, abs=1e-4)
    assert v[0] == 0.0 and v[-1] == 0.0 and (v >= 0).all()


P7 = np.array([0.01, 0.9, 0.05, 0.5, 0.002, 0.95, 0.2])
B7 = np.array([Bucket.AUTO_NORMAL, Bucket.PRIORITY, Bucket.UNCERTAIN, Bucket.UNCERTAIN,
               Bucket.AUTO_NORMAL, Bucket.PRIORITY, Bucket.UNCERTAIN], dtype=np.int8)


def test_worklist_reads_priority_then_uncertain_most_likely_abnormal_first() -> None:
    order = worklist_order(P7, B7)
    assert sorted(order.tolist()) == list(range(P7.size))  # every study exactly once
    # priority in arrival order (1, 5); uncertain by p desc (3, 6, 2); auto-normal in arrival (0, 4)
    assert order.tolist() == [1, 5, 3, 6, 2, 0, 4]


def test_harm_if_unread_reads_the_decision_boundary_first() -> None:
    order = worklist_order(P7, B7, "harm_if_unread")
    # uncertain by min(20p, 1 - p): p 0.05 -> 0.95, 0.2 -> 0.8, 0.5 -> 0.5, so (2, 6, 3)
    assert order.tolist() == [1, 5, 2, 6, 3, 0, 4]


def test_unknown_uncertain_order_is_refused() -> None:
    with pytest.raises(ValueError, match="expected_wait_harm"):
        uncertain_order_key([0.1], "fifo")


def _abnormal_wait_ratio(rule: str) -> float:
    """Median abnormal time-to-read vs first-in-first-out, everything in the uncertain bucket and
    every study read (the `prioritise` policy), on calibrated scores with truth drawn from them."""
    rng = np.random.default_rng(3)
    p = rng.beta(2, 3, 4000)  # mean 0.4; almost all above the read-value peak 1/21
    truth = rng.random(p.size) < p
    wl = Worklist(bucket=np.full(p.size, int(Bucket.UNCERTAIN)), order_key=uncertain_order_key(p, rule),
                  is_abnormal=truth)
    r = simulate(wl, "prioritise", Staffing(), n_reps=3, seed=0)
    return r.mean("abnormal_ttr_median_ratio")


def test_default_order_reports_abnormal_studies_sooner_than_fifo() -> None:
    assert _abnormal_wait_ratio("expected_wait_harm") < 0.9  # measured 0.85 on this draw


def test_harm_if_unread_delays_abnormal_studies_when_the_whole_bucket_is_read() -> None:
    # why it is not the default: with p above its peak it reads likely-normal studies first
    assert _abnormal_wait_ratio("harm_if_unread") > 1.2


def test_worklist_rejects_unknown_bucket_codes() -> None:
    with pytest.raises(ValueError, match="row 1"):
        worklist_order([0.1, 0.2], [0, 7])
    with pytest.raises(ValueError, match="shape"):
        worklist_order([0.1, 0.2], [0])


@pytest.mark.parametrize("policy", ["prioritise", "auto_clear"])
@pytest.mark.parametrize("rule", sorted(UNCERTAIN_ORDERS))
def test_worklist_order_is_the_order_the_simulator_reads(policy: str, rule: str) -> None:
    """Study by study: one radiologist, the whole pile there at hour 0, no aging cap; the simulator
    then starts reads in exactly its queue order, which must be `worklist_order`'s."""
    rng = np.random.default_rng(11)
    p = rng.beta(2, 3, 600)
    buckets = np.select([p < 0.15, p >= 0.7], [Bucket.AUTO_NORMAL, Bucket.PRIORITY], Bucket.UNCERTAIN)
    buckets[rng.random(p.size) < 0.1] = Bucket.NOT_TRIAGED  # the gate's: whatever their p
    wl = Worklist(bucket=buckets, order_key=uncertain_order_key(p, rule))
    staffing, scenario = Staffing(radiologists=1), Scenario(audit_fraction=0.3)
    draws = draw_replication(wl, staffing, scenario, np.random.SeedSequence(5))
    out = run_policy(draws, get_policy(policy), staffing, scenario)
    read = np.flatnonzero(out.read)
    simulated = read[np.argsort(out.start_work[read], kind="stable")]
    expected = [i for i in worklist_order(p, buckets, rule) if out.read[i]]
    assert simulated.tolist() == expected
    assert policy == "prioritise" or read.size < p.size  # auto_clear leaves unaudited normals unread


def test_read_value_rejects_bad_costs() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        read_value([0.1], cost_miss=-1.0)
    with pytest.raises(ValueError, match="reader_sensitivity"):
        read_value([0.1], reader_sensitivity=1.5)


@pytest.mark.parametrize("policy", ["prioritise", "auto_clear", "no_ai"])
def test_not_triaged_studies_are_always_read_in_arrival_order(policy: str) -> None:
    """The gate's bucket: read whatever the policy (never auto-cleared), in arrival order among
    themselves, and read the same way under every policy (no bucket read multiplier)."""
    rng = np.random.default_rng(3)
    buckets = rng.integers(0, 3, 400)
    buckets[::7] = Bucket.NOT_TRIAGED
    wl = Worklist(bucket=buckets, order_key=rng.random(400))
    staffing = Staffing(radiologists=2, bucket_read_multiplier=(0.5, 1.5, 2.0))
    scenario = Scenario(audit_fraction=0.0)
    draws = draw_replication(wl, staffing, scenario, np.random.SeedSequence(1))
    out = run_policy(draws, get_policy(policy), staffing, scenario)
    gated = buckets == Bucket.NOT_TRIAGED
    assert out.read[gated].all()
    assert np.all(np.diff(out.start_work[gated]) >= 0)  # arrival order among themselves
    assert np.allclose(out.read_time[gated], draws.base_read[gated])
    if policy == "auto_clear":
        assert not out.read[buckets == Bucket.AUTO_NORMAL].any()
