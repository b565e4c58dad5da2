"""The model against queueing theory and its own promises (issue item 4)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import Bucket, Staffing, Worklist, simulate, synthetic_worklist
from sim.draws import Scenario, draw_replication
from sim.policies import POLICIES
from sim.ready import total_order
from sim.reference import schedule_reference
from sim.replication import run_policy
from sim.stats import mean_ci

MM_C = Staffing(hours_per_day=24.0, reading_days_per_week=7,  # 24-h pool: an M/M/c queue
                read_time_dist="exponential")


def erlang_c_wait_hours(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of M/M/c (Erlang C), arrival rate lam, service rate mu per server."""
    a = lam / mu
    top = a**c / math.factorial(c) * c / (c - a)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


def inflow_only(staffing: Staffing, per_hour: float, hours: float) -> Scenario:
    return Scenario(inflow_per_day=per_hour * 24, inflow_days=hours / 24, pile_at_start=False)


def test_no_ai_reads_1080_a_day_with_3_readers_6h_60_per_h():
    staffing = Staffing(radiologists=3, hours_per_day=6.0, reads_per_hour=60.0)
    n = 12_000
    r = simulate(Worklist(bucket=np.ones(n, np.int8)), "no_ai", staffing, n_reps=8, seed=3)
    per_day = n / r.per_rep["days_to_clear"]  # the whole pile over fractional reading days
    mean, lo, hi = mean_ci(per_day)
    assert lo <= 1080.0 <= hi, (mean, lo, hi)
    backlog = np.array(r.backlog["no_ai"])
    per_calendar_day = -np.diff(backlog)  # [i]: reads on calendar day i (a 5-day rota)
    reading = np.arange(per_calendar_day.size) % 7 < 5
    assert (per_calendar_day[~reading] == 0).all(), "nobody reads on a day off"
    full_days = per_calendar_day[reading][: int(r.mean("days_to_clear")) - 1]  # not the last
    assert abs(full_days.mean() - 1080.0) < 0.01 * 1080.0, full_days
    assert r.metrics["utilisation"].mean > 0.999


@pytest.mark.parametrize(("c", "rho"), [(1, 0.7), (3, 0.8)])
def test_mmc_mean_wait_matches_erlang_c(c: int, rho: float):
    staffing = Staffing(radiologists=c, hours_per_day=24.0, reads_per_hour=60.0,
                        read_time_dist="exponential")
    lam = rho * c * staffing.reads_per_hour
    scenario = inflow_only(staffing, lam, hours=24.0)
    template = Worklist(bucket=np.ones(10, np.int8))
    waits = []
    for seed in np.random.SeedSequence(1).spawn(20):
        d = draw_replication(template, staffing, scenario, seed)
        out = run_policy(d, POLICIES["no_ai"], staffing, scenario)
        steady = d.arrival_cal > 1.0  # the queue starts empty: leave out the first hour
        waits.append(np.mean(out.start_work[steady] - d.arrival_cal[steady]))
    mean, lo, hi = mean_ci(np.array(waits))
    expected = erlang_c_wait_hours(lam, staffing.reads_per_hour, c)
    assert lo <= expected <= hi, (expected * 60, mean * 60, lo * 60, hi * 60)
    assert hi - lo < 0.5 * expected  # the interval is tight enough to mean something


def test_littles_law_on_the_simpy_queue():
    """Time-average queue length sampled by a SimPy monitor = arrival rate x mean wait."""
    staffing = Staffing(radiologists=3, hours_per_day=24.0, reading_days_per_week=7,
                        read_time_dist="exponential")
    scenario = inflow_only(staffing, 144.0, hours=20.0)
    d = draw_replication(Worklist(bucket=np.ones(10, np.int8)), staffing, scenario,
                         np.random.SeedSequence(5))
    every = 0.005
    trace = schedule_reference(d.arrival_work, d.arrival_cal, d.base_read,
                               total_order(d.arrival_cal), 3, 24.0, None, monitor_every=every)
    horizon = trace.sample_hours[-1] + every  # the monitor ran until the last read ended
    lam = d.arrival_cal.size / horizon
    l_queue, l_system = trace.waiting.mean(), (trace.waiting + trace.reading).mean()
    w_queue = np.mean(trace.start - d.arrival_cal)
    w_system = np.mean(trace.end - d.arrival_cal)
    assert l_queue == pytest.approx(lam * w_queue, rel=0.02)
    assert l_system == pytest.approx(lam * w_system, rel=0.02)
    assert l_queue > 1.0  # a real queue formed


TOL = 1e-9  # hours; the same reads summed in another order differ in the last bits


def _priority_starts(d, staffing, scenario, policy):
    base = run_policy(d, POLICIES["no_ai"], staffing, scenario)
    out = run_policy(d, POLICIES[policy], staffing, scenario)
    # the first rank: priority, and the gate's not-triaged studies (read as usual, never later)
    pri = np.isin(d.studies.bucket, [Bucket.PRIORITY, Bucket.NOT_TRIAGED])
    return out.start_work[pri], base.start_work[pri]


@pytest.mark.parametrize("policy", ["prioritise", "auto_clear"])
def test_priority_never_waits_longer_than_fifo_on_a_static_pile(policy: str):
    wl = synthetic_worklist(5000, prevalence=0.4, seed=2)
    staffing, scenario = Staffing(), Scenario()
    d = draw_replication(wl, staffing, scenario, np.random.SeedSequence(9))
    ai, fifo = _priority_starts(d, staffing, scenario, policy)
    assert ai.size > 500
    assert np.all(ai <= fifo + TOL)
    assert np.mean(ai) < 0.5 * np.mean(fifo)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), c=st.integers(1, 4), seed=st.integers(0, 2**32 - 1),
       inflow=st.sampled_from([0.0, 300.0, 3000.0]), policy=st.sampled_from(["prioritise",
                                                                            "auto_clear"]))
def test_priority_never_waits_longer_property(n, c, seed, inflow, policy):
    """Holds on every sample path for a static pile (any pool) and for one reader with arrivals
    (work conservation). With arrivals and >= 2 readers it is *not* a sample-path property:
    see the next test and docs/simulation.md."""
    if inflow and c > 1:
        c = 1
    rng = np.random.default_rng(seed)
    wl = Worklist(bucket=rng.integers(0, len(Bucket), n), order_key=rng.random(n))
    staffing = Staffing(radiologists=c, hours_per_day=8.0, reads_per_hour=30.0)
    scenario = Scenario(inflow_per_day=inflow, inflow_days=1.0, audit_fraction=0.3)
    d = draw_replication(wl, staffing, scenario, np.random.SeedSequence(seed))
    ai, fifo = _priority_starts(d, staffing, scenario, policy)
    assert np.all(ai <= fifo + TOL)


def test_priority_with_arrivals_and_a_pool_is_better_on_average_not_per_path():
    """Non-preemptive pools: serving one priority study sooner can leave a reader busy when the
    next one arrives, so per-study order is not guaranteed; the mean still drops sharply."""
    staffing = Staffing(radiologists=3, hours_per_day=24.0, reading_days_per_week=7,
                        read_time_dist="exponential")
    scenario = Scenario(inflow_per_day=0.85 * staffing.reads_per_day, inflow_days=2.0,
                        pile_at_start=False)
    wl = synthetic_worklist(500, seed=4)
    ratios = []
    for seed in np.random.SeedSequence(2).spawn(5):
        d = draw_replication(wl, staffing, scenario, seed)
        ai, fifo = _priority_starts(d, staffing, scenario, "prioritise")
        arrival = d.arrival_cal[d.studies.bucket == Bucket.PRIORITY]
        ratios.append(np.mean(ai - arrival) / np.mean(fifo - arrival))
    _, _, hi = mean_ci(np.array(ratios))
    assert hi < 0.7, ratios


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_results_are_reproducible_for_a_seed(policy: str):
    wl = synthetic_worklist(800, seed=1)
    kw = dict(n_reps=4, inflow_per_day=300.0, aging_cap_days=1.0)
    a, b = simulate(wl, policy, seed=7, **kw), simulate(wl, policy, seed=7, **kw)
    assert a.to_dict() == b.to_dict()
    c = simulate(wl, policy, seed=8, **kw)
    assert c.to_dict()["metrics"] != a.to_dict()["metrics"]
    # replication r depends on (seed, r) only: fewer replications are a prefix
    short = simulate(wl, policy, seed=7, **{**kw, "n_reps": 2})
    np.testing.assert_array_equal(short.per_rep["days_to_clear"], a.per_rep["days_to_clear"][:2])
