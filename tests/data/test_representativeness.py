"""The representativeness check: biased splits are flagged, random ones are not, and the default
generated set's patient splits pass; the pile's covariate-shift check."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from triage_ray.data.nih import load_nih
from triage_ray.data.representativeness import (
    COVARIATES,
    add_nih_demographics,
    pile_covariate_shift,
    split_representativeness,
)
from triage_ray.data.splits import patient_split
from triage_ray.data.synth import generate_nih_tree
from triage_ray.xray.config import XrayConfig

FRACTIONS = XrayConfig().splits  # the pipeline's default: train .5, calib .1, select .3, test .1
NAMES = list(FRACTIONS)


def _population(rng: np.random.Generator, n_patients: int, *, prior: float = 0.465,
                ap_base: float = 0.4, prefix: str = "p") -> pd.DataFrame:
    """Clustered studies like NIH's: heavy-tailed series sizes, patients who are mostly AP or
    mostly PA, sicker long series, AP more often abnormal."""
    size = np.minimum(1 + rng.negative_binomial(0.5, 0.15, n_patients), 60)
    ap_rate = np.clip(ap_base + 0.3 * rng.standard_normal(n_patients), 0.02, 0.98)
    sick = np.clip(prior + 0.02 * np.log(size) + 0.15 * rng.standard_normal(n_patients), 0.01, 0.99)
    pid = np.repeat(np.arange(n_patients), size)
    ap = rng.random(len(pid)) < ap_rate[pid]
    label = (rng.random(len(pid)) < np.clip(sick[pid] + 0.1 * (ap - ap_base), 0, 1)).astype(np.int8)
    return pd.DataFrame({
        "study_id": [f"{prefix}{i}" for i in range(len(pid))],
        "patient_id": [f"{prefix}{p}" for p in pid],
        "view": np.where(ap, "AP", "PA"),
        "label": label,
        "age": np.repeat(rng.normal(47, 16, n_patients), size),
        "sex": np.repeat(np.where(rng.random(n_patients) < 0.44, "F", "M"), size),
    })


def _random_patient_split(df: pd.DataFrame, seed: int) -> np.ndarray:
    pids = df["patient_id"].unique()
    pick = np.random.default_rng(seed).choice(NAMES, size=len(pids), p=list(FRACTIONS.values()))
    return df["patient_id"].map(dict(zip(pids, pick, strict=True))).to_numpy()


def _largest_first_split(df: pd.DataFrame) -> np.ndarray:
    """The earlier patient_split: patients dealt largest-first to the split with the biggest
    shortfall in their kinds of studies (balances size and label prior, nothing else)."""
    lab = df["label"].to_numpy()
    c = pd.DataFrame({"abn": lab == 1, "norm": lab == 0}).groupby(df["patient_id"].to_numpy()).sum()
    counts = c.to_numpy(float)
    need = np.array(list(FRACTIONS.values()))[:, None] * counts.sum(0)[None]
    got = np.zeros_like(need)
    chosen = {}
    for i in np.argsort(-counts.sum(1), kind="stable"):
        k = int(np.argmax((need - got) @ counts[i]))
        got[k] += counts[i]
        chosen[c.index[i]] = NAMES[k]
    return df["patient_id"].map(chosen).to_numpy()


@pytest.fixture(scope="module")
def population() -> pd.DataFrame:
    return _population(np.random.default_rng(5), 2500)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The default generator settings at 4,000 studies (16 px: the pixels play no part here)."""
    root = tmp_path_factory.mktemp("representative")
    generate_nih_tree(root, 4000, image_size=16, seed=0, parallel=False, ceiling_sample=0)
    studies = add_nih_demographics(load_nih(root), root)
    gt = pd.read_csv(root / "ground_truth.csv")
    truth = pd.Series(gt["true_abnormal"].to_numpy(), index=gt["Image Index"].str.removesuffix(".png"))
    return root, studies, truth


def test_random_patient_split_passes(population):
    df = population.assign(split=_random_patient_split(population, seed=1))
    rep = split_representativeness(df)
    assert rep["passed"], rep["flagged"]
    assert rep["threshold"] == 0.1 and "threshold" in rep["rule"]
    assert set(rep["splits"]) == set(NAMES)
    assert rep["covariates"] == [c for c in COVARIATES if c != "truth_prior"]  # no truth given
    json.dumps(rep, allow_nan=False)  # strict JSON


def test_all_ap_patients_in_one_split_is_flagged(population):
    df = population.copy()
    ap_patients = set(df.loc[df["view"].eq("AP").groupby(df["patient_id"]).transform("mean").gt(0.6)
                             .to_numpy(), "patient_id"])
    split = _random_patient_split(df, seed=1)
    is_ap = df["patient_id"].isin(ap_patients).to_numpy()
    split[is_ap] = "select"
    split[~is_ap & (split == "select")] = "train"
    rep = split_representativeness(df.assign(split=split))
    assert not rep["passed"]
    sel = rep["splits"]["select"]
    assert "ap_share" in sel["flagged"] and not sel["passed"]
    assert sel["ap_share"] > rep["pool"]["ap_share"] + 0.2
    assert sel["smd"]["ap_share"]["smd"] > max(0.1, sel["smd"]["ap_share"]["sampling_error"])
    assert {"split": "select", "covariate": "ap_share"}.items() <= next(
        f for f in rep["flagged"] if f["split"] == "select" and f["covariate"] == "ap_share").items()


def test_small_chance_differences_are_not_flagged(population):
    """A small split's SMD can pass 0.1 by chance; the sampling-error bound keeps it unflagged."""
    df = population.assign(split=_random_patient_split(population, seed=1))
    rep = split_representativeness(df)
    cells = [(s, c, v) for s, d in rep["splits"].items() for c, v in d["smd"].items()]
    beyond_threshold = [(s, c) for s, c, v in cells if abs(v["smd"]) > 0.1]
    assert beyond_threshold, "expected some chance |SMD| > 0.1 in small splits of clustered data"
    assert all(abs(v["smd"]) <= v["sampling_error"] for s, c, v in cells if (s, c) in beyond_threshold)
    tight = split_representativeness(df, threshold=0.01, n_perm=50)
    assert tight["threshold"] == 0.01


def test_generated_default_split_is_representative(generated):
    _, studies, truth = generated
    studies = studies.assign(split=patient_split(studies, FRACTIONS, seed=0).to_numpy())
    rep = split_representativeness(studies, truth=truth)
    assert rep["passed"], rep["flagged"]
    pool = rep["pool"]
    assert pool["studies"] == 4000 and pool["truth_prior"] is not None and pool["mean_age"] is not None
    for name, s in rep["splits"].items():
        for cov in ("ap_share", "images_per_patient"):
            assert abs(s["smd"][cov]["smd"]) <= s["smd"][cov]["sampling_error"], (name, cov, s[cov])
        # the old failure: calib/test got single-visit patients (1.7 images per patient vs 3.8)
        assert abs(s["images_per_patient"] / pool["images_per_patient"] - 1) < 0.2, name
        assert abs(s["studies"] / 4000 - FRACTIONS[name]) < 0.03, name
    json.dumps(rep, allow_nan=False)


def test_generated_set_largest_first_split_is_flagged(generated):
    """The earlier dealing, on the same set: calib/test fill with single-visit, mostly-PA patients."""
    _, studies, truth = generated
    rep = split_representativeness(studies.assign(split=_largest_first_split(studies)), truth=truth)
    assert not rep["passed"]
    for name in ("calib", "test"):
        assert {"images_per_patient", "ap_share"} <= set(rep["splits"][name]["flagged"]), name
        assert rep["splits"][name]["images_per_patient"] < 0.6 * rep["pool"]["images_per_patient"]
    # the label prior was balanced exactly, and is not flagged
    assert all(abs(s["written_prior"] - rep["pool"]["written_prior"]) < 0.01
               for s in rep["splits"].values())


def test_covariates_without_data_are_none(population):
    df = population.drop(columns=["view", "age", "sex"]).assign(
        split=_random_patient_split(population, seed=2))
    rep = split_representativeness(df)
    assert rep["covariates"] == ["images_per_patient", "written_prior"]
    assert rep["pool"]["ap_share"] is None and rep["splits"]["calib"]["mean_age"] is None
    assert "ap_share" not in rep["splits"]["calib"]["smd"]


def test_pile_like_the_pool_shows_no_shift(population):
    df = population.assign(split=_random_patient_split(population, seed=1))
    pile = _population(np.random.default_rng(6), 5000, prefix="q").assign(label=-1)
    rep = split_representativeness(df, pile=pile)
    assert rep["pile"]["studies"] == len(pile) and rep["pile"]["written_prior"] is None
    assert set(rep["pile"]["smd"]) == {"images_per_patient", "ap_share", "female_share", "mean_age"}
    assert pile_covariate_shift(rep) == []
    json.dumps(rep, allow_nan=False)


def test_pile_with_more_ap_studies_is_flagged_with_a_reason(population):
    df = population.assign(split=_random_patient_split(population, seed=1))
    pile = _population(np.random.default_rng(6), 5000, ap_base=0.7, prefix="q").assign(label=-1)
    shift = pile_covariate_shift(split_representativeness(df, pile=pile))
    assert [s["covariate"] for s in shift] == ["ap_share"]
    s = shift[0]
    assert s["pile"] > s["labelled"] + 0.15 and s["smd"] > max(s["threshold"], s["sampling_error"])
    assert "ap_share" in s["reason"] and "threshold 0.1" in s["reason"]


def test_label_shift_alone_is_not_read_as_covariate_shift():
    """AP depends on the label; a pile at another prevalence has another AP share. Given the
    pile's prevalence, the pool reweighted to it is the reference and no shift is reported."""
    rng = np.random.default_rng(9)

    def studies(n: int, prior: float, prefix: str) -> pd.DataFrame:
        y = (rng.random(n) < prior).astype(np.int8)
        ap = rng.random(n) < np.where(y == 1, 0.7, 0.15)
        return pd.DataFrame({"study_id": [f"{prefix}{i}" for i in range(n)],
                             "patient_id": [f"{prefix}{i}" for i in range(n)],
                             "view": np.where(ap, "AP", "PA"), "label": y})

    pool = studies(8000, 0.465, "l")
    pool["split"] = _random_patient_split(pool, seed=3)
    pile = studies(20000, 0.15, "u")
    naive = pile_covariate_shift(split_representativeness(pool, pile=pile.assign(label=-1)))
    assert [s["covariate"] for s in naive] == ["ap_share"]
    rep = split_representativeness(pool, pile=pile.assign(label=-1), pile_prior=0.15)
    assert "reweighted" in rep["pile"]["reference"]
    assert pile_covariate_shift(rep) == []
    with pytest.raises(ValueError, match="no pile"):
        pile_covariate_shift(split_representativeness(pool))


def test_add_nih_demographics_reads_the_label_file(generated):
    root, studies, _ = generated
    entries = pd.read_csv(root / "Data_Entry_2017.csv")
    assert studies["age"].notna().all() and set(studies["sex"]) <= {"F", "M"}
    first = entries.iloc[0]
    row = studies.set_index("study_id").loc[first["Image Index"].removesuffix(".png")]
    assert row["age"] == first["Patient Age"] and row["sex"] == first["Patient Gender"]


def test_bad_inputs():
    df = pd.DataFrame({"patient_id": ["a", "a"], "label": [1, 0], "split": ["train", "test"]})
    with pytest.raises(ValueError, match="more than one split"):
        split_representativeness(df)
    with pytest.raises(ValueError, match="split"):
        split_representativeness(df.drop(columns="split"))
    with pytest.raises(ValueError, match="threshold"):
        split_representativeness(df, threshold=0)
