"""Score one trained configuration the way operations would: calibrate, abstain, simulate.

held-out logits -> temperature scaling (fit on `calib`) -> abstention thresholds (chosen on
`select`, a split the temperature never saw) -> buckets on `test` -> SimPy radiologists reading a
pile the size of the real one, drawn from `test` -> effective throughput under the miss-rate bound.

The sweep *chooses* among configurations on `select` (the same simulation on a pile drawn from
`select`, plus AUROC there), never on `test`: choosing on `test` and then reporting the winner's
`test` figures would flatter the winner. `test` is only ever reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim import Staffing, Worklist, simulate
from triage_ray.abstain import AbstentionPolicy, uncertain_order_key
from triage_ray.calibrate import TemperatureScaler, auroc, calibration_report, reliability_curve
from triage_ray.train.heldout import HeldOutLogits
from triage_ray.xray.config import XrayConfig


def _num(v: float | None) -> float:
    """The simulator writes undefined values (e.g. an infinite multiplier) as null."""
    return float("nan") if v is None else float(v)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def staffing_of(cfg: XrayConfig) -> Staffing:
    return Staffing(
        radiologists=cfg.radiologists, hours_per_day=cfg.hours_per_day,
        reads_per_hour=cfg.reads_per_hour,
    )


def simulate_scores(
    p: np.ndarray, bucket: np.ndarray, is_abnormal: np.ndarray | None, cfg: XrayConfig,
    *, feasible: bool, seed: int,
):
    """The one call every stage uses to judge a worklist (sweep, pile, memo)."""
    key = uncertain_order_key(p, cfg.uncertain_order)
    worklist = Worklist(bucket=bucket, order_key=key, is_abnormal=is_abnormal)
    return simulate(
        worklist, policy=cfg.sim_policy, staffing=staffing_of(cfg), n_reps=cfg.sim_reps,
        seed=seed, audit_fraction=cfg.audit_fraction, aging_cap_days=cfg.aging_cap_days,
        miss_bound_ok=feasible,
    )


@dataclass
class ScoredConfig:
    """Everything one configuration's held-out evaluation produced (plain values, JSON-able)."""

    scaler: TemperatureScaler
    policy: AbstentionPolicy
    calibration: dict[str, Any]
    abstention: dict[str, Any]
    simulation: dict[str, Any]
    selection: dict[str, Any]  # what the sweep ranks on: AUROC and the simulation on `select`

    def tune_metrics(self) -> dict[str, float]:
        """Flat scalars for Tune's result table and the dashboard (JSON null -> NaN)."""
        before, after = self.calibration["before"], self.calibration["after"]
        sim = {k: {"mean": _num(v["mean"])} for k, v in self.simulation["metrics"].items()}
        cov = self.abstention["coverage"]
        return {
            "test_auroc": after["auroc"]["value"],
            "ece_before": before["ece"]["value"],
            "ece_after": after["ece"]["value"],
            "temperature": self.calibration["temperature"],
            "t_low": self.abstention["t_low"],
            "t_high": self.abstention["t_high"],
            "bound": self.abstention["bound"],
            "feasible": float(self.simulation["feasible"]),
            "coverage_auto_normal": cov["auto_normal"],
            "coverage_uncertain": cov["uncertain"],
            "coverage_priority": cov["priority"],
            "throughput_multiplier": sim["throughput_multiplier"]["mean"],
            "days_to_clear": sim["days_to_clear"]["mean"],
            "missed_per_1000_auto_cleared": sim["missed_per_1000_auto_cleared"]["mean"],
            "abnormal_ttr_median_ratio": sim["abnormal_ttr_median_ratio"]["mean"],
            "normal_wait_max_hours": sim["normal_wait_max_hours"]["mean"],
            **{f"select_{k}": _num(v) for k, v in self.selection.items()},
        }


def score_heldout(held: HeldOutLogits, cfg: XrayConfig, *, n_boot: int = 200) -> ScoredConfig:
    """Calibrate on `calib`, choose thresholds on `select`, judge on `test` (never refit there)."""
    scaler = TemperatureScaler().fit(held.logit["calib"], held.label["calib"])
    p = {s: scaler.predict_proba(z) for s, z in held.logit.items()}
    y_test = held.label["test"]
    raw_test = sigmoid(held.logit["test"])
    calibration = {
        "method": "temperature",
        "temperature": float(scaler.temperature_),
        "fit_split": "calib",
        "eval_split": "test",
        "n_fit": int(len(held.label["calib"])),
        "n_eval": int(len(y_test)),
        "before": calibration_report(y_test, raw_test, n_boot=n_boot, seed=cfg.seed),
        "after": calibration_report(y_test, p["test"], n_boot=n_boot, seed=cfg.seed),
        "reliability": {
            "before": reliability_curve(y_test, raw_test),
            "after": reliability_curve(y_test, p["test"]),
        },
    }
    policy = AbstentionPolicy(alpha=cfg.alpha, delta=cfg.delta, target_ppv=cfg.target_ppv)
    policy.fit(p["select"], held.label["select"])
    bucket_test = policy.assign(p["test"])
    auto = bucket_test == 0
    abstention = {
        **policy.to_dict(),
        "select_split": "select",
        "n_select": int(len(held.label["select"])),
        "test_check": {  # out-of-sample look at the promise, on data thresholds never saw
            "n_auto_normal": int(auto.sum()),
            "abnormal_among_auto_normal": int(y_test[auto].sum()),
            "rate": float(y_test[auto].mean()) if auto.any() else None,
        },
    }
    result = _simulate_split(p["test"], bucket_test, y_test, cfg, bool(policy.feasible_))
    simulation = {**result.to_dict(), "pile": f"{cfg.pile_size} draws from the test split"}
    selection = selection_metrics(p["select"], policy, held.label["select"], cfg)
    return ScoredConfig(scaler, policy, calibration, abstention, simulation, selection)


def _simulate_split(p: np.ndarray, bucket: np.ndarray, y: np.ndarray, cfg: XrayConfig,
                    feasible: bool):
    """A pile the size of the real one, drawn (with replacement) from a labelled split."""
    idx = np.random.default_rng(cfg.seed).integers(0, len(y), size=cfg.pile_size)
    return simulate_scores(p[idx], bucket[idx], y[idx].astype(bool), cfg, feasible=feasible,
                           seed=cfg.seed)


def selection_metrics(p_select: np.ndarray, policy: AbstentionPolicy, y_select: np.ndarray,
                      cfg: XrayConfig) -> dict[str, float | None]:
    """The figures `triage_ray.xray.sweep.rank_trials` chooses by, all on `select`."""
    sim = _simulate_split(p_select, policy.assign(p_select), y_select, cfg,
                          bool(policy.feasible_)).to_dict()["metrics"]
    tp, ttr = sim["throughput_multiplier"], sim["abnormal_ttr_median_ratio"]
    return {
        "auroc": float(auroc(y_select, p_select)),
        "throughput_multiplier": tp["mean"], "throughput_ci_low": tp["ci_low"],
        "throughput_ci_high": tp["ci_high"], "abnormal_ttr_median_ratio": ttr["mean"],
    }
