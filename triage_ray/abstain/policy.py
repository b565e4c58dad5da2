"""Three-bucket abstention policy with a finite-sample bound on the auto-normal bucket.

Buckets (triage_ray.abstain.buckets.Bucket): auto-normal p < t_low, priority p >= t_high, uncertain otherwise.
`fit` takes *calibrated* p and labels from the threshold-selection split (never the data the
calibrator was fitted on; see triage_ray.calibrate.split) and chooses:
- t_low: largest threshold such that, with probability >= 1 - delta over the selection split, the
  abnormal rate among auto-normal studies is <= alpha (rule in T_LOW_RULES, default Learn-then-Test
  fixed-sequence testing with exact Clopper-Pearson p-values). If none qualifies, `feasible_` is
  False and t_low_ = 0 (empty auto-normal bucket): alpha is never relaxed.
- t_high: from a PPV target (certified at level delta the same way) or a capacity share.
With both targets certified at delta each, both hold together with probability >= 1 - 2 delta.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from triage_ray.abstain.bounds import RateBound, cp_lower, cp_upper
from triage_ray.abstain.buckets import BUCKET_NAMES, Bucket
from triage_ray.abstain.rules import T_HIGH_RULES, T_LOW_RULES, SelectionCounts
from triage_ray.calibrate.validation import as_labels, as_probabilities

ALPHA = 0.01  # max abnormal rate among auto-normal studies (the default target)
DELTA = 0.05  # 1 - confidence of the bound ("with 95% confidence")
TARGET_PPV = 0.9  # share of priority studies that should be abnormal (a product choice)


def assign_buckets(p: object, t_low: float, t_high: float) -> np.ndarray:
    """int8 Bucket codes: AUTO_NORMAL where p < t_low, PRIORITY where p >= t_high, else UNCERTAIN.

    Requires t_low <= t_high (so no study qualifies for both).
    """
    pa = as_probabilities(p)
    if not t_low <= t_high:
        raise ValueError(f"need t_low <= t_high, got t_low={t_low}, t_high={t_high}")
    out = np.full(pa.shape, Bucket.UNCERTAIN, dtype=np.int8)
    out[pa < t_low] = Bucket.AUTO_NORMAL
    out[pa >= t_high] = Bucket.PRIORITY
    return out


def _prior_pair(deploy_prior: float | tuple[float, float] | None) -> tuple[float | None, ...]:
    """(prior for t_low, prior for t_high): the worst case of an interval for each side."""
    if deploy_prior is None:
        return None, None
    lo, hi = (deploy_prior, deploy_prior) if np.isscalar(deploy_prior) else deploy_prior
    lo, hi = float(lo), float(hi)
    if not 0.0 < lo <= hi < 1.0:
        raise ValueError(f"deploy_prior must be in (0, 1) (an interval lo <= hi), got {deploy_prior}")
    return hi, lo  # a higher prevalence makes auto-normal riskier; a lower one lowers the PPV


# Auto-normal shares at which `coverage_curve_` reports what the data could certify.
CURVE_COVERAGES = (0.05, 0.10, 0.20, 0.30)


def coverage_curve(counts: SelectionCounts, rate: RateBound, delta: float,
                   coverages: tuple[float, ...] = CURVE_COVERAGES) -> list[dict[str, float | int]]:
    """Upper bounds on the abnormal rate if the lowest-scored share c of studies were cleared.

    Why: when no t_low meets alpha, operations still need to know how far off the model is ("clearing
    the lowest 10% would carry up to 6% abnormal"). This does not relax alpha: nothing is cleared by
    it. Each set is fixed by score rank alone, before labels are read; rows share delta by Bonferroni,
    so all of them hold together with probability >= 1 - delta.
    """
    level = delta / len(coverages)
    rows = []
    for c in coverages:
        m = int(np.floor(c * counts.n))
        if m == 0:
            continue
        k = int(counts.cum_pos[m])
        rows.append({"coverage": m / counts.n, "n": m, "n_abnormal": k, "observed_rate": k / m,
                     "upper_bound": float(rate.abnormal_upper(m, k, level))})
    return rows


class AbstentionPolicy:
    """Choose (t_low, t_high) on the selection split; `assign` maps new p to bucket codes.

    deploy_prior: None when the selection split has the deployment prevalence; otherwise the
    deployment prevalence (or a (lo, hi) interval, e.g. a prior-shift CI) under which the bounds
    are computed, assuming label shift (see bounds.RateBound).

    Learned: t_low_, t_high_, bound_ (at per-test level bound_level_), feasible_, coverage_,
    n_auto_normal_, bucket_stats_, t_high_bound_, t_high_feasible_, t_high_clamped_,
    n_selection_, n_tested_, notes_, coverage_curve_ (what fixed auto-normal shares could certify).
    """

    def __init__(self, alpha: float = ALPHA, delta: float = DELTA, t_high_rule: str = "ppv",
                 target_ppv: float = TARGET_PPV, capacity_fraction: float | None = None,
                 t_low_rule: str = "ltt_fixed_sequence",
                 deploy_prior: float | tuple[float, float] | None = None) -> None:
        self.alpha = alpha
        self.delta = delta
        self.t_high_rule = t_high_rule
        self.target_ppv = target_ppv
        self.capacity_fraction = capacity_fraction
        self.t_low_rule = t_low_rule
        self.deploy_prior = deploy_prior

    def _validate(self) -> None:
        for name in ("alpha", "delta"):
            v = getattr(self, name)
            if not 0.0 < v < 1.0:
                raise ValueError(f"{name} must be in (0, 1), got {v}")
        if self.t_low_rule not in T_LOW_RULES:
            raise ValueError(f"unknown t_low_rule {self.t_low_rule!r}; choose from {sorted(T_LOW_RULES)}")
        if self.t_high_rule not in T_HIGH_RULES:
            raise ValueError(f"unknown t_high_rule {self.t_high_rule!r}; "
                             f"choose from {sorted(T_HIGH_RULES)}")

    def fit(self, p: object, y: object) -> AbstentionPolicy:
        """p: calibrated p(abnormal) (n,) on the selection split; y: 0/1 labels (n,)."""
        self._validate()
        pa = as_probabilities(p)
        lab = as_labels(y, pa.shape[0])
        prior_low, prior_high = _prior_pair(self.deploy_prior)
        counts = SelectionCounts.build(pa, lab)
        n_neg = counts.n - counts.n_pos
        low_rate = RateBound(counts.n_pos, n_neg, prior_low)
        low = T_LOW_RULES[self.t_low_rule](counts, low_rate, self.alpha, self.delta)
        self.coverage_curve_ = coverage_curve(counts, low_rate, self.delta)
        high = T_HIGH_RULES[self.t_high_rule](
            counts, RateBound(counts.n_pos, n_neg, prior_high), delta=self.delta,
            target_ppv=self.target_ppv, capacity_fraction=self.capacity_fraction)
        self.feasible_ = low.threshold is not None
        self.t_low_ = low.threshold if self.feasible_ else 0.0  # p >= 0: empty auto-normal
        self.bound_ = low.bound
        self.bound_level_ = low.level if low.level is not None else self.delta
        self.t_high_feasible_ = high.threshold is not None
        t_high = high.threshold if self.t_high_feasible_ else math.inf
        # clamping t_high up to t_low only shrinks the priority bucket: PPV and capacity still hold
        self.t_high_clamped_ = t_high < self.t_low_
        self.t_high_ = max(t_high, self.t_low_)
        self.t_high_bound_ = high.bound
        self.notes_ = {"t_low": low.note, "t_high": high.note}
        self.n_tested_ = {"t_low": low.n_tested, "t_high": high.n_tested}
        self.n_selection_ = int(pa.shape[0])
        self._summarise(pa, lab)
        return self

    def _summarise(self, p: np.ndarray, y: np.ndarray) -> None:
        codes = self.assign(p)
        self.coverage_: dict[str, float] = {}
        self.bucket_stats_: dict[str, dict[str, float]] = {}
        for b in Bucket:
            m = codes == b
            n, k = int(m.sum()), int(y[m].sum())
            name = BUCKET_NAMES[b.value]
            self.coverage_[name] = n / p.shape[0]
            # two-sided (1 - delta) Clopper-Pearson interval of the observed abnormal rate
            self.bucket_stats_[name] = {
                "n": n, "n_abnormal": k, "abnormal_rate": k / n if n else float("nan"),
                "ci_low": float(cp_lower(k, n, self.delta / 2)),
                "ci_high": float(cp_upper(k, n, self.delta / 2)),
            }
        self.n_auto_normal_ = self.bucket_stats_[BUCKET_NAMES[Bucket.AUTO_NORMAL]]["n"]

    def assign(self, p: object) -> np.ndarray:
        """int8 triage_ray.abstain.buckets.Bucket codes for calibrated p (n,)."""
        if not hasattr(self, "t_low_"):
            raise RuntimeError("AbstentionPolicy is not fitted; call fit(p, y) first")
        return assign_buckets(p, self.t_low_, self.t_high_)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary: settings, procedures, thresholds, achieved bounds, coverage."""
        if not hasattr(self, "t_low_"):
            raise RuntimeError("AbstentionPolicy is not fitted; call fit(p, y) first")

        def num(v: float) -> float | int | None:  # JSON has no inf / nan
            if isinstance(v, int):
                return v
            return float(v) if math.isfinite(v) else None

        doc = (T_LOW_RULES[self.t_low_rule].__doc__ or "").strip().splitlines()[0]
        return {
            "alpha": self.alpha, "delta": self.delta,
            "t_low_rule": self.t_low_rule, "bound_procedure": doc,
            "bound_statistic": "Clopper-Pearson (exact binomial)" + (
                "" if self.deploy_prior is None else
                ", label-shift adjusted: bucket rate and selection prevalence at delta/2 each"),
            "deploy_prior": (None if self.deploy_prior is None else
                             list(np.atleast_1d(self.deploy_prior).astype(float))),
            "t_high_rule": self.t_high_rule, "target_ppv": self.target_ppv,
            "capacity_fraction": self.capacity_fraction,
            "t_low": num(self.t_low_), "t_high": num(self.t_high_),
            "feasible": self.feasible_, "bound": num(self.bound_),
            "bound_level": self.bound_level_,
            "t_high_feasible": self.t_high_feasible_, "t_high_bound": num(self.t_high_bound_),
            "t_high_clamped": self.t_high_clamped_,
            "n_selection": self.n_selection_, "n_auto_normal": self.n_auto_normal_,
            "coverage": dict(self.coverage_),
            "bucket_stats": {b: {k: num(v) for k, v in s.items()}
                             for b, s in self.bucket_stats_.items()},
            "n_tested": dict(self.n_tested_), "notes": dict(self.notes_),
            "coverage_curve": [dict(r) for r in self.coverage_curve_],
        }
