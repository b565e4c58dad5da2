"""Does the model double effective radiologist throughput, and what would it take?

The question is answered from the user's own reference-labelled scores, never asserted:

1. `fit_binormal`: a parametric score model (unequal-variance binormal on logit(p)) fitted to
   calibrated probabilities with reference labels. A parametric model lets us ask "what if the
   model were better" with the *same shape* (class spreads) instead of inventing one.
2. `certified_multiplier`: the whole deployment as operations would run it, on draws from that
   model: a reference (selection) set of `n_reference` labelled studies -> `AbstentionPolicy`
   (the finite-sample bound on the abnormal rate among auto-normal studies) -> buckets on a pile
   -> the SimPy model (`sim.simulate`, policy ``auto_clear``). Only a *certified* auto-normal
   bucket earns throughput (``miss_bound_ok=policy.feasible_``). The reference set is a sample,
   so the certified share is random: the run is repeated over independent reference redraws and
   their median and spread are reported beside the replication interval.
3. `doubling_grid`: pile prevalence x AUROC -> certified multiplier, the smallest grid AUROC that
   reaches 2x at each prevalence, and the present model's point.
4. `ceiling`: what a perfect model reaches; the simulator's multiplier is a ratio of days to clear
   (sim.metrics: dispositioned per reading hour of P / that of no_ai, both dispositioning the
   whole pile), so with equal read times it is N / (studies still read) =
   1 / (1 - normal_share * (1 - audit_fraction)). A test checks that against a simulated
   perfect model. It is why a high-prevalence pile cannot double: at 60% abnormal the ceiling is
   1 / (1 - 0.4 * 0.95) ~ 1.61.
5. `net_of_costs`: the reading days the reference set costs against the days the model saves.
6. `answer_sentence`: one plain sentence from those numbers, with a conservative rule for "yes".

Speed (measured on 2 cores, fast engine): one `sim.simulate` of a 30,000-study pile with 3
replications takes ~30 ms, a policy fit on a few thousand studies a few ms, so the default grid
(`DEFAULT_PREVALENCES` x `DEFAULT_AUROCS`, 3 redraws x 3 replications, pile 30,000) runs in
about 5-6 s (measured 5.3 s); no reduction of the simulated pile is needed. The multiplier
is a ratio of days, so a smaller pile with the same mix gives nearly the same value (checked in
tests/xray/test_doubling.py); `pile_size` can be reduced for bigger grids.

numpy / scipy + sim + triage_ray.abstain only: no torch, no Ray.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import norm

from sim import Staffing, Worklist, simulate
from triage_ray.abstain import AbstentionPolicy, uncertain_order_key
from triage_ray.abstain.buckets import Bucket
from triage_ray.calibrate.metrics import auroc as empirical_auroc
from triage_ray.common.stats import percentile_interval, sigmoid, t_interval

LOGIT_CLIP = 1e-6  # p is clipped to [1e-6, 1 - 1e-6] before logit: |logit| <= 13.8
CI_LEVEL = 0.95
TARGET = 2.0  # "doubles": the multiplier the brief asks about
DEFAULT_PREVALENCES: tuple[float, ...] = (0.2, 0.3, 0.4, 0.55, 0.7)
DEFAULT_AUROCS: tuple[float, ...] = (0.80, 0.85, 0.90, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995)
DEFAULT_UNCERTAIN_ORDER = "expected_wait_harm"


def _num(x: float | None) -> float | None:
    """Strict JSON: non-finite -> None."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _logit(p: np.ndarray, eps: float = LOGIT_CLIP) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=np.float64), eps, 1.0 - eps)
    return np.log(q) - np.log1p(-q)


def binormal_auroc(mu0: float, sd0: float, mu1: float, sd1: float) -> float:
    """AUROC of an unequal-variance binormal score: Phi((mu1 - mu0) / sqrt(sd0^2 + sd1^2))."""
    return float(norm.cdf((mu1 - mu0) / math.hypot(sd0, sd1)))


# ----------------------------------------------------------------------------- 1. score model
@dataclass(frozen=True)
class Binormal:
    """Per-class normal model of logit(p): normal ~ N(mu0, sd0^2), abnormal ~ N(mu1, sd1^2).

    prevalence and n describe the labelled data it was fitted on (n = 0: built by hand);
    auroc_ci is a bootstrap interval of the implied AUROC (None when not fitted);
    empirical_auroc is the rank (Mann-Whitney) AUROC of that data, to check the fit against.
    """

    mu0: float
    sd0: float
    mu1: float
    sd1: float
    prevalence: float
    n: int = 0
    auroc_ci: tuple[float, float] | None = None
    empirical_auroc: float | None = None

    def __post_init__(self) -> None:
        for name in ("mu0", "sd0", "mu1", "sd1"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"Binormal.{name} must be finite, got {getattr(self, name)!r}")
        if not (self.sd0 > 0 and self.sd1 > 0):
            raise ValueError(f"Binormal sds must be > 0, got {self.sd0!r}, {self.sd1!r}")
        if not 0.0 < self.prevalence < 1.0:
            raise ValueError(f"Binormal.prevalence must be in (0, 1), got {self.prevalence!r}")

    @property
    def auroc(self) -> float:
        """The implied binormal AUROC."""
        return binormal_auroc(self.mu0, self.sd0, self.mu1, self.sd1)

    @classmethod
    def calibrated(cls, auroc: float, prevalence: float) -> Binormal:
        """An equal-variance binormal whose sigmoid(logit) is exactly calibrated at `prevalence`.

        Why: a stand-in for "a model of AUROC a" when no scores are at hand. The log likelihood
        ratio of N(mu1, s^2) vs N(mu0, s^2) is (d / s^2)(x - (mu0 + mu1) / 2) with d = mu1 - mu0,
        so x is the calibrated logit iff d = s^2 and (mu0 + mu1) / 2 = logit(prevalence); with
        d' = d / s = sqrt(2) Phi^-1(auroc) that gives s = d', d = d'^2.
        """
        if not 0.5 < auroc < 1.0:
            raise ValueError(f"auroc must be in (0.5, 1), got {auroc!r}")
        if not 0.0 < prevalence < 1.0:
            raise ValueError(f"prevalence must be in (0, 1), got {prevalence!r}")
        dprime = math.sqrt(2.0) * float(norm.ppf(auroc))
        centre = math.log(prevalence / (1.0 - prevalence))
        return cls(mu0=centre - dprime**2 / 2, sd0=dprime, mu1=centre + dprime**2 / 2, sd1=dprime,
                   prevalence=prevalence)

    def with_auroc(self, auroc: float) -> Binormal:
        """The same shape (both class sds, the normal class's mean) with the abnormal mean moved
        so the implied AUROC is `auroc`: "this model, but better (or worse)".

        The moved model is no longer calibrated; nothing downstream needs it to be: the
        abstention thresholds, buckets and reading order depend on the ranking of p only.
        """
        if not 0.5 <= auroc < 1.0:
            raise ValueError(f"auroc must be in [0.5, 1), got {auroc!r}")
        mu1 = self.mu0 + float(norm.ppf(auroc)) * math.hypot(self.sd0, self.sd1)
        return Binormal(self.mu0, self.sd0, mu1, self.sd1, self.prevalence, self.n)

    def sample(self, n: int, prevalence: float, rng: np.random.Generator, *,
               exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Draw n studies at `prevalence`: (p = sigmoid(logit), y bool).

        exact=False: labels are Bernoulli (a real reference set's prevalence is itself random);
        exact=True: exactly round(prevalence * n) abnormal (a grid axis that means what it says).
        The draws consume the stream in a fixed order (labels, then one standard normal per
        study), so two models sampled with the same seed share their noise: grid cells differ by
        the model, not by chance.
        """
        if int(n) != n or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if not 0.0 <= prevalence <= 1.0:
            raise ValueError(f"prevalence must be in [0, 1], got {prevalence!r}")
        n = int(n)
        if exact:
            y = np.zeros(n, dtype=bool)
            y[rng.permutation(n)[: int(round(prevalence * n))]] = True
        else:
            y = rng.random(n) < prevalence
        z = rng.standard_normal(n)
        logit = np.where(y, self.mu1 + self.sd1 * z, self.mu0 + self.sd0 * z)
        return sigmoid(logit), y

    def to_dict(self) -> dict[str, Any]:
        return {
            "mu0": self.mu0, "sd0": self.sd0, "mu1": self.mu1, "sd1": self.sd1,
            "prevalence": self.prevalence, "n": int(self.n), "auroc": _num(self.auroc),
            "auroc_ci": None if self.auroc_ci is None else [_num(v) for v in self.auroc_ci],
            "empirical_auroc": _num(self.empirical_auroc),
            "scale": "logit(p), p clipped to [1e-6, 1 - 1e-6]",
        }


def _class_moments(z: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> tuple[float, ...]:
    out: list[float] = []
    for cls in (False, True):
        m = y == cls
        zc = z[m]
        wc = np.ones(zc.size) if w is None else w[m]
        tot = wc.sum()
        mu = float((wc * zc).sum() / tot)
        var = float((wc * (zc - mu) ** 2).sum() / max(tot - 1.0, 1.0))  # ddof = 1
        out += [mu, math.sqrt(max(var, 1e-12))]
    return tuple(out)


def fit_binormal(p: np.ndarray, y: np.ndarray, *, n_boot: int = 200, seed: int = 0) -> Binormal:
    """Fit an unequal-variance binormal to logit(p) of reference-labelled calibrated scores.

    Why parametric: to ask what a better model would do we need the score distribution as a
    function of AUROC; per-class mean and sd of the logit is the classical (ROC-analysis)
    binormal model, and the empirical AUROC is reported beside the implied one so a poor fit shows.
    The AUROC interval is a class-stratified bootstrap (both classes keep their counts).
    """
    pa = np.asarray(p, dtype=np.float64)
    ya = np.asarray(y)
    if pa.ndim != 1 or pa.shape != ya.shape:
        raise ValueError(f"p and y must be (n,) arrays of one length, got {pa.shape}, {ya.shape}")
    if not np.all(np.isfinite(pa)) or np.any((pa < 0) | (pa > 1)):
        raise ValueError("p must be probabilities in [0, 1]")
    if not np.all(np.isin(ya, [0, 1])):
        raise ValueError("y must be 0/1 labels")
    yb = ya.astype(bool)
    n1, n0 = int(yb.sum()), int((~yb).sum())
    if min(n0, n1) < 2:
        raise ValueError(f"fit_binormal needs >= 2 studies of each class, got {n0} normal, {n1} abnormal")
    z = _logit(pa)
    mu0, sd0, mu1, sd1 = _class_moments(z, yb)
    ci = None
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        idx0, idx1 = np.flatnonzero(~yb), np.flatnonzero(yb)
        reps = np.empty(n_boot)
        for b in range(n_boot):
            w = np.zeros(z.size)
            np.add.at(w, rng.choice(idx0, n0), 1.0)
            np.add.at(w, rng.choice(idx1, n1), 1.0)
            reps[b] = binormal_auroc(*_class_moments(z, yb, w))
        ci = percentile_interval(reps, CI_LEVEL)
    return Binormal(mu0=mu0, sd0=sd0, mu1=mu1, sd1=sd1, prevalence=n1 / (n0 + n1), n=n0 + n1,
                    auroc_ci=ci, empirical_auroc=float(empirical_auroc(yb.astype(np.int8), pa)))


# ----------------------------------------------------------------------------- 2. one point
@dataclass(frozen=True)
class CertifiedMultiplier:
    """The throughput multiplier at one (pile prevalence, AUROC), over reference redraws.

    per_redraw_*: one value per independent reference set (each multiplier is the mean of
    n_reps replications on the same pile). median / spread_low / spread_high: over redraws.
    mean, ci_low, ci_high: grand mean and 95% Student-t interval of the redraw means (they are
    the independent units, and each carries its replication noise); with one redraw, the
    simulator's interval over replications. low = min(ci_low, spread_low): the conservative end
    `answer_sentence` uses. certified: every redraw's bound held (n_certified of n_redraws).
    days_with / days_without: median over redraws of the mean reading days to clear the pile.
    """

    prevalence: float
    reference_prevalence: float
    auroc: float
    n_reference: int
    pile_size: int
    alpha: float
    delta: float
    audit_fraction: float
    n_reps: int
    n_redraws: int
    median: float
    mean: float
    ci_low: float
    ci_high: float
    spread_low: float
    spread_high: float
    low: float
    auto_normal_share: float  # median over redraws: share of the pile in the auto-normal bucket
    auto_cleared_share: float  # median: share of the pile dispositioned unread (after audits)
    certified: bool
    n_certified: int
    days_with: float
    days_without: float
    missed_per_1000_auto_cleared: float | None  # realised on the pile (truth known), mean
    per_redraw_multiplier: tuple[float, ...]
    per_redraw_auto_normal_share: tuple[float, ...]
    per_redraw_certified: tuple[bool, ...]
    per_redraw_bound: tuple[float | None, ...]  # the policy's certified upper bound (None: none)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            if isinstance(v, tuple):
                d[k] = [x if isinstance(x, bool) else _num(x) for x in v]
            elif isinstance(v, bool | int):
                d[k] = v
            else:
                d[k] = _num(v)
        return d


def _check_fraction(name: str, v: float, open_: bool = True) -> float:
    ok = 0.0 < v < 1.0 if open_ else 0.0 <= v <= 1.0
    if not (math.isfinite(v) and ok):
        raise ValueError(f"{name} must be in {'(0, 1)' if open_ else '[0, 1]'}, got {v!r}")
    return float(v)


def certified_multiplier(
    model: Binormal, *, prevalence: float, auroc: float | None = None, n_reference: int,
    staffing: Staffing, reference_prevalence: float | None = None, alpha: float = 0.01,
    delta: float = 0.05, audit_fraction: float = 0.05, pile_size: int = 30_000, n_reps: int = 3,
    n_redraws: int = 3, seed: int = 0, uncertain_order: str = DEFAULT_UNCERTAIN_ORDER,
) -> CertifiedMultiplier:
    """Certified throughput multiplier of `model` (moved to `auroc` if given) on a pile at
    `prevalence`.

    Per redraw r: a reference set of n_reference (Bernoulli labels at reference_prevalence,
    default the pile's: a labelled sample of the pile itself) -> AbstentionPolicy(alpha, delta)
    (with deploy_prior=prevalence when the reference prevalence differs, i.e. the label-shift
    adjusted bound) -> the pile's buckets -> sim.simulate(auto_clear, miss_bound_ok=feasible_).
    The pile (exact prevalence) and the simulator's seed are shared by all redraws, so the spread
    across redraws is the reference sample's doing. Seeds depend on `seed` only (not on
    pile_size, prevalence or auroc): cells of a grid share their noise.
    """
    prevalence = _check_fraction("prevalence", prevalence)
    ref_prev = prevalence if reference_prevalence is None else _check_fraction(
        "reference_prevalence", reference_prevalence)
    if int(n_reference) != n_reference or n_reference < 2:
        raise ValueError(f"n_reference must be an integer >= 2, got {n_reference!r}")
    for name, v in (("pile_size", pile_size), ("n_reps", n_reps), ("n_redraws", n_redraws)):
        if int(v) != v or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    m = model if auroc is None else model.with_auroc(auroc)
    pile_ss, sim_ss, ref_ss = np.random.SeedSequence(seed).spawn(3)
    sim_seed = int(sim_ss.generate_state(1)[0])
    p_pile, y_pile = m.sample(pile_size, prevalence, np.random.default_rng(pile_ss), exact=True)
    key = uncertain_order_key(p_pile, uncertain_order)
    deploy = None if reference_prevalence is None or ref_prev == prevalence else prevalence
    mult, share, cleared, cert, bound, d_with, d_without, missed = ([] for _ in range(8))
    rep_ci: tuple[float, float] = (math.nan, math.nan)
    for ss in ref_ss.spawn(int(n_redraws)):
        p_ref, y_ref = m.sample(int(n_reference), ref_prev, np.random.default_rng(ss))
        if y_ref.all() or not y_ref.any():  # a one-class reference set certifies nothing
            pol = None
            buckets = np.full(pile_size, Bucket.UNCERTAIN, dtype=np.int8)
            feasible = False
        else:
            pol = AbstentionPolicy(alpha=alpha, delta=delta, deploy_prior=deploy).fit(
                p_ref, y_ref.astype(np.int8))
            buckets = pol.assign(p_pile)
            feasible = bool(pol.feasible_)
        res = simulate(Worklist(bucket=buckets, order_key=key, is_abnormal=y_pile), "auto_clear",
                       staffing, n_reps=int(n_reps), seed=sim_seed, audit_fraction=audit_fraction,
                       miss_bound_ok=feasible)
        tm = res.metrics["throughput_multiplier"]
        mult.append(tm.mean)
        rep_ci = (tm.ci_low, tm.ci_high)
        share.append(float(np.mean(buckets == Bucket.AUTO_NORMAL)))
        cleared.append(res.mean("auto_cleared") / pile_size)
        cert.append(feasible)
        bound.append(_num(pol.bound_) if pol is not None and feasible else None)
        d_with.append(res.mean("days_to_clear"))
        d_without.append(res.mean("days_to_clear_no_ai"))
        missed.append(res.mean("missed_per_1000_auto_cleared"))
    x = np.asarray(mult)
    lo, hi = t_interval(x, CI_LEVEL) if x.size >= 2 else rep_ci
    missed_ok = [v for v in missed if math.isfinite(v)]
    return CertifiedMultiplier(
        prevalence=prevalence, reference_prevalence=ref_prev, auroc=m.auroc,
        n_reference=int(n_reference), pile_size=int(pile_size), alpha=alpha, delta=delta,
        audit_fraction=audit_fraction, n_reps=int(n_reps), n_redraws=int(n_redraws),
        median=float(np.median(x)), mean=float(x.mean()), ci_low=float(lo), ci_high=float(hi),
        spread_low=float(x.min()), spread_high=float(x.max()), low=float(min(lo, x.min())),
        auto_normal_share=float(np.median(share)), auto_cleared_share=float(np.median(cleared)),
        certified=all(cert), n_certified=int(sum(cert)), days_with=float(np.median(d_with)),
        days_without=float(np.median(d_without)),
        missed_per_1000_auto_cleared=float(np.mean(missed_ok)) if missed_ok else None,
        per_redraw_multiplier=tuple(float(v) for v in x),
        per_redraw_auto_normal_share=tuple(share), per_redraw_certified=tuple(cert),
        per_redraw_bound=tuple(bound),
    )


# ----------------------------------------------------------------------------- 4. ceiling
def ceiling(truly_normal_share: float | Sequence[float],
            audit_fraction: float) -> float | tuple[float, float]:
    """Multiplier of a perfect model: every truly normal study is cleared except the audits.

    The simulator's throughput_multiplier (sim.metrics) is dispositioned per reading hour under
    the policy over that under no_ai; both disposition the whole pile, so it is the ratio of
    days to clear, i.e. (studies read by no_ai) / (studies read by the policy) when read times
    do not depend on class or bucket: 1 / (1 - normal_share * (1 - audit_fraction)). (With
    Staffing class or bucket read multipliers the ratio of read *time* applies instead.)
    An interval (lo, hi) of the normal share gives the interval of the ceiling (it is increasing).
    """
    a = _check_fraction("audit_fraction", audit_fraction, open_=False)
    if isinstance(truly_normal_share, Sequence | np.ndarray) and not isinstance(truly_normal_share, str):
        lo, hi = (float(v) for v in truly_normal_share)
        if lo > hi:
            raise ValueError(f"interval must be (lo, hi) with lo <= hi, got {truly_normal_share!r}")
        return float(ceiling(lo, a)), float(ceiling(hi, a))
    s = _check_fraction("truly_normal_share", float(truly_normal_share), open_=False)
    read_share = 1.0 - s * (1.0 - a)
    return math.inf if read_share <= 0 else 1.0 / read_share


# ----------------------------------------------------------------------------- 3. the grid
@dataclass(frozen=True)
class DoublingGrid:
    """Pile prevalence x AUROC -> certified multiplier, where 2x becomes reachable, and the
    present model's point.

    cells[i][j]: prevalence i, AUROC j. auroc_for_2x[i]: smallest grid AUROC whose median
    multiplier is >= 2 (None: none in the grid); auroc_for_2x_conservative[i]: the same with
    `low` (the worst redraw / lower interval end). ceilings[i]: `ceiling(1 - prevalence)`.
    present_*: the fitted model as it is, at the pile's estimated prevalence, plus a grid row
    at that prevalence (present_row) so "what it would take" is read at the pile's own mix.
    """

    prevalences: tuple[float, ...]
    aurocs: tuple[float, ...]
    cells: tuple[tuple[CertifiedMultiplier, ...], ...]
    auroc_for_2x: tuple[float | None, ...]
    auroc_for_2x_conservative: tuple[float | None, ...]
    ceilings: tuple[float, ...]
    model: Binormal
    present_prevalence: float
    present_auroc: float
    present: CertifiedMultiplier
    present_row: tuple[CertifiedMultiplier, ...]
    present_auroc_for_2x: float | None
    present_auroc_for_2x_conservative: float | None
    present_ceiling: float
    settings: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def medians(self) -> list[list[float]]:
        return [[c.median for c in row] for row in self.cells]

    def answer(self) -> str:
        """`answer_sentence` at the present point."""
        return answer_sentence(
            multiplier=self.present, model_auroc=self.present_auroc,
            prevalence=self.present_prevalence, auroc_for_2x=self.present_auroc_for_2x,
            ceiling_value=self.present_ceiling,
            auroc_for_2x_reliable=self.present_auroc_for_2x_conservative,
            max_grid_auroc=max(self.aurocs),
            alpha=self.present.alpha)

    def to_dict(self) -> dict[str, Any]:
        return {
            "prevalences": list(self.prevalences), "aurocs": list(self.aurocs),
            "median_multiplier": [[_num(v) for v in row] for row in self.medians()],
            "low_multiplier": [[_num(c.low) for c in row] for row in self.cells],
            "cells": [[c.to_dict() for c in row] for row in self.cells],
            "auroc_for_2x": [_num(v) for v in self.auroc_for_2x],
            "auroc_for_2x_conservative": [_num(v) for v in self.auroc_for_2x_conservative],
            "ceilings": [_num(v) for v in self.ceilings],
            "model": self.model.to_dict(),
            "present": {
                "prevalence": self.present_prevalence, "auroc": _num(self.present_auroc),
                "multiplier": self.present.to_dict(),
                "row": [c.to_dict() for c in self.present_row],
                "auroc_for_2x": _num(self.present_auroc_for_2x),
                "auroc_for_2x_conservative": _num(self.present_auroc_for_2x_conservative),
                "ceiling": _num(self.present_ceiling),
                "answer": self.answer(),
            },
            "settings": self.settings, "elapsed_s": self.elapsed_s,
            "rule": "2x reachable: median multiplier over reference redraws >= 2; conservative: "
                    "min(lower 95% interval end, worst redraw) >= 2",
        }


def _frontier(row: Sequence[CertifiedMultiplier], aurocs: Sequence[float],
              conservative: bool) -> float | None:
    for a, c in zip(aurocs, row, strict=True):
        if (c.low if conservative else c.median) >= TARGET:
            return float(a)
    return None


def doubling_grid(
    model: Binormal, prevalences: Sequence[float] = DEFAULT_PREVALENCES,
    aurocs: Sequence[float] = DEFAULT_AUROCS, *, n_reference: int, alpha: float = 0.01,
    delta: float = 0.05, audit_fraction: float = 0.05, staffing: Staffing,
    pile_size: int = 30_000, n_reps: int = 3, n_redraws: int = 3, seed: int = 0,
    pile_prevalence: float | None = None, reference_prevalence: float | None = None,
) -> DoublingGrid:
    """Certified multiplier over pile prevalence x AUROC (same shape as `model`), the 2x frontier
    at each prevalence, and the present model at `pile_prevalence` (the pile's estimated
    prevalence, e.g. `triage_ray.abstain.estimate_prior_em` on its scores; default: the
    prevalence of the data the model was fitted on).

    Every cell uses the same `seed` (common random numbers), so differences between cells are the
    model's, not sampling noise. Default sizes run in ~5-6 s on 2 cores (module docstring).
    """
    t0 = time.perf_counter()
    prevs = tuple(float(v) for v in prevalences)
    aucs = tuple(sorted(float(v) for v in aurocs))
    if not prevs or not aucs:
        raise ValueError("prevalences and aurocs must be non-empty")
    kw = dict(n_reference=n_reference, staffing=staffing, reference_prevalence=reference_prevalence,
              alpha=alpha, delta=delta, audit_fraction=audit_fraction, pile_size=pile_size,
              n_reps=n_reps, n_redraws=n_redraws, seed=seed)

    def row(prev: float) -> tuple[CertifiedMultiplier, ...]:
        return tuple(certified_multiplier(model, prevalence=prev, auroc=a, **kw) for a in aucs)

    cells = tuple(row(p) for p in prevs)
    present_prev = model.prevalence if pile_prevalence is None else _check_fraction(
        "pile_prevalence", pile_prevalence)
    present_row = cells[prevs.index(present_prev)] if present_prev in prevs else row(present_prev)
    present = certified_multiplier(model, prevalence=present_prev, **kw)
    return DoublingGrid(
        prevalences=prevs, aurocs=aucs, cells=cells,
        auroc_for_2x=tuple(_frontier(r, aucs, False) for r in cells),
        auroc_for_2x_conservative=tuple(_frontier(r, aucs, True) for r in cells),
        ceilings=tuple(float(ceiling(1.0 - p, audit_fraction)) for p in prevs),
        model=model, present_prevalence=present_prev, present_auroc=model.auroc, present=present,
        present_row=present_row, present_auroc_for_2x=_frontier(present_row, aucs, False),
        present_auroc_for_2x_conservative=_frontier(present_row, aucs, True),
        present_ceiling=float(ceiling(1.0 - present_prev, audit_fraction)),
        settings={"n_reference": int(n_reference), "alpha": alpha, "delta": delta,
                  "audit_fraction": audit_fraction, "pile_size": int(pile_size),
                  "n_reps": int(n_reps), "n_redraws": int(n_redraws), "seed": int(seed),
                  "reference_prevalence": reference_prevalence, "staffing": staffing.to_dict()},
        elapsed_s=time.perf_counter() - t0,
    )


# ----------------------------------------------------------------------------- 5. costs
@dataclass(frozen=True)
class NetCosts:
    """Reading days (of the configured pool: staffing.reads_per_day reads each) won and spent.

    pile: net_days_saved = (days_without - days_with) - reference_days - extra_audit_days.
    inflow: daily_saving_days = inflow / reads_per_day * (1 - 1 / multiplier) - extra audit
    reads per day / reads_per_day; break_even_day = reference_days / daily_saving_days (None:
    never, when the multiplier is <= 1 or the saving is not positive).
    """

    reads_per_day: float
    days_without: float
    days_with: float
    gross_days_saved: float
    reference_reads: int
    reference_days: float
    extra_audit_reads_per_day: float
    extra_audit_days: float
    net_days_saved: float
    inflow_per_day: float
    multiplier: float
    daily_saving_days: float
    break_even_day: float | None
    audit_accounting: str

    def to_dict(self) -> dict[str, Any]:
        return {k: v if isinstance(v, str | int) and not isinstance(v, bool) else _num(v)
                for k, v in self.__dict__.items()}


AUDITS_IN_SIM = ("audit reads are inside the simulation: under auto_clear the simulator reads the "
                 "audit_fraction sample of auto-normal studies, so they are already in days_with "
                 "and in the multiplier; nothing is added for them")
AUDITS_EXTRA = ("audit_reads_per_day are reads outside the simulation (e.g. a QA sample on top of "
                "the simulated audit_fraction): charged for each of the days_with days on the "
                "pile and subtracted from each inflow day's saving")


def net_of_costs(*, days_with: float, days_without: float, reference_reads: int,
                 audit_reads_per_day: float | None, staffing: Staffing,
                 inflow_per_day: float = 1080.0, multiplier: float) -> NetCosts:
    """What the model saves once the reference set that certifies it is paid for.

    Why: a certified auto-normal bucket needs reference labels, and those are radiologist reads
    too (two readers plus an arbiter cost ~2.1-2.2 reads per study; pass the total). Units:
    reading days of the configured pool, reads / staffing.reads_per_day (1,080 by default);
    days_with / days_without are the simulator's days_to_clear / days_to_clear_no_ai.
    audit_reads_per_day=None: the audits are the simulator's own (already in days_with and the
    multiplier; not counted twice). A number: extra audit reads outside the simulation.
    """
    rpd = staffing.reads_per_day
    for name, v in (("days_with", days_with), ("days_without", days_without),
                    ("inflow_per_day", inflow_per_day), ("multiplier", multiplier)):
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
    if multiplier <= 0:
        raise ValueError(f"multiplier must be > 0, got {multiplier!r}")
    if int(reference_reads) != reference_reads or reference_reads < 0:
        raise ValueError(f"reference_reads must be an integer >= 0, got {reference_reads!r}")
    extra = 0.0 if audit_reads_per_day is None else float(audit_reads_per_day)
    if not (math.isfinite(extra) and extra >= 0):
        raise ValueError(f"audit_reads_per_day must be >= 0 or None, got {audit_reads_per_day!r}")
    ref_days = reference_reads / rpd
    extra_days = extra * days_with / rpd
    gross = days_without - days_with
    daily = (inflow_per_day / rpd) * (1.0 - 1.0 / multiplier) - extra / rpd
    be = None if multiplier <= 1.0 or daily <= 0.0 else ref_days / daily
    return NetCosts(
        reads_per_day=rpd, days_without=float(days_without), days_with=float(days_with),
        gross_days_saved=gross, reference_reads=int(reference_reads), reference_days=ref_days,
        extra_audit_reads_per_day=extra, extra_audit_days=extra_days,
        net_days_saved=gross - ref_days - extra_days, inflow_per_day=float(inflow_per_day),
        multiplier=float(multiplier), daily_saving_days=daily, break_even_day=be,
        audit_accounting=AUDITS_IN_SIM if audit_reads_per_day is None else AUDITS_EXTRA,
    )


# ----------------------------------------------------------------------------- 6. the sentence
def _x(v: float) -> str:
    return f"{v:.2f} times"


def answer_sentence(*, multiplier: CertifiedMultiplier, model_auroc: float, prevalence: float,
                    auroc_for_2x: float | None, ceiling_value: float,
                    auroc_for_2x_reliable: float | None = None, max_grid_auroc: float | None = None,
                    alpha: float | None = None) -> str:
    """One plain sentence: does the model double effective radiologist throughput?

    Rule (conservative): "Yes" only if `multiplier.low` >= 2, i.e. the lower end of the 95%
    interval *and* the worst of the reference redraws both reach 2x; a median at or above 2
    with a lower end below it is still "No". Otherwise the sentence says what it would take:
    the grid AUROC at which 2x becomes reachable at this prevalence (`auroc_for_2x`, median rule;
    `auroc_for_2x_reliable`, if given, the conservative rule), or that even a perfect model tops
    out at `ceiling_value` below 2x. Written for a department lead: no statistics terms.
    """
    a = multiplier.alpha if alpha is None else alpha
    limit = f"1 in {round(1 / a):d}" if a > 0 and abs(1 / a - round(1 / a)) < 1e-9 else f"{a:.1%}"
    mix = f"with {prevalence:.0%} of studies abnormal"
    cleared = multiplier.auto_cleared_share
    what = (f"the model (AUROC {model_auroc:.2f}) clears {cleared:.0%} of studies unread while "
            f"keeping missed abnormal studies under {limit} of those cleared")
    if multiplier.n_certified == 0:
        what = (f"the reference set of {multiplier.n_reference:,} studies cannot show that the model "
                f"(AUROC {model_auroc:.2f}) can clear any studies while keeping missed abnormal "
                f"studies under {limit}, so nothing is cleared")
    n = multiplier.n_redraws
    spread = (f"{multiplier.spread_low:.2f} to {multiplier.spread_high:.2f} across {n} repeated "
              f"reference sets" if n > 1 else
              f"{multiplier.ci_low:.2f} to {multiplier.ci_high:.2f} across repeated simulations")
    speed = f"the radiologists get through the work about {_x(multiplier.median)} as fast ({spread})"
    if min(multiplier.low, multiplier.median) >= TARGET:
        return (f"Yes: {mix}, {what}, and {speed}, so it doubles effective radiologist throughput: "
                f"at least {_x(multiplier.low)} as fast even allowing for an unlucky reference set.")
    if ceiling_value < TARGET:
        need = (f"even a perfect model could reach only {_x(ceiling_value)} here, because every "
                f"abnormal study and the audit sample must still be read")
    elif auroc_for_2x is not None:
        need = (f"twice as fast becomes reachable at this mix once the model's AUROC reaches about "
                f"{auroc_for_2x:.3g} on a typical reference set")
        if auroc_for_2x_reliable is not None and auroc_for_2x_reliable != auroc_for_2x:
            need += f", and on every reference set tried at about {auroc_for_2x_reliable:.3g}"
    else:
        top = "" if max_grid_auroc is None else f" up to {max_grid_auroc:.3g}"
        need = (f"no model tried{top} reached twice as fast at this mix, although a perfect model "
                f"could reach {_x(ceiling_value)}")
    hedge = ", so a typical reference set gets there but an unlucky one does not" if (
        multiplier.median >= TARGET) else ""
    return f"No: {mix}, {what}, and {speed}{hedge}; {need}."
