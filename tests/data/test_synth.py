"""The generator: NIH layout, honesty notice, determinism, label mix and noise, findings, ceiling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from triage_ray.data.reference import nih_table, panel_rates
from triage_ray.data.schema import GENERATED_FINDINGS, GROUND_TRUTH_COLUMNS, NIH_CSV_COLUMNS
from triage_ray.data.synth import generate_nih_tree, tree
from triage_ray.data.synth.ceiling import auroc, hotelling_dprime
from triage_ray.data.synth.findings import FINDINGS
from triage_ray.data.synth.metadata import draw_studies
from triage_ray.data.synth.render import StudySpec, render_clean


def test_tree_layout_and_notice(gen_tree):
    root = gen_tree.root
    entries = pd.read_csv(root / "Data_Entry_2017.csv")
    assert tuple(entries.columns) == NIH_CSV_COLUMNS
    truth = pd.read_csv(root / "ground_truth.csv", keep_default_na=False)
    assert tuple(truth.columns) == GROUND_TRUTH_COLUMNS
    assert len(entries) == len(truth) == gen_tree.n_studies == 120
    assert (truth["noisy_label"] == (entries["Finding Labels"] != "No Finding")).all()
    pngs = sorted(p.name for p in (root / "images").glob("*.png"))
    assert pngs == sorted(entries["Image Index"])
    with Image.open(root / "images" / pngs[0]) as im:
        assert im.mode == "L" and im.size == (32, 32)
    notice = (root / "GENERATED.md").read_text()
    assert "GENERATED IMAGES" in notice and "None is a radiograph" in notice


def test_ceiling_is_estimated_and_below_one(gen_tree):
    assert 0.5 < gen_tree.bayes_ceiling_auroc < 1.0
    lo, hi = gen_tree.bayes_ceiling_auroc_ci
    assert lo <= gen_tree.bayes_ceiling_auroc <= hi
    # label noise costs: the true-label ceiling is higher than the written-label one
    assert gen_tree.bayes_ceiling_auroc_true > gen_tree.bayes_ceiling_auroc


def test_reuse_and_refuse(gen_tree):
    again = generate_nih_tree(gen_tree.root, 120, image_size=32, seed=3, parallel=False,
                              ceiling_sample=60)
    assert again.backend == "cached" and again.bayes_ceiling_auroc == gen_tree.bayes_ceiling_auroc
    with pytest.raises(FileExistsError, match="different generated set"):
        generate_nih_tree(gen_tree.root, 121, image_size=32, seed=3, parallel=False)


def _images(root) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "images").glob("*.png"))}


def test_deterministic_across_backends(tmp_path, monkeypatch, gen_tree):
    """Serial and a process pool with small chunks write byte-identical images and labels."""
    monkeypatch.setattr(tree, "CHUNK", 16)
    monkeypatch.setattr(tree, "MIN_PARALLEL", 32)
    import ray

    # an earlier test may have left the session's Ray running; this test is about the process pool
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    pool = generate_nih_tree(tmp_path, 120, image_size=32, seed=3, parallel=True, ceiling_sample=0)
    assert pool.backend == "process"
    assert _images(tmp_path) == _images(gen_tree.root)
    assert (tmp_path / "ground_truth.csv").read_text() == (gen_tree.root / "ground_truth.csv").read_text()


@pytest.mark.ray
def test_deterministic_with_ray(tmp_path, monkeypatch, gen_tree, ray_local):
    monkeypatch.setattr(tree, "CHUNK", 32)
    monkeypatch.setattr(tree, "MIN_PARALLEL", 32)
    got = generate_nih_tree(tmp_path, 120, image_size=32, seed=3, parallel=True, ceiling_sample=0)
    assert got.backend == "ray"
    assert _images(tmp_path) == _images(gen_tree.root)


@pytest.fixture(scope="module")
def big_draw():
    return draw_studies(20_000, seed=5, prevalence=None, difficulty=1.0, label_noise=True,
                        image_size=64)


def test_label_mix_matches_nih(big_draw):
    """Abnormal rate, view mix and per-finding rates match the NIH table (whole patients are
    drawn, so allow for clustering: tolerances are ~3x the binomial standard error)."""
    real, gen = nih_table(), big_draw.entries
    real_abn = (real["Finding Labels"] != "No Finding").mean()  # 0.462
    assert abs((gen["Finding Labels"] != "No Finding").mean() - real_abn) < 0.03
    assert abs((gen["View Position"] == "AP").mean() - (real["View Position"] == "AP").mean()) < 0.03
    real_f = real["Finding Labels"].str.split("|").explode().value_counts(normalize=True)
    gen_f = gen["Finding Labels"].str.split("|").explode().value_counts(normalize=True)
    for name in ("No Finding", "Infiltration", "Effusion", "Atelectasis", "Nodule", "Mass"):
        assert abs(gen_f[name] - real_f[name]) < 0.02, name
    # co-occurrence survives: Effusion is far more common among Infiltration studies
    has = lambda df, f: df["Finding Labels"].str.contains(f, regex=False)  # noqa: E731
    for df in (real, gen):
        assert has(df, "Effusion")[has(df, "Infiltration")].mean() > 1.5 * has(df, "Effusion").mean()
    assert gen.groupby("Patient ID").size().max() > 10  # long follow-up series kept


def test_label_noise_at_panel_rates(big_draw):
    """About a third of NIH 'No Finding' studies hold a panel finding (Google 2019: 752 / 2,090)."""
    t = big_draw.truth
    hidden = t["true_abnormal"][t["noisy_label"] == 0].mean()
    assert 0.25 < hidden < 0.45
    assert 0.0 < t["true_abnormal"][t["noisy_label"] == 1].mean() < 1.0
    assert set("|".join(t["true_findings"]).split("|")) - {""} <= set(GENERATED_FINDINGS)


def test_no_label_noise_and_prevalence_knob():
    d = draw_studies(3_000, seed=1, prevalence=0.2, difficulty=1.0, label_noise=False, image_size=64)
    assert d.truth["noisy_label"].sum() == 600
    assert (d.truth["true_abnormal"] == d.truth["noisy_label"]).all()
    assert d.entries["Image Index"].is_unique
    with pytest.raises(ValueError, match="prevalence"):
        draw_studies(10, seed=1, prevalence=1.5, difficulty=1.0, label_noise=True, image_size=64)


def test_panel_rates_are_probabilities():
    r = panel_rates()
    assert 0.3 < r.given_nih_has["Pneumothorax"]["PA"] < 0.7
    assert r.counts["Airspace opacity|AP|nih_lacks|normal"][1] > 1000


@pytest.mark.parametrize("name", sorted(FINDINGS))
def test_every_finding_is_visible_and_scales(name):
    """Each registered finding changes the image, more so at high conspicuity."""
    def change(c: float) -> float:
        spec = StudySpec(index=7, patient=7, age=60, female=False, view="PA", findings=(name,),
                         conspicuity=(c,))
        with_f, _, _ = render_clean(spec, 64, 0)
        without, _, _ = render_clean(spec, 64, 0, with_findings=False)
        return float(np.abs(with_f - without).sum())

    low, high = change(0.1), change(0.9)
    assert 0 < low < high


def test_ap_magnifies_the_heart():
    from triage_ray.data.synth.anatomy import position, sample_anatomy

    anat = sample_anatomy(np.random.default_rng(0), age=50, female=False)
    pa = position(anat, np.random.default_rng(1), view="PA")
    ap = position(anat, np.random.default_rng(1), view="AP")
    assert ap.heart_ax > 1.05 * pa.heart_ax and ap.scapula_overlap > pa.scapula_overlap


def test_difficulty_lowers_detectability():
    easy = draw_studies(300, seed=2, prevalence=0.9, difficulty=0.3, label_noise=False, image_size=32)
    hard = draw_studies(300, seed=2, prevalence=0.9, difficulty=4.0, label_noise=False, image_size=32)
    bg = [s for s in easy.specs if not s.findings][:20] + easy.specs[:40]
    d_easy = hotelling_dprime(easy.specs[:60], bg, 32, 2)
    d_hard = hotelling_dprime(hard.specs[:60], bg, 32, 2)
    assert np.median(d_hard[d_hard > 0]) < np.median(d_easy[d_easy > 0])


def test_auroc_reference_values():
    assert auroc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.75
    assert auroc(np.array([1.0, 1.0]), np.array([0, 1])) == 0.5
