"""The pile stage on synthetic logits with known truth (no Ray): prevalence, safety, count in = out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from triage_ray.train.heldout import HeldOutLogits
from triage_ray.xray.config import XrayConfig
from triage_ray.xray.pile import build_worklist, score_pile
from triage_ray.xray.score import score_heldout

OFFSET = -1.2  # a biased model: every logit shifted down (temperature scaling cannot remove it)


def _logits(rng: np.random.Generator, n: int, prior: float) -> tuple[np.ndarray, np.ndarray]:
    y = (rng.random(n) < prior).astype(np.int8)
    z = rng.normal(np.where(y == 1, 2.5, -2.5), 1.6) * 1.7 + OFFSET  # AUROC ~0.98, overconfident
    return y, z.astype(np.float32)


@pytest.fixture(scope="module")
def held() -> HeldOutLogits:
    rng = np.random.default_rng(0)
    parts = {s: _logits(rng, n, 0.46) for s, n in (("calib", 3000), ("select", 8000), ("test", 3000))}
    return HeldOutLogits(
        study_id={s: np.array([f"{s}{i}" for i in range(len(y))]) for s, (y, _) in parts.items()},
        label={s: y for s, (y, _) in parts.items()},
        logit={s: z for s, (_, z) in parts.items()},
    )


@pytest.fixture(scope="module")
def scored(held):
    cfg = XrayConfig.from_dict({"pile_size": 3000, "sim_reps": 2})
    return cfg, score_heldout(held, cfg, n_boot=50)


def _pile(prior: float, n: int = 30_000, seed: int = 1):
    y, z = _logits(np.random.default_rng(seed), n, prior)
    ids = [f"pile{i}" for i in range(n)]
    studies = pd.DataFrame({"study_id": ids, "patient_id": ids, "view": "PA"})
    return studies, pd.DataFrame({"study_id": ids, "logit": z}), pd.Series(y.astype(bool), index=ids)


def test_prevalence_is_recovered_despite_a_biased_model(held, scored):
    cfg, sc = scored
    studies, logits, truth = _pile(0.35)
    _, info = build_worklist(studies, logits, sc, held, cfg)
    em = info["prevalence"]["em"]
    assert abs(em["value"] - truth.mean()) < 0.02, em
    assert em["ci_low"] <= truth.mean() <= em["ci_high"] or abs(em["value"] - truth.mean()) < 0.01


def test_a_healthier_looking_pile_never_loosens_the_auto_normal_threshold(held, scored):
    cfg, sc = scored
    studies, logits, _ = _pile(0.25)
    _, info = build_worklist(studies, logits, sc, held, cfg)
    assert info["prevalence"]["deploy_prior_interval"][1] >= held.label["select"].mean()
    assert info["policy"]["t_low"] <= sc.policy.t_low_ + 1e-12


def test_a_sicker_pile_tightens_the_threshold(held, scored):
    cfg, sc = scored
    studies, logits, _ = _pile(0.70)
    _, info = build_worklist(studies, logits, sc, held, cfg)
    assert info["prevalence"]["in_validated_range"] is False  # flagged: beyond what was validated
    assert info["policy"]["t_low"] < sc.policy.t_low_


def test_worklist_holds_every_study_once_and_counts_add_up(held, scored, tmp_path):
    cfg, sc = scored
    studies, logits, truth = _pile(0.40, n=5000)
    missing = logits.iloc[:-3]  # three studies could not be read at ingest
    skipped = [(f"/x/{s}.png", "corrupt PNG") for s in logits["study_id"].iloc[-3:]]
    result = score_pile(studies, missing, sc, held, cfg, tmp_path, truth=truth, skipped=skipped)
    wl = pd.read_parquet(tmp_path / "worklist.parquet")
    assert len(wl) == 4997 and wl["study_id"].is_unique
    assert sorted(wl["read_rank"]) == list(range(4997))
    assert result.summary.n_studies == 5000 and result.summary.n_skipped == 3
    with pytest.raises(RuntimeError, match="count mismatch"):
        score_pile(studies, missing, sc, held, cfg, tmp_path, truth=truth, skipped=[])


def test_the_no_model_baseline_reads_the_pile_in_arrival_order(held, scored, tmp_path):
    # regression: the simulation once got the worklist in the model's read order, so the
    # first-in-first-out baseline read in that order too and every ratio came out exactly 1.00
    cfg, sc = scored
    studies, logits, truth = _pile(0.40, n=5000)
    result = score_pile(studies, logits, sc, held, cfg, tmp_path, truth=truth)
    ttr = result.summary.simulation.to_dict()["metrics"]["abnormal_ttr_median_ratio"]
    assert ttr["mean"] < 0.8, ttr  # an informative model reports abnormal studies sooner
    wl = pd.read_parquet(tmp_path / "worklist.parquet")
    assert sorted(wl["arrival_index"]) == list(range(5000))


@pytest.mark.parametrize("em", [0.0, 1.0])
def test_pile_covariates_survive_an_em_estimate_at_the_edge(em):
    """A weak model on a small pile drove EM to 1.0 in a smoke run, and the covariate check
    raised instead of reporting; the estimate is clipped for the reweighting only."""
    from triage_ray.xray.pile import pile_covariates

    rng = np.random.default_rng(0)
    n = 400
    labelled = pd.DataFrame({"study_id": [f"s{i}" for i in range(n)],
                             "patient_id": [f"p{i // 2}" for i in range(n)],
                             "label": (rng.random(n) < 0.4).astype(int),
                             "split": np.repeat(rng.choice(["train", "calib", "select", "test"],
                                                           n // 2), 2),
                             "view": rng.choice(["PA", "AP"], n),
                             "age": rng.integers(18, 90, n).astype(float),
                             "sex": rng.choice(["F", "M"], n)})
    pile = labelled.drop(columns=["label", "split"]).assign(
        study_id=[f"q{i}" for i in range(n)])
    covariates, moved = pile_covariates(labelled, pile, em, seed=0)
    assert covariates and isinstance(moved, list)


def test_behind_a_gate_the_cut_offs_are_certified_on_in_scope_studies_only(held, scored):
    """The pile's cleared studies all come from inside the intended use, so the bound is
    re-certified on the in-scope part of the select set, not on studies the gate would refuse."""
    cfg, sc = scored
    studies, logits, _ = _pile(0.40, n=4000)
    select_ids = held.study_id["select"]
    in_scope = pd.DataFrame({"study_id": select_ids[::2]})  # half the select studies
    _, info = build_worklist(studies, logits, sc, held, cfg, labelled_in_scope=in_scope)
    cert = info["policy"]["certified_on"]
    assert cert["n"] == len(in_scope) and cert["population"].startswith("in scope")
    _, everyone = build_worklist(studies, logits, sc, held, cfg)
    assert everyone["policy"]["certified_on"]["n"] == len(select_ids)


def test_a_small_fit_set_with_a_rare_class_redraws_one_class_resamples_and_says_so():
    """22 calibration studies, one of them normal (what a small MIMIC run gave): a resample often
    holds no normal study, and Platt cannot be fitted on it. It is drawn again and counted; the
    run used to crash here. A fit set with one class only is refused by name."""
    from triage_ray.xray.pile import prior_estimate

    rng = np.random.default_rng(3)
    y_fit = np.r_[np.zeros(1, np.int64), np.ones(21, np.int64)]
    z_fit = rng.normal(0.5, 1.0, y_fit.size) + y_fit
    val = (rng.normal(0, 1, 200), rng.integers(0, 2, 200))
    out = prior_estimate(rng.normal(0.5, 1, 300), (z_fit, y_fit), val, seed=0,
                         label_source="written", fit_name="calib")
    assert out["resamples_redrawn"] > 0 and 0 <= out["em"]["ci_low"] <= out["em"]["ci_high"] <= 1
    with pytest.raises(ValueError, match="only one class present"):
        prior_estimate(rng.normal(0, 1, 300), (z_fit, np.ones_like(y_fit)), val, seed=0,
                       label_source="written", fit_name="calib")
