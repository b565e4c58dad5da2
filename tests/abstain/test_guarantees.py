"""Guarantee families on a score model of known risk (binormal_scores): each family's certified
threshold keeps its risk within the level in >= 95% of selection sets (delta 0.05), the three
order as their arithmetic says, and a family that needs the clinical read says so."""

from __future__ import annotations

import numpy as np
import pytest
from binormal_scores import MU, draw, true_auto_normal_rate
from scipy.special import logit
from scipy.stats import norm

from triage_ray.abstain.guarantees import GUARANTEES, ReadStudies, certify

PRIOR, CLINICAL_SENS, CLINICAL_FPR = 0.4, 0.85, 0.1
N_SETS, N_SELECT, DELTA = 200, 3000, 0.05


def _studies(rng: np.random.Generator, n: int) -> ReadStudies:
    """The binormal model's studies with a clinical read that finds 85% of the abnormal ones
    (independently of the score) and calls 10% of the normal ones abnormal."""
    p, y = draw(rng, n, PRIOR)
    hit = rng.random(n) < np.where(y == 1, CLINICAL_SENS, CLINICAL_FPR)
    return ReadStudies(p, y, hit.astype(np.int64))


def _cleared_abnormal_share(t: float) -> float:
    """Exact P(p < t | abnormal) for scores calibrated at PRIOR."""
    s_t = (logit(min(t, 1 - 1e-16)) - logit(PRIOR)) / (2 * MU)
    return float(norm.cdf(s_t - MU))


TRUE_RISK = {
    "npv": lambda t: true_auto_normal_rate(t, PRIOR, PRIOR),
    "sensitivity": _cleared_abnormal_share,
    "non_inferior": lambda t: CLINICAL_SENS * _cleared_abnormal_share(t),
}
LEVEL = {"npv": 0.02, "sensitivity": 0.02, "non_inferior": 0.02}


@pytest.mark.parametrize("family", sorted(GUARANTEES))
def test_each_family_keeps_its_risk_within_the_level_in_95_percent_of_selection_sets(family):
    """Measured at commit time: held in 193-199 of 200 sets; the control, the largest threshold
    whose observed risk is within the level, broke it in 96-106 of 200."""
    rng = np.random.default_rng(11)
    held = certified = naive_broke = 0
    for _ in range(N_SETS):
        s = _studies(rng, N_SELECT)
        naive_broke += TRUE_RISK[family](_naive_threshold(family, s)) > LEVEL[family]
        c = certify(family, s, LEVEL[family], DELTA, prior=PRIOR)
        if c.threshold is None:
            held += 1  # clearing nothing keeps any promise
            continue
        certified += 1
        assert 0 <= c.k <= c.n and c.bound <= LEVEL[family]
        held += TRUE_RISK[family](c.threshold) <= LEVEL[family]
    assert held >= 0.95 * N_SETS, (family, held)
    assert certified >= 0.9 * N_SETS, (family, certified)  # and it does clear, not vacuous
    assert naive_broke >= 0.3 * N_SETS, (family, naive_broke)  # control: the test can fail


def _naive_threshold(family: str, s: ReadStudies) -> float:
    """NO GUARANTEE: the largest of every 10th score whose observed risk is within the level."""
    ts = np.unique(s.p)[::10]
    ok = [t for t in ts if (kn := GUARANTEES[family].realised(s, t))[1] and
          kn[0] / kn[1] <= LEVEL[family]]
    return max(ok) if ok else 0.0


def test_the_families_order_as_their_arithmetic_says():
    s = _studies(np.random.default_rng(12), 20_000)
    sens = certify("sensitivity", s, 0.02, DELTA)
    noninf = certify("non_inferior", s, 0.02, DELTA)
    assert noninf.threshold >= sens.threshold  # its events are a subset of sensitivity's
    t = sens.threshold
    k_npv, n_cleared = GUARANTEES["npv"].realised(s, t)
    k_sens, n_abn = GUARANTEES["sensitivity"].realised(s, t)
    prevalence, cleared = n_abn / len(s.p), n_cleared / len(s.p)
    # 1 - NPV = prevalence x (1 - sensitivity) / share cleared, here with 1 - sensitivity = k / n
    assert k_npv / n_cleared == pytest.approx(prevalence * (k_sens / n_abn) / cleared)
    # a stricter level clears less
    assert certify("sensitivity", s, 0.005, DELTA).threshold < t


def test_a_family_that_needs_the_clinical_read_or_a_known_name_says_so():
    p, y = draw(np.random.default_rng(13), 500, PRIOR)
    with pytest.raises(ValueError, match="today's reading"):
        certify("non_inferior", ReadStudies(p, y), 0.05, DELTA)
    with pytest.raises(ValueError, match="choose one of"):
        certify("specificity", ReadStudies(p, y), 0.05, DELTA)
    few = certify("sensitivity", ReadStudies(p[:40], y[:40]), 0.01, DELTA)
    assert few.threshold is None and "are needed" in few.note
