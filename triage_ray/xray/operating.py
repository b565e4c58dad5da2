"""The operating-point stage: Ray Tune sweeps how the chosen model is used, the SimPy model scores it.

After the model sweep has chosen a model, each trial here is one *operating point* of it: a target
alpha for the auto-normal bound, an audit fraction, a priority rule (a precision target or a
capacity share), an aging cap and an uncertain-bucket order. A trial fits the abstention policy at
its own alpha on the `select` reference set (Learn-then-Test at that alpha: each point's bound is
valid on its own) and simulates a pile drawn from that set. Objectives, each with its interval:
throughput multiplier, certified bound, abnormal time-to-read ratio, worst normal wait.

`recommend` picks a point by a stated rule; `check_on_test` re-checks it out of sample on the
`test` reference set. Plain numpy + sim + Ray Tune; knows nothing of torch.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from triage_ray.common.stats import cp_upper
from triage_ray.xray.config import XrayConfig

TUNE_DIR_NAME = "tune_operating"
# What each trial reports (also the dashboard's frontier axes); nothing else lists these.
OBJECTIVES = ("throughput_multiplier", "bound", "abnormal_ttr_median_ratio", "normal_wait_max_hours")
POINT_KEYS = ("alpha", "audit_fraction", "priority_rule", "aging_cap_days", "uncertain_order")
_POLICY_FIELDS = ("feasible", "bound", "t_low", "t_high", "coverage_auto_normal", "coverage_priority")
_SIM_METRICS = ("throughput_multiplier", "abnormal_ttr_median_ratio", "normal_wait_max_hours",
                "missed_per_1000_auto_cleared", "days_to_clear")
# what `score_point` reports for a point (the simulated metrics with their 95% CI ends)
POINT_METRICS = _POLICY_FIELDS + tuple(f"{k}{end}" for k in _SIM_METRICS
                                       for end in ("", "_ci_low", "_ci_high"))


@dataclass(frozen=True)
class ScoredSet:
    """Calibrated p and reference labels of the studies a bound is certified (or checked) on."""

    p: np.ndarray  # (n,) calibrated p(abnormal)
    y: np.ndarray  # (n,) 0/1 reference labels
    label_source: str  # what y is, in words ("simulated panel, majority of 3", "written labels")
    study_id: np.ndarray | None = None  # (n,) when known: lets the pile restrict it (`restrict`)

    def __post_init__(self) -> None:
        if self.p.shape != self.y.shape or self.p.ndim != 1:
            raise ValueError(f"ScoredSet: p {self.p.shape} and y {self.y.shape} must be (n,) alike")
        if self.study_id is not None and np.shape(self.study_id) != self.p.shape:
            raise ValueError(f"ScoredSet: study_id {np.shape(self.study_id)} must match p {self.p.shape}")

    def restrict(self, keep: set[str]) -> ScoredSet:
        """The studies whose id is in `keep` (e.g. those inside the intended use)."""
        if self.study_id is None:
            raise ValueError("ScoredSet.restrict needs study ids")
        m = np.isin(self.study_id.astype(str), list(keep))
        return ScoredSet(self.p[m], self.y[m], self.label_source, self.study_id[m])

    @property
    def n(self) -> int:
        return int(self.y.size)


def operating_space(cfg: XrayConfig) -> dict[str, list[Any]]:
    """The swept values, from the config (each point is one combination)."""
    values = (cfg.op_alphas, cfg.op_audit_fractions, cfg.op_priority_rules, cfg.op_aging_caps_days,
              cfg.op_uncertain_orders)
    return {k: list(v) for k, v in zip(POINT_KEYS, values, strict=True)}


def point_config(cfg: XrayConfig, point: dict[str, Any]) -> XrayConfig:
    """`cfg` with one operating point's values: the same objects the study itself uses."""
    return dataclasses.replace(
        cfg, alpha=point["alpha"], audit_fraction=point["audit_fraction"],
        t_high_rule=point["priority_rule"], aging_cap_days=point["aging_cap_days"],
        uncertain_order=point["uncertain_order"],
        capacity_fraction=(cfg.capacity_fraction or cfg.op_capacity_fraction)
        if point["priority_rule"] == "capacity" else cfg.capacity_fraction)


def score_point(point: dict[str, Any], select: ScoredSet, cfg: XrayConfig) -> dict[str, Any]:
    """Fit the policy at the point's alpha on `select`, simulate a pile drawn from it."""
    from triage_ray.xray.score import abstention_policy, simulate_scores

    pc = dataclasses.replace(point_config(cfg, point), sim_reps=cfg.op_sim_reps)
    policy = abstention_policy(pc).fit(select.p, select.y)
    idx = np.random.default_rng(cfg.seed).integers(0, select.n, size=cfg.pile_size)
    sim = simulate_scores(select.p[idx], policy.assign(select.p[idx]), select.y[idx].astype(bool),
                          pc, feasible=bool(policy.feasible_), seed=cfg.seed).to_dict()["metrics"]
    row: dict[str, Any] = {
        "feasible": float(policy.feasible_), "bound": _num(policy.bound_),
        "t_low": _num(policy.t_low_), "t_high": _num(policy.t_high_),
        "coverage_auto_normal": policy.coverage_["auto_normal"],
        "coverage_priority": policy.coverage_["priority"],
    }
    for k in _SIM_METRICS:
        row[k] = _num(sim[k]["mean"])
        row[f"{k}_ci_low"], row[f"{k}_ci_high"] = _num(sim[k]["ci_low"]), _num(sim[k]["ci_high"])
    return row


def _num(v: float | None) -> float:
    return float("nan") if v is None or not math.isfinite(float(v)) else float(v)


def operating_trial(config: dict[str, Any], *, cfg_dict: dict[str, Any], select: ScoredSet) -> None:
    """One Tune trial: one operating point, scored."""
    import ray.tune

    cfg = XrayConfig.from_dict(cfg_dict)
    ray.tune.report({**score_point(config, select, cfg), "final": 1})


def run_operating_sweep(cfg: XrayConfig, select: ScoredSet, run_dir: Path, *,
                        resume: bool = False) -> list[dict[str, Any]]:
    """Grid over `operating_space(cfg)` as Ray Tune trials; one row per point (config + metrics)."""
    from ray import tune

    trainable = tune.with_resources(
        tune.with_parameters(operating_trial, cfg_dict=cfg.to_dict(), select=select),
        {"cpu": cfg.op_cpus_per_trial})
    path = run_dir / TUNE_DIR_NAME
    if resume and tune.Tuner.can_restore(str(path)):
        results = tune.Tuner.restore(str(path), trainable=trainable, resume_errored=True).fit()
    else:
        space = {k: tune.grid_search(v) for k, v in operating_space(cfg).items()}
        results = tune.Tuner(
            trainable, param_space=space,
            tune_config=tune.TuneConfig(max_concurrent_trials=cfg.op_max_concurrent,
                                        reuse_actors=True),
            # verbose 0: 96 one-second trials would print ~4,000 lines of result tables; the
            # stage logs its own summary and the dashboard shows every point
            run_config=tune.RunConfig(name=TUNE_DIR_NAME, storage_path=str(run_dir), verbose=0),
        ).fit()
    rows = []
    for r in results:
        m = r.metrics or {}
        rows.append({**{k: r.config.get(k) for k in POINT_KEYS},
                     "status": "error" if r.error else ("done" if m.get("final") else "incomplete"),
                     **{k: m.get(k) for k in POINT_METRICS}, "trial_id": m.get("trial_id")})
    return rows


def pareto_front(rows: list[dict[str, Any]]) -> list[int]:
    """Indices of the finished points no other point beats on both throughput (higher) and the
    certified bound (lower; a point with no certified bound counts as bound 1)."""
    done = [i for i, r in enumerate(rows) if r.get("status") == "done"]

    def tp(i: int) -> float:
        return _or(rows[i].get("throughput_multiplier"), 1.0)

    def bd(i: int) -> float:
        return _or(rows[i].get("bound"), 1.0) if rows[i].get("feasible") else 1.0

    return sorted(i for i in done if not any(
        tp(j) >= tp(i) and bd(j) <= bd(i) and (tp(j) > tp(i) or bd(j) < bd(i)) for j in done))


def _or(v: float | None, default: float) -> float:
    return default if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def recommendation_rule(cfg: XrayConfig, wait_cap_hours: float) -> str:
    return (f"the highest simulated throughput among points whose certified bound is at most "
            f"{cfg.alpha:.1%} and whose worst normal wait is at most {cfg.max_normal_wait_ratio:g}x "
            f"that of first-come-first-served ({wait_cap_hours:,.0f} h); differences within the "
            "simulation's 95% CI count as ties, broken by the abnormal time-to-read ratio (lower "
            "first). With no point certified, the rule still applies: every point then clears "
            "nothing and the choice is about reading order alone")


def recommend(rows: list[dict[str, Any]], cfg: XrayConfig,
              wait_cap_hours: float) -> dict[str, Any] | None:
    """The recommended point by `recommendation_rule`; None if no point meets the wait cap."""
    ok = [r for r in rows if r.get("status") == "done"
          and _or(r.get("normal_wait_max_hours"), math.inf) <= wait_cap_hours]
    if not ok:
        return None

    def certified(r: dict[str, Any]) -> bool:
        return bool(r.get("feasible")) and _or(r.get("bound"), 1.0) <= cfg.alpha

    # nothing certified at the target: the points at or below it clear nothing (ordering only)
    pool = [r for r in ok if certified(r)] or [
        r for r in ok if r["alpha"] <= cfg.alpha and not r.get("feasible")]
    if not pool:
        return None
    best_tp = max(_or(r.get("throughput_multiplier"), 1.0) for r in pool)
    tied = [r for r in pool if _or(r.get("throughput_multiplier_ci_high"),
                                   _or(r.get("throughput_multiplier"), 1.0)) >= best_tp]
    return min(tied, key=lambda r: (_or(r.get("abnormal_ttr_median_ratio"), math.inf),
                                    -_or(r.get("throughput_multiplier"), 1.0),
                                    tuple(str(r.get(k)) for k in POINT_KEYS)))  # deterministic


def check_on_test(point: dict[str, Any], select: ScoredSet, test: ScoredSet,
                  cfg: XrayConfig) -> dict[str, Any]:
    """The recommended point's thresholds (fitted on `select`) applied to the `test` reference set:
    the abnormal rate among its auto-normal studies with an exact one-sided upper bound, and the
    simulation on a pile drawn from `test`."""
    from triage_ray.xray.score import abstention_policy, simulate_scores

    pc = point_config(cfg, point)  # the study's own replications: this check is reported
    policy = abstention_policy(pc).fit(select.p, select.y)
    bucket = policy.assign(test.p)
    auto = bucket == 0
    n, k = int(auto.sum()), int(test.y[auto].sum())
    upper = float(cp_upper(k, n, cfg.delta)) if n else None
    idx = np.random.default_rng(cfg.seed + 2).integers(0, test.n, size=cfg.pile_size)
    sim = simulate_scores(test.p[idx], bucket[idx], test.y[idx].astype(bool), pc,
                          feasible=bool(policy.feasible_), seed=cfg.seed + 2).to_dict()["metrics"]
    return {
        "n_test": test.n, "label_source": test.label_source, "n_auto_normal": n,
        "abnormal_among_auto_normal": k, "rate": k / n if n else None,
        "upper_bound": upper, "confidence": 1 - cfg.delta,
        "holds": None if upper is None else upper <= point["alpha"],
        "throughput_multiplier": sim["throughput_multiplier"],
        "abnormal_ttr_median_ratio": sim["abnormal_ttr_median_ratio"],
        "normal_wait_max_hours": sim["normal_wait_max_hours"],
    }


def fifo_worst_normal_wait(select: ScoredSet, cfg: XrayConfig) -> float:
    """The worst normal wait of first-come-first-served on the same simulated pile (hours)."""
    from sim import Worklist, simulate
    from triage_ray.xray.score import staffing_of

    idx = np.random.default_rng(cfg.seed).integers(0, select.n, size=cfg.pile_size)
    wl = Worklist(bucket=np.ones(cfg.pile_size, np.int8), is_abnormal=select.y[idx].astype(bool))
    r = simulate(wl, "no_ai", staffing_of(cfg), n_reps=cfg.op_sim_reps, seed=cfg.seed)
    return float(r.mean("normal_wait_max_hours"))


@dataclass(frozen=True)
class OperatingResult:
    """metrics.json's `operating` section."""

    label_source: str
    n_select: int
    space: dict[str, list[Any]]
    n_points: int
    points: list[dict[str, Any]]
    pareto: list[int]  # indices into points
    rule: str
    wait_cap_hours: float
    recommended: dict[str, Any] | None
    test_check: dict[str, Any] | None
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def run_operating_stage(cfg: XrayConfig, select: ScoredSet, test: ScoredSet, run_dir: Path, *,
                        resume: bool = False, log=print) -> OperatingResult:
    """Sweep, front, recommendation and its out-of-sample check, timed."""
    import time

    t = time.time()
    rows = run_operating_sweep(cfg, select, run_dir, resume=resume)
    cap = cfg.max_normal_wait_ratio * fifo_worst_normal_wait(select, cfg)
    best = recommend(rows, cfg, cap)
    check = check_on_test(best, select, test, cfg) if best else None
    seconds = time.time() - t
    log(f"operating points: {len(rows)} scored in {seconds:.0f}s; recommended: "
        + (", ".join(f"{k}={best[k]}" for k in operating_space(cfg)) if best else "none"))
    return OperatingResult(
        label_source=select.label_source, n_select=select.n, space=operating_space(cfg),
        n_points=len(rows), points=rows, pareto=pareto_front(rows),
        rule=recommendation_rule(cfg, cap), wait_cap_hours=cap, recommended=best,
        test_check=check, seconds=seconds)
