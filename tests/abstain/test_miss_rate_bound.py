"""The safety promise, tested statistically: over many resampled selection sets, the true abnormal
rate among auto-normal studies exceeds alpha in at most ~delta of the draws.

Each test counts exceedances over M independent draws (fixed seed) and compares the count with a
one-sided binomial limit: if the procedure were valid (exceedance probability <= delta), a count
above LIMIT would happen with probability < 1%. The naive point-estimate rule is run through the
same check and must FAIL it, which shows the check has teeth.
"""

from __future__ import annotations

import numpy as np
import pytest
from binormal_scores import draw, true_auto_normal_rate
from scipy.stats import binom

from triage_ray.abstain import AbstentionPolicy

ALPHA, DELTA = 0.01, 0.05
M = 200  # resampled selection sets per procedure
N_SELECT = 3000  # studies per selection set
PRIOR = 0.3
LIMIT = int(binom.ppf(0.99, M, DELTA))  # 18 of 200: exceeded < 1% of the time if valid
# label shift 30% -> 45%: certifying 1% at 45% needs ~0.5% among selection studies, so more
# studies per set and (for time) fewer sets
M_SHIFT, N_SELECT_SHIFT = 100, 10_000
LIMIT_SHIFT = int(binom.ppf(0.99, M_SHIFT, DELTA))  # 11 of 100


def exceedances(rule: str, *, seed: int, prior: float = PRIOR, deploy_prior: float = PRIOR,
                policy_prior: float | None = None, n: int = N_SELECT,
                m: int = M) -> tuple[int, float]:
    """(# draws whose true auto-normal abnormal rate > ALPHA, mean auto-normal coverage)."""
    rng = np.random.default_rng(seed)
    bad, coverage = 0, []
    for _ in range(m):
        p, y = draw(rng, n, prior)
        pol = AbstentionPolicy(alpha=ALPHA, delta=DELTA, t_low_rule=rule, t_high_rule="capacity",
                               capacity_fraction=0.2, deploy_prior=policy_prior).fit(p, y)
        if pol.feasible_:
            bad += true_auto_normal_rate(pol.t_low_, prior, deploy_prior) > ALPHA
        coverage.append(pol.coverage_["auto_normal"])
    return bad, float(np.mean(coverage))


@pytest.mark.parametrize(("rule", "min_coverage"),
                         [("ltt_fixed_sequence", 0.10), ("bonferroni_grid", 0.02)])
def test_bound_holds_over_resampled_selection_sets(rule: str, min_coverage: float) -> None:
    bad, coverage = exceedances(rule, seed=11)
    assert bad <= LIMIT, f"{rule}: true rate > alpha in {bad}/{M} draws (limit {LIMIT})"
    # valid but useless (always infeasible) would also pass the first check
    assert coverage > min_coverage, f"{rule}: mean auto-normal coverage {coverage:.3f}"


def test_naive_point_estimate_rule_breaks_the_promise() -> None:
    bad, _ = exceedances("point_estimate", seed=11)
    assert bad > LIMIT, f"the check should reject the naive rule, got {bad}/{M}"


def test_label_shift_bound_holds_at_higher_deployment_prevalence() -> None:
    # selection data at 30% abnormal; deployed where 45% are abnormal (scores keep their p)
    bad, coverage = exceedances("ltt_fixed_sequence", seed=12, deploy_prior=0.45,
                                policy_prior=0.45, n=N_SELECT_SHIFT, m=M_SHIFT)
    assert bad <= LIMIT_SHIFT, f"label-shift bound: true rate > alpha in {bad}/{M_SHIFT} draws"
    assert coverage > 0.05


def test_ignoring_the_shift_breaks_the_promise() -> None:
    bad, _ = exceedances("ltt_fixed_sequence", seed=12, deploy_prior=0.45, policy_prior=None,
                         n=N_SELECT_SHIFT, m=M_SHIFT)
    assert bad > LIMIT_SHIFT, f"thresholds from 30% data should fail at 45%, got {bad}/{M_SHIFT}"
