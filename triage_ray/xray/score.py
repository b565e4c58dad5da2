"""Score one trained configuration the way operations would: calibrate, abstain, simulate.

held-out logits -> the configured calibrator (temperature scaling by default; fit on `calib`) ->
abstention thresholds (chosen on `select`, a split the calibrator never saw) -> buckets on
`test` -> SimPy radiologists reading a pile the size of the real one, drawn from `test` ->
effective throughput under the miss-rate bound.

The sweep *chooses* among configurations on `select` (the same simulation on a pile drawn from
`select`, plus AUROC there), never on `test`: choosing on `test` and then reporting the winner's
`test` figures would flatter the winner. `test` is only ever reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim import SimResult, Staffing, Worklist, simulate
from triage_ray.abstain import AbstentionPolicy, uncertain_order_key
from triage_ray.calibrate import auroc, calibration_report, make_calibrator, reliability_curve
from triage_ray.calibrate.functional import sigmoid
from triage_ray.train.heldout import HeldOutLogits
from triage_ray.xray.config import XrayConfig
from triage_ray.xray.operating import ScoredSet
from triage_ray.xray.reference import WRITTEN
from triage_ray.xray.results import (
    AbstentionResult,
    CalibrationResult,
    SelectionMetrics,
    TestCheck,
    TrialMetrics,
)


def staffing_of(cfg: XrayConfig) -> Staffing:
    return Staffing(
        radiologists=cfg.radiologists, hours_per_day=cfg.hours_per_day,
        reads_per_hour=cfg.reads_per_hour, reading_days_per_week=cfg.reading_days_per_week,
    )


def simulate_scores(
    p: np.ndarray, bucket: np.ndarray, is_abnormal: np.ndarray | None, cfg: XrayConfig,
    *, feasible: bool, seed: int, n_reps: int | None = None,
) -> SimResult:
    """The one call every stage uses to judge a worklist (sweep, pile, memo); rows in arrival order.
    `n_reps`: replications (default `cfg.sim_reps`; the study bootstrap runs one per resample)."""
    key = uncertain_order_key(p, cfg.uncertain_order)
    worklist = Worklist(bucket=bucket, order_key=key, is_abnormal=is_abnormal)
    return simulate(
        worklist, policy=cfg.sim_policy, staffing=staffing_of(cfg),
        n_reps=cfg.sim_reps if n_reps is None else n_reps,
        seed=seed, audit_fraction=cfg.audit_fraction, aging_cap_days=cfg.aging_cap_days,
        miss_bound_ok=feasible,
    )


def abstention_policy(cfg: XrayConfig, **overrides: Any) -> AbstentionPolicy:
    """The configured (unfitted) policy; `overrides` e.g. a deployment prior for the pile."""
    kw = dict(alpha=cfg.alpha, delta=cfg.delta, target_ppv=cfg.target_ppv,
              t_low_rule=cfg.t_low_rule, t_high_rule=cfg.t_high_rule,
              capacity_fraction=cfg.capacity_fraction)
    return AbstentionPolicy(**{**kw, **overrides})


def certification_sets(held: HeldOutLogits, p: dict[str, np.ndarray],
                       reference: pd.Series | None, label_source: str) -> dict[str, ScoredSet]:
    """`select` and `test` studies that carry a reference label, with their calibrated p.

    reference None: every study with its written label (the behaviour before a reference set).
    """
    out = {}
    for split in ("select", "test"):
        if reference is None:
            out[split] = ScoredSet(p[split], held.label[split].astype(np.int64), label_source,
                                   held.study_id[split].astype(str))
            continue
        ref = reference.reindex(held.study_id[split].astype(str)).to_numpy(dtype=float)
        have = ~np.isnan(ref)
        if not have.any():
            raise ValueError(f"no {split} study has a reference label ({label_source})")
        out[split] = ScoredSet(p[split][have], ref[have].astype(np.int64), label_source,
                               held.study_id[split].astype(str)[have])
    return out


@dataclass
class ScoredConfig:
    """Everything one configuration's held-out evaluation produced."""

    calibrator: Any  # the fitted calibrator: predict_proba(logits) -> calibrated p
    policy: AbstentionPolicy  # fitted on the `select` reference set
    calibration: CalibrationResult
    abstention: AbstentionResult
    simulation: SimResult  # a pile the size of the real one drawn from the `test` reference set
    selection: SelectionMetrics  # what the sweep ranks on: AUROC and the simulation on `select`
    pile_size: int
    certification: dict[str, ScoredSet]  # the reference sets of `select` and `test`

    def simulation_dict(self) -> dict[str, Any]:
        return {**self.simulation.to_dict(), "pile": f"{self.pile_size} draws from the test split's "
                f"{self.certification['test'].n} studies labelled by the "
                f"{self.certification['test'].label_source}"}

    def trial_metrics(self) -> TrialMetrics:
        return TrialMetrics.build(self.calibration, self.abstention, self.simulation_dict(),
                                  self.selection)


def score_heldout(held: HeldOutLogits, cfg: XrayConfig, *, n_boot: int = 200,
                  reference: pd.Series | None = None,
                  label_source: str = WRITTEN) -> ScoredConfig:
    """Calibrate on `calib`, choose thresholds on `select`, judge on `test` (never refit there).

    reference: study_id -> 0/1 reference-standard labels (the adjudicated studies of `select` and
    `test`); the bound, its test check and the simulations are computed against it, and the same
    bound against the written labels is reported beside it. None: written labels throughout.
    """
    calibrator = make_calibrator(cfg.calibrator).fit(held.logit["calib"], held.label["calib"])
    p = {s: calibrator.predict_proba(z) for s, z in held.logit.items()}
    y_test = held.label["test"]
    raw_test = sigmoid(held.logit["test"])
    calibration = CalibrationResult(
        method=cfg.calibrator,
        temperature=float(calibrator.temperature_) if hasattr(calibrator, "temperature_") else None,
        fit_split="calib", eval_split="test",
        n_fit=int(len(held.label["calib"])), n_eval=int(len(y_test)),
        before=calibration_report(y_test, raw_test, n_boot=n_boot, seed=cfg.seed),
        after=calibration_report(y_test, p["test"], n_boot=n_boot, seed=cfg.seed),
        reliability={"before": reliability_curve(y_test, raw_test),
                     "after": reliability_curve(y_test, p["test"])},
    )
    cert = certification_sets(held, p, reference, label_source if reference is not None
                              else WRITTEN)
    sel, test = cert["select"], cert["test"]
    policy = abstention_policy(cfg).fit(sel.p, sel.y)
    # without a reference the certifying labels *are* the written ones: the same fit, once
    written = policy if reference is None else abstention_policy(cfg).fit(
        p["select"], held.label["select"])
    abstention = AbstentionResult(
        policy=policy.to_dict(), select_split="select", n_select=sel.n,
        test_check=_test_check(policy, test), label_source=sel.label_source,
        written_labels={**{k: written.to_dict()[k] for k in ("t_low", "feasible", "bound",
                                                              "coverage")},
                        "n_select": int(len(held.label["select"])), "label_source": WRITTEN,
                        "test_check": _test_check(written, ScoredSet(
                            p["test"], held.label["test"].astype(np.int64), WRITTEN)).to_dict()},
    )
    simulation = _simulate_split(test.p, policy.assign(test.p), test.y, cfg,
                                 bool(policy.feasible_))
    selection = selection_metrics(sel.p, policy, sel.y, cfg)
    return ScoredConfig(calibrator, policy, calibration, abstention, simulation, selection,
                        cfg.pile_size, cert)


def _test_check(policy: AbstentionPolicy, test: ScoredSet) -> TestCheck:
    """The auto-normal promise on `test`, which the thresholds never saw."""
    auto = policy.assign(test.p) == 0
    return TestCheck(n_auto_normal=int(auto.sum()), abnormal_among_auto_normal=int(test.y[auto].sum()),
                     rate=float(test.y[auto].mean()) if auto.any() else None, n_test=test.n,
                     label_source=test.label_source)


def _simulate_split(p: np.ndarray, bucket: np.ndarray, y: np.ndarray, cfg: XrayConfig,
                    feasible: bool) -> SimResult:
    """A pile the size of the real one, drawn (with replacement) from a labelled split."""
    idx = np.random.default_rng(cfg.seed).integers(0, len(y), size=cfg.pile_size)
    return simulate_scores(p[idx], bucket[idx], y[idx].astype(bool), cfg, feasible=feasible,
                           seed=cfg.seed)


def selection_metrics(p_select: np.ndarray, policy: AbstentionPolicy, y_select: np.ndarray,
                      cfg: XrayConfig) -> SelectionMetrics:
    """The figures `triage_ray.xray.select.rank_trials` chooses by, all on `select`."""
    sim = _simulate_split(p_select, policy.assign(p_select), y_select, cfg,
                          bool(policy.feasible_)).to_dict()["metrics"]
    tp, ttr = sim["throughput_multiplier"], sim["abnormal_ttr_median_ratio"]
    return SelectionMetrics(
        auroc=float(auroc(y_select, p_select)), throughput_multiplier=tp["mean"],
        throughput_ci_low=tp["ci_low"], throughput_ci_high=tp["ci_high"],
        abnormal_ttr_median_ratio=ttr["mean"],
    )
