"""One replication: draw once, run the policy and `no_ai` on those draws, measure both."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.clock import calendar_day
from sim.config import Staffing
from sim.draws import Draws, Scenario, draw_replication
from sim.fast import schedule_fast
from sim.metrics import Outcome, backlog_by_day, clear_hour, policy_metrics
from sim.policies import Policy, get_policy
from sim.ready import total_order
from sim.worklist import Worklist

Engine = Callable[..., tuple[np.ndarray, np.ndarray]]


def _reference(*args, **kw) -> tuple[np.ndarray, np.ndarray]:
    from sim.reference import schedule_reference  # simpy only when asked for

    trace = schedule_reference(*args, **kw)
    return trace.start, trace.end


ENGINES: dict[str, Engine] = {"fast": schedule_fast, "reference": _reference}


def run_policy(draws: Draws, policy: Policy, staffing: Staffing, scenario: Scenario,
               engine: str = "fast") -> Outcome:
    s = draws.studies
    audited = draws.audit_u < scenario.audit_fraction
    plan = policy.plan(s.bucket, s.order_key, audited)
    read_time = draws.base_read
    if policy.shows_ai and staffing.bucket_read_multiplier != (1.0, 1.0, 1.0):
        # a not-triaged study (the gate's bucket) is read as without the model: multiplier 1
        read_time = read_time * np.asarray((*staffing.bucket_read_multiplier, 1.0))[s.bucket]
    idx = np.flatnonzero(plan.read)
    pos = total_order(plan.rank[idx], plan.key[idx], draws.arrival_cal[idx])
    start, end = ENGINES[engine](
        draws.arrival_work[idx], draws.arrival_cal[idx], read_time[idx], pos,
        staffing.radiologists, staffing.hours_per_day, scenario.aging_cap_hours,
        staffing.reading_days_per_week)
    start_all, end_all = np.full(len(s), np.nan), np.full(len(s), np.nan)
    start_all[idx], end_all[idx] = start, end
    return Outcome(plan.read, start_all, end_all, read_time)


@dataclass(frozen=True)
class RepResult:
    metrics: dict[str, float]
    backlog_policy: np.ndarray  # (days + 1,)
    backlog_no_ai: np.ndarray
    n_inflow: int


def run_replication(worklist: Worklist, policy_name: str, staffing: Staffing, scenario: Scenario,
                    seed: np.random.SeedSequence, engine: str = "fast") -> RepResult:
    policy = get_policy(policy_name)
    draws = draw_replication(worklist, staffing, scenario, seed)
    base = run_policy(draws, get_policy("no_ai"), staffing, scenario, engine)
    out = base if policy.name == "no_ai" else run_policy(draws, policy, staffing, scenario, engine)
    feasible = scenario.miss_bound_ok or not policy.auto_clears
    h, k = staffing.hours_per_day, staffing.reading_days_per_week
    metrics = policy_metrics(out, base, draws.arrival_cal, draws.arrival_work,
                             draws.studies.is_abnormal, radiologists=staffing.radiologists,
                             hours_per_day=h, feasible=feasible, days_per_week=k)
    last = max(clear_hour(out, draws.arrival_work), clear_hour(base, draws.arrival_work))
    days = max(1, int(calendar_day(math.ceil(last / h) - 1, k)) + 1)  # calendar days to clear
    return RepResult(metrics, backlog_by_day(out, draws.arrival_cal, h, days, k),
                     backlog_by_day(base, draws.arrival_cal, h, days, k), len(draws.studies) -
                     draws.n_pile)
