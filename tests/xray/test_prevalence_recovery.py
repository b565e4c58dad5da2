"""The pile's prevalence is recovered by EM and BBSE from a model no better than a trained one.

Held-out logits (calib/select/test) come from a labelled pool at the NIH prior (0.465); the piles
(n = 30,000) are drawn at written-label prevalences 0.30 and 0.60 from the same class-conditional
logit model: binormal, equal variance, AUROC 0.8, overconfident and shifted as a trained network's
logits are (so Platt scaling has work to do). Only the label mix changes, which is the
label-shift assumption both estimators rest on.

Sizes: at AUROC 0.8 the estimators' sampling SD has a floor of about 0.0065 set by the pile
(30,000 studies) and grows with smaller calib/select sets: at the default run's held-out sizes
(calib 1,600, select 4,800) it is about 0.017 for EM and 0.016 for BBSE (measured over 30 seeds),
so a 0.02 tolerance would pass by luck about half the time. The held-out sets here are large
enough (SD about 0.007, the tolerance about 3 SD; all four estimates within 0.02 on 30 of 30
seeds) that the test pins bias, not luck.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from triage_ray.train.heldout import HeldOutLogits
from triage_ray.xray.pile import estimate_pile_prior

AUROC = 0.8
SEPARATION = np.sqrt(2) * norm.ppf(AUROC)  # binormal equal-variance: AUROC = Phi(d / sqrt 2)
SCALE, OFFSET = 1.6, -0.4  # overconfident and biased logits, as a trained model gives
LABELLED_PRIOR = 0.465
PILE_N = 30_000
TOLERANCE = 0.02
HELD_SIZES = {"calib": 40_000, "select": 100_000, "test": 40_000}
DEFAULT_RUN_SIZES = {"calib": 1_600, "select": 4_800, "test": 1_600}  # 16,000 studies x 0.1 / 0.3


def _draw(rng: np.random.Generator, n: int, prior: float) -> tuple[np.ndarray, np.ndarray]:
    """Exactly round(prior * n) abnormal studies, logits from the fixed class-conditional model."""
    n_abn = int(round(prior * n))
    y = rng.permutation(np.r_[np.ones(n_abn), np.zeros(n - n_abn)]).astype(np.int8)
    z = (rng.normal(0.0, 1.0, n) + np.where(y == 1, SEPARATION / 2, -SEPARATION / 2)) * SCALE + OFFSET
    return y, z.astype(np.float32)


def _held(rng: np.random.Generator, sizes: dict[str, int]) -> HeldOutLogits:
    parts = {s: _draw(rng, n, LABELLED_PRIOR) for s, n in sizes.items()}
    return HeldOutLogits(
        study_id={s: np.array([f"{s}{i}" for i in range(len(y))]) for s, (y, _) in parts.items()},
        label={s: y for s, (y, _) in parts.items()},
        logit={s: z for s, (_, z) in parts.items()},
    )


@pytest.fixture(scope="module")
def held() -> HeldOutLogits:
    return _held(np.random.default_rng(20240601), HELD_SIZES)


def test_logit_model_is_as_good_as_a_trained_model(held):
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(held.label["select"], held.logit["select"])
    assert abs(auc - AUROC) < 0.01
    assert abs(held.label["calib"].mean() - LABELLED_PRIOR) < 0.001


@pytest.mark.slow
@pytest.mark.parametrize(("prevalence", "seed"), [(0.30, 11), (0.60, 12)])
def test_em_and_bbse_recover_the_pile_prevalence(held, prevalence, seed):
    y, z = _draw(np.random.default_rng(seed), PILE_N, prevalence)
    assert y.mean() == pytest.approx(prevalence)
    shift = estimate_pile_prior(z, held, seed=seed)
    assert abs(shift["em"]["value"] - prevalence) < TOLERANCE, shift["em"]
    assert shift["bbse"]["value"] is not None, shift["bbse"]
    assert abs(shift["bbse"]["value"] - prevalence) < TOLERANCE, shift["bbse"]
    assert shift["n_pile"] == PILE_N


@pytest.mark.slow
def test_em_interval_covers_the_truth_at_default_run_sizes():
    covered = []
    for seed in range(12):
        rng = np.random.default_rng(1000 + seed)
        held = _held(rng, DEFAULT_RUN_SIZES)
        _, z = _draw(rng, PILE_N, 0.30)
        em = estimate_pile_prior(z, held, seed=seed)["em"]
        covered.append(em["ci_low"] <= 0.30 <= em["ci_high"])
    assert np.mean(covered) >= 0.75, covered


def test_patient_clustered_calibration_widens_the_em_interval():
    """Follow-up images of one patient are not independent draws. Here each calib patient's four
    studies are copies of one (the extreme of clustering): resampling studies treats them as four
    draws and narrows EM's interval; resampling patients gives the width of the one draw."""
    from triage_ray.train.heldout import HeldOutLogits

    rng = np.random.default_rng(77)
    held = _held(rng, DEFAULT_RUN_SIZES)
    keep = held.label["calib"].size // 4
    rep = {k: dict(getattr(held, k)) for k in ("study_id", "label", "logit")}
    for k in rep:
        rep[k]["calib"] = np.repeat(getattr(held, k)["calib"][:keep], 4)
    clustered = HeldOutLogits(rep["study_id"], rep["label"], rep["logit"])
    _, z = _draw(rng, PILE_N, 0.40)
    patients = np.repeat(np.arange(keep), 4)
    by_study = estimate_pile_prior(z, clustered, seed=1)["em"]
    by_patient = estimate_pile_prior(z, clustered, seed=1, calib_patients=patients)["em"]
    assert by_patient["value"] == by_study["value"]
    assert (by_patient["ci_high"] - by_patient["ci_low"]) > 1.5 * (by_study["ci_high"]
                                                                   - by_study["ci_low"])
