"""`simulate`: the one call the sweep, the pile scoring and the memo use to judge a worklist."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.config import DEFAULT_STAFFING, Staffing
from sim.draws import Scenario
from sim.metrics import METRICS
from sim.policies import get_policy
from sim.replication import ENGINES, RepResult, run_replication
from sim.stats import mean_ci
from sim.worklist import Worklist

BASELINE_POLICY = "no_ai"
CLOCK_NOTE = ("work clock: reading hours only, hours_per_day per reading day, reads span shifts; "
              "calendar: 24 h days from the first shift's start; days_to_clear in reading days, "
              "waits and times-to-read in calendar hours")


@dataclass(frozen=True)
class MetricSummary:
    mean: float
    ci_low: float  # 95% Student-t interval over replications
    ci_high: float


@dataclass(frozen=True, eq=False)  # compare to_dict() outputs instead
class SimResult:
    policy: str
    staffing: Staffing
    n_reps: int
    seed: int
    n_studies: int  # the worklist's size (inflow, if any, is extra: assumptions["inflow_mean"])
    feasible: bool
    assumptions: dict[str, Any]
    metrics: dict[str, MetricSummary]
    per_rep: dict[str, np.ndarray] = field(repr=False)  # name -> (n_reps,) values
    backlog: dict[str, list[float]] = field(repr=False)  # "day", "policy", "no_ai"

    def mean(self, name: str) -> float:
        return self.metrics[name].mean

    def to_dict(self) -> dict[str, Any]:
        """JSON-able; non-finite numbers (undefined metrics, CIs of one replication) -> None."""
        return {
            "policy": self.policy,
            "baseline_policy": BASELINE_POLICY,
            "staffing": self.staffing.to_dict(),
            "n_reps": self.n_reps,
            "seed": self.seed,
            "n_studies": self.n_studies,
            "feasible": self.feasible,
            "assumptions": self.assumptions,
            "metrics": {k: {"mean": _num(v.mean), "ci_low": _num(v.ci_low),
                            "ci_high": _num(v.ci_high)} for k, v in self.metrics.items()},
            "backlog": {k: [_num(x) for x in v] for k, v in self.backlog.items()},
        }


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def simulate(
    worklist: Worklist, policy: str = "auto_clear", staffing: Staffing = DEFAULT_STAFFING, *,
    n_reps: int = 10, seed: int = 0, audit_fraction: float = 0.05,
    aging_cap_days: float | None = None, miss_bound_ok: bool = True, inflow_per_day: float = 0.0,
    inflow_days: float | None = None, pile_at_start: bool = True, engine: str = "fast",
    ray_tasks: bool = False,
) -> SimResult:
    """Run `policy` and the `no_ai` baseline on the same draws, `n_reps` times.

    Replication r uses `np.random.SeedSequence(seed).spawn(n_reps)[r]`, so results depend only on
    the inputs, not on `engine` ("fast", the default, or the SimPy "reference") or on
    `ray_tasks` (True: one Ray task per replication; needs `ray.init()` done by the caller).
    An `auto_clear` run with `miss_bound_ok=False` is infeasible: its throughput gets no credit
    for studies it leaves unread. Metrics are defined in `sim.metrics.METRICS`.
    """
    pol = get_policy(policy)
    if not isinstance(worklist, Worklist):
        raise TypeError(f"worklist must be a sim.Worklist, got {type(worklist).__name__}")
    if len(worklist) == 0:
        raise ValueError("the worklist is empty: nothing to simulate")
    if int(n_reps) != n_reps or n_reps < 1:
        raise ValueError(f"n_reps must be a positive integer, got {n_reps!r}")
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {sorted(ENGINES)}")
    if staffing.has_class_multipliers and not worklist.has_truth:
        raise ValueError("Staffing class read multipliers need Worklist.is_abnormal (truth); "
                         "set them to 1.0 for an unlabeled worklist")
    scenario = Scenario(audit_fraction=audit_fraction, aging_cap_days=aging_cap_days,
                        inflow_per_day=inflow_per_day, inflow_days=inflow_days,
                        pile_at_start=pile_at_start, miss_bound_ok=miss_bound_ok)
    seeds = np.random.SeedSequence(seed).spawn(int(n_reps))
    args = (worklist, pol.name, staffing, scenario)
    if ray_tasks:
        reps = _run_on_ray(args, seeds, engine)
    else:
        reps = [run_replication(*args, s, engine) for s in seeds]
    feasible = miss_bound_ok or not pol.auto_clears
    per_rep = {k: np.array([r.metrics[k] for r in reps]) for k in METRICS}
    return SimResult(
        policy=pol.name, staffing=staffing, n_reps=int(n_reps), seed=seed,
        n_studies=len(worklist), feasible=feasible,
        assumptions=_assumptions(worklist, pol.name, staffing, scenario, reps, engine),
        metrics={k: MetricSummary(*mean_ci(v)) for k, v in per_rep.items()},
        per_rep=per_rep, backlog=_mean_backlog(reps),
    )


def _run_on_ray(args: tuple, seeds: list[np.random.SeedSequence], engine: str) -> list[RepResult]:
    import ray  # only when asked for: sim never needs Ray

    if not ray.is_initialized():
        raise RuntimeError("simulate(ray_tasks=True) needs a running Ray: call ray.init() first")
    task = ray.remote(num_cpus=1)(run_replication)
    refs = [ray.put(a) for a in args]
    return ray.get([task.remote(*refs, s, engine) for s in seeds])


def _mean_backlog(reps: list[RepResult]) -> dict[str, list[float]]:
    n = max(r.backlog_policy.size for r in reps)

    def pad(x: np.ndarray) -> np.ndarray:
        return np.pad(x, (0, n - x.size))  # cleared: 0 studies waiting from then on

    return {
        "day": list(range(n)),
        "policy": np.mean([pad(r.backlog_policy) for r in reps], axis=0).tolist(),
        "no_ai": np.mean([pad(r.backlog_no_ai) for r in reps], axis=0).tolist(),
    }


def _assumptions(worklist: Worklist, policy: str, staffing: Staffing, scenario: Scenario,
                 reps: list[RepResult], engine: str) -> dict[str, Any]:
    inflow = scenario.inflow_per_day > 0
    return {
        "clock": CLOCK_NOTE,
        "read_time": f"{staffing.read_time_dist}, mean {60.0 / staffing.reads_per_hour:g} min",
        "bucket_read_multiplier_applies": policy != BASELINE_POLICY
        and get_policy(policy).shows_ai,
        "audit_fraction": scenario.audit_fraction,
        "aging_cap_days": scenario.aging_cap_days,
        "inflow_per_day": scenario.inflow_per_day,
        "inflow_days": scenario.inflow_days_for(len(worklist), staffing) if inflow else 0.0,
        "inflow_mean": float(np.mean([r.n_inflow for r in reps])),
        "pile_at_start": scenario.pile_at_start,
        "miss_bound_ok": scenario.miss_bound_ok,
        "truth_known": worklist.has_truth,
        "has_order_key": worklist.order_key is not None,
        "engine": engine,
    }
