"""Threshold rules: how t_low (auto-normal) and t_high (priority) are chosen from labelled scores.

Two registries filled by decorators: `T_LOW_RULES` (the procedure behind the safety bound) and
`T_HIGH_RULES` (PPV or capacity target). All rules work on `SelectionCounts`: the selection split
sorted once, so the count of (abnormal) studies below/above any threshold is a binary search.

Why t_low needs a multiple-testing procedure: scanning thresholds and keeping the largest whose
Clopper-Pearson bound is <= alpha tests many hypotheses on one data set; the chance that *some*
threshold passes by luck is far above delta. `ltt_fixed_sequence` (default) tests thresholds in a
fixed order from the most conservative upward and stops at the first failure: the family-wise
error stays <= delta with no union bound (Learn-then-Test fixed-sequence testing, Angelopoulos
et al. 2021). Its order statistics grid is data-dependent, which is valid when the abnormal rate
below t does not decrease with t (true when P(abnormal | p) is nondecreasing in p, as for any
calibrated or merely monotone score). See docs/calibration.md for the argument.
`bonferroni_grid` needs no such assumption (a fixed grid, delta / G per threshold) but is more
conservative. `point_estimate` is the naive rule, kept to show that it breaks the promise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from triage_ray.abstain.bounds import RateBound

# Fixed, data-independent grid for `bonferroni_grid`: geometric in p(abnormal) (steps of ~35%),
# because useful t_low values for a 1% target sit in [1e-3, 1e-1]. More points buy resolution at
# the price of delta / G per test: 24 gave the best coverage of 16 / 24 / 32 / 100 on the
# binormal test model (tests/abstain/binormal_scores.py).
BONFERRONI_GRID = np.geomspace(1e-3, 1.0, 24)

# Where the fixed sequence starts: the lowest threshold at which a bucket holding this many
# abnormal studies could still pass. 0 starts earliest, but then one abnormal study among the
# ~300 lowest scores ends the sequence at once; 1 gave higher mean coverage and fewer infeasible
# fits at 3,000-20,000 selection studies on two synthetic score models (a count, not a label).
LTT_START_ABNORMAL = 1


@dataclass(frozen=True)
class SelectionCounts:
    """Selection-split scores sorted ascending, with cumulative abnormal counts."""

    p_sorted: np.ndarray  # (N,)
    cum_pos: np.ndarray  # (N + 1,): cum_pos[i] = abnormal among the i lowest scores

    @classmethod
    def build(cls, p: np.ndarray, y: np.ndarray) -> SelectionCounts:
        order = np.argsort(p, kind="stable")
        return cls(p[order], np.concatenate([[0], np.cumsum(y[order])]))

    @property
    def n(self) -> int:
        return int(self.p_sorted.shape[0])

    @property
    def n_pos(self) -> int:
        return int(self.cum_pos[-1])

    def below(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, k): studies with p < t and the abnormal ones among them, per threshold."""
        idx = np.searchsorted(self.p_sorted, t, side="left")
        return idx, self.cum_pos[idx]

    def at_or_above(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, k): studies with p >= t and the abnormal ones among them, per threshold."""
        idx = np.searchsorted(self.p_sorted, t, side="left")
        return self.n - idx, self.n_pos - self.cum_pos[idx]

    def distinct(self) -> np.ndarray:
        """Each distinct score, ascending: every threshold that gives a different bucket."""
        return np.unique(self.p_sorted)


@dataclass(frozen=True)
class Choice:
    """A rule's outcome: threshold (None = no threshold meets the target) and what it achieved."""

    threshold: float | None
    bound: float  # the bound at the chosen threshold, at the level the rule actually used
    n_tested: int  # hypotheses tested (the fixed sequence stops early)
    note: str = ""
    level: float | None = None  # error level of each single test (delta, or delta / G)


LowRule = Callable[[SelectionCounts, RateBound, float, float], Choice]
HighRule = Callable[..., Choice]
T_LOW_RULES: dict[str, LowRule] = {}
T_HIGH_RULES: dict[str, HighRule] = {}


def register_t_low_rule(name: str) -> Callable[[LowRule], LowRule]:
    def deco(fn: LowRule) -> LowRule:
        T_LOW_RULES[name] = fn
        return fn

    return deco


def register_t_high_rule(name: str) -> Callable[[HighRule], HighRule]:
    def deco(fn: HighRule) -> HighRule:
        T_HIGH_RULES[name] = fn
        return fn

    return deco


def first_index(test: Callable[[np.ndarray], np.ndarray], start: int, stop: int,
                want: bool) -> int:
    """First i in [start, stop) with test(i) == want, or stop; evaluates in growing blocks.

    `test` maps an index array to a bool array. The fixed sequence usually stops within a few
    hundred thresholds, so evaluating lazily avoids thousands of beta-quantile inversions.
    """
    i, block = start, 256
    while i < stop:
        idx = np.arange(i, min(i + block, stop))
        hit = np.flatnonzero(test(idx) == want)
        if hit.size:
            return int(idx[hit[0]])
        i, block = int(idx[-1]) + 1, block * 2
    return stop


def fixed_sequence(passes: Callable[[np.ndarray], np.ndarray], start: int,
                   stop: int) -> tuple[int | None, int]:
    """Test hypotheses start, start+1, ... < stop in order; stop at the first failure.

    Returns (index of the last rejected null, or None; number of hypotheses tested).
    """
    fail = first_index(passes, start, stop, want=False)
    n_tested = min(fail - start + 1, stop - start)
    return (fail - 1 if fail > start else None), n_tested


# ------------------------------------------------------------------------------ t_low rules
def _low_candidates(c: SelectionCounts) -> np.ndarray:
    # every distinct score, plus one just above the maximum (all studies auto-normal)
    d = c.distinct()
    return np.append(d, np.nextafter(d[-1], np.inf))


@register_t_low_rule("ltt_fixed_sequence")
def ltt_fixed_sequence(c: SelectionCounts, rate: RateBound, alpha: float, delta: float) -> Choice:
    """Learn-then-Test fixed-sequence testing over every distinct score, lowest first, level delta.

    The sequence starts at the first threshold where a bucket with LTT_START_ABNORMAL abnormal
    studies would pass. That start depends only on how many studies lie below each threshold,
    never on their labels or on where the scores fall.
    """
    t = _low_candidates(c)
    n, k = c.below(t)

    def possible(i: np.ndarray) -> np.ndarray:
        k_start = np.minimum(n[i], np.maximum(LTT_START_ABNORMAL, n[i] - rate.n_neg))
        return rate.abnormal_upper(n[i], k_start, delta) <= alpha

    def passes(i: np.ndarray) -> np.ndarray:
        return rate.abnormal_upper(n[i], k[i], delta) <= alpha

    start = first_index(possible, 0, t.size, want=True)
    if start == t.size:
        return Choice(None, 1.0, 0, f"too few studies: even with {LTT_START_ABNORMAL} abnormal "
                      "study below a threshold the bound exceeds alpha")
    last, n_tested = fixed_sequence(passes, start, t.size)
    if last is None:
        b = float(rate.abnormal_upper(n[start], k[start], delta))
        return Choice(None, 1.0, n_tested,
                      f"first threshold tested ({t[start]:.4g}, {n[start]} studies below) has "
                      f"bound {b:.4g} > alpha")
    return Choice(float(t[last]), float(rate.abnormal_upper(n[last], k[last], delta)), n_tested,
                  level=delta)


@register_t_low_rule("bonferroni_grid")
def bonferroni_grid(c: SelectionCounts, rate: RateBound, alpha: float, delta: float) -> Choice:
    """Clopper-Pearson at delta / G on a fixed grid of G thresholds; the largest passing one.

    Union bound over a data-independent grid: valid without any monotonicity assumption.
    """
    t = BONFERRONI_GRID
    n, k = c.below(t)
    bounds = rate.abnormal_upper(n, k, delta / t.size)
    ok = np.flatnonzero(bounds <= alpha)
    if ok.size == 0:
        return Choice(None, 1.0, int(t.size), "no grid threshold meets the bound")
    return Choice(float(t[ok[-1]]), float(bounds[ok[-1]]), int(t.size), level=delta / t.size)


@register_t_low_rule("point_estimate")
def point_estimate(c: SelectionCounts, rate: RateBound, alpha: float, delta: float) -> Choice:
    """NO GUARANTEE: the largest threshold whose observed abnormal rate is <= alpha.

    Kept as the baseline that tests show fails the promise; `bound` reports the honest
    Clopper-Pearson bound (level delta) at the threshold it picks.
    """
    t = _low_candidates(c)
    n, k = c.below(t)
    ok = np.flatnonzero((n > 0) & (rate.abnormal_upper(n, k, None) <= alpha))
    if ok.size == 0:
        return Choice(None, 1.0, int(t.size), "no threshold has an observed rate <= alpha")
    j = ok[-1]
    return Choice(float(t[j]), float(rate.abnormal_upper(n[j], k[j], delta)), int(t.size),
                  level=delta)


# ----------------------------------------------------------------------------- t_high rules
@register_t_high_rule("ppv")
def ppv_rule(c: SelectionCounts, rate: RateBound, *, delta: float, target_ppv: float,
             **_: object) -> Choice:
    """Lowest t_high whose priority bucket (p >= t_high) has a (1 - delta) lower PPV bound
    >= target_ppv; same fixed-sequence procedure, from the highest threshold downward."""
    if not 0.0 < target_ppv < 1.0:
        raise ValueError(f"target_ppv must be in (0, 1), got {target_ppv}")
    t = c.distinct()[::-1]  # most conservative (smallest priority bucket) first
    n, k = c.at_or_above(t)

    def possible(i: np.ndarray) -> np.ndarray:
        return rate.abnormal_lower(n[i], np.minimum(n[i], rate.n_pos), delta) >= target_ppv

    def passes(i: np.ndarray) -> np.ndarray:
        return rate.abnormal_lower(n[i], k[i], delta) >= target_ppv

    start = first_index(possible, 0, t.size, want=True)
    if start == t.size:
        return Choice(None, 0.0, 0, "too few abnormal studies to certify the PPV target")
    last, n_tested = fixed_sequence(passes, start, t.size)
    if last is None:
        return Choice(None, 0.0, n_tested, "no threshold certifies the PPV target")
    return Choice(float(t[last]), float(rate.abnormal_lower(n[last], k[last], delta)), n_tested)


@register_t_high_rule("capacity")
def capacity_rule(c: SelectionCounts, rate: RateBound, *, delta: float,
                  capacity_fraction: float | None, **_: object) -> Choice:
    """Lowest t_high whose priority bucket holds at most `capacity_fraction` of the studies
    (the share a reading room can take first); `bound` is the (1 - delta) lower PPV bound."""
    if capacity_fraction is None or not 0.0 < capacity_fraction <= 1.0:
        raise ValueError(f"capacity_fraction must be in (0, 1] for the capacity rule, "
                         f"got {capacity_fraction}")
    t = c.distinct()
    n, k = c.at_or_above(t)
    ok = np.flatnonzero(n <= capacity_fraction * c.n)
    if ok.size == 0:
        return Choice(None, 0.0, int(t.size), "ties at the top score exceed the capacity")
    j = ok[0]
    return Choice(float(t[j]), float(rate.abnormal_lower(n[j], k[j], delta)), int(t.size))
