"""Guarantee families: what "safe to clear unread" promises, each certified at level delta.

A threshold t clears every study with p < t. Deployments were judged under different standards,
so each is a family here, with its own risk as events k out of trials n at t:

- `npv`: of the cleared studies, the share the reference calls abnormal (k: reference-abnormal
  cleared; n: cleared). Today's standard (`rules.ltt_fixed_sequence`); it moves with prevalence,
  so a label-shift bound (`bounds.RateBound` with a prior) re-expresses it at the pile's.
- `sensitivity`: of the reference-abnormal studies, the share cleared (k: reference-abnormal
  cleared; n: reference-abnormal). A within-class rate: under label shift it does not move with
  prevalence, so no prior enters.
- `non_inferior`: of the reference-abnormal studies, the share that today's reading (the clinical
  read: the written label) called abnormal and the model would clear (k: those; n:
  reference-abnormal): the misses the system adds to reading everything. A cleared study the
  clinical read also called normal was missed already, and costs nothing extra.

Certification is Learn-then-Test with exact binomial (Clopper-Pearson) tests. For the two
families whose n is the fixed number of abnormal studies, k(t) and so the bound only grow with t:
the fixed sequence over every distinct score, lowest first, stops at the first failure, and the
threshold it keeps is the largest one whose bound is <= level. If the risk is continuous in t,
clearing a threshold whose risk exceeds the level needs the test at the point where the risk
first reaches it to pass, which happens with probability <= delta (tests/abstain/
test_guarantees.py measures it over 200 selection sets). By the arithmetic of the three,
non-inferiority's events are a subset of sensitivity's, so at one level it clears at least as
much; and 1 - NPV = prevalence x (1 - sensitivity) / share cleared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from triage_ray.abstain.bounds import RateBound
from triage_ray.abstain.rules import SelectionCounts, ltt_fixed_sequence
from triage_ray.common.stats import cp_upper


@dataclass(frozen=True)
class ReadStudies:
    """Scored studies with the reference's label and, where there is one, the clinical read's."""

    p: np.ndarray  # (n,) p(abnormal)
    reference: np.ndarray  # (n,) 0/1: the reference standard
    clinical: np.ndarray | None = None  # (n,) 0/1: today's reading (the written label)

    def __post_init__(self) -> None:
        n = len(self.p)
        for name in ("reference", "clinical"):
            v = getattr(self, name)
            if v is not None and len(v) != n:
                raise ValueError(f"{name}: {len(v)} labels for {n} scores")

    def cleared(self, t: float) -> np.ndarray:
        return np.asarray(self.p) < t


@dataclass(frozen=True)
class Certified:
    """A family's certified threshold (None: nothing clears), the bound on its risk there, and
    the events and trials the bound was computed from."""

    family: str
    level: float
    delta: float
    threshold: float | None
    bound: float
    k: int
    n: int
    note: str = ""


@dataclass(frozen=True)
class Guarantee:
    """One family: what its risk means, in words, and how to certify and measure it."""

    name: str
    risk: str  # the risk in words, for reports
    certify: Callable[[ReadStudies, float, float, float | None], Certified]
    realised: Callable[[ReadStudies, float], tuple[int, int]]  # (k, n) at a threshold
    needs_clinical: bool = False
    moves_with_prevalence: bool = False


GUARANTEES: dict[str, Guarantee] = {}


def register_guarantee(g: Guarantee) -> Guarantee:
    GUARANTEES[g.name] = g
    return g


def get_guarantee(name: str) -> Guarantee:
    if name not in GUARANTEES:
        raise ValueError(f"unknown guarantee family {name!r}; choose one of {sorted(GUARANTEES)}")
    return GUARANTEES[name]


def certify(family: str, studies: ReadStudies, level: float, delta: float,
            prior: float | None = None) -> Certified:
    """The largest threshold certified under `family` at risk <= `level` with probability
    >= 1 - delta. prior: the deployment prevalence, for the families that move with it."""
    g = get_guarantee(family)
    if not 0.0 < level < 1.0 or not 0.0 < delta < 1.0:
        raise ValueError(f"level and delta must be in (0, 1), got {level}, {delta}")
    if g.needs_clinical and studies.clinical is None:
        raise ValueError(f"the {family!r} guarantee needs today's reading of the reference "
                         "studies (the written label, or a clinical_label column)")
    return g.certify(studies, level, delta, prior if g.moves_with_prevalence else None)


# ------------------------------------------------------------------------------------ npv
def _npv_certify(s: ReadStudies, level: float, delta: float, prior: float | None) -> Certified:
    y = np.asarray(s.reference, dtype=np.int64)
    counts = SelectionCounts.build(np.asarray(s.p, dtype=np.float64), y)
    rate = RateBound(counts.n_pos, counts.n - counts.n_pos, prior)
    c = ltt_fixed_sequence(counts, rate, level, delta)
    n, k = (0, 0) if c.threshold is None else counts.below(np.array([c.threshold]))
    return Certified("npv", level, delta, c.threshold, c.bound, int(np.sum(k)), int(np.sum(n)),
                     c.note)


def _npv_realised(s: ReadStudies, t: float) -> tuple[int, int]:
    cleared = s.cleared(t)
    return int(np.asarray(s.reference)[cleared].sum()), int(cleared.sum())


register_guarantee(Guarantee(
    "npv", "share of the cleared studies that the reference calls abnormal",
    _npv_certify, _npv_realised, moves_with_prevalence=True))


# -------------------------------------------------------- families over the abnormal studies
def _over_abnormal(family: str, event: Callable[[ReadStudies], np.ndarray]):
    """certify and realised for a risk k(t) / n_abnormal, k counting `event` studies below t."""

    def realised(s: ReadStudies, t: float) -> tuple[int, int]:
        ev = event(s)
        return int((ev & s.cleared(t)).sum()), int(np.asarray(s.reference).astype(bool).sum())

    def run(s: ReadStudies, level: float, delta: float, prior: float | None) -> Certified:
        p = np.asarray(s.p, dtype=np.float64)
        n_abn = int(np.asarray(s.reference).astype(bool).sum())
        order = np.argsort(p, kind="stable")
        ps, ev = p[order], event(s)[order]
        d = np.unique(ps)
        t = np.append(d, np.nextafter(d[-1], np.inf))  # the last clears every study
        k = np.concatenate([[0], np.cumsum(ev)])[np.searchsorted(ps, t, side="left")]
        bound = cp_upper(k, np.full(k.shape, n_abn), delta)  # nondecreasing in t
        ok = np.flatnonzero(bound <= level)
        if n_abn == 0 or ok.size == 0 or ok[0] != 0:
            need = int(np.ceil(np.log(1 / delta) / level))
            return Certified(family, level, delta, None, 1.0, 0, n_abn,
                             f"{n_abn} reference-abnormal studies cannot bound the risk at "
                             f"{level:.3g} (about {need} are needed even with none cleared)"
                             if n_abn < need else "the lowest-scored study already fails")
        last = int(ok[-1])  # the fixed sequence: every earlier threshold passed
        return Certified(family, level, delta, float(t[last]), float(bound[last]), int(k[last]),
                         n_abn)

    return run, realised


def _abnormal(s: ReadStudies) -> np.ndarray:
    return np.asarray(s.reference).astype(bool)


def _added_miss(s: ReadStudies) -> np.ndarray:
    assert s.clinical is not None  # certify() checks this before any family runs
    return _abnormal(s) & np.asarray(s.clinical).astype(bool)


register_guarantee(Guarantee(
    "sensitivity", "share of the reference-abnormal studies that are cleared",
    *_over_abnormal("sensitivity", _abnormal)))
register_guarantee(Guarantee(
    "non_inferior", "share of the reference-abnormal studies that today's reading called "
    "abnormal and the model clears (the misses it adds)",
    *_over_abnormal("non_inferior", _added_miss), needs_clinical=True))
