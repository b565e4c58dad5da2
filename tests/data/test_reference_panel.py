"""The generator's simulated reference panel: reference.csv, the reader model against the truth,
calibration to the published figures, determinism, and the tree cache's format bump."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from triage_ray.common.stats import clopper_pearson
from triage_ray.data.nih import load_nih
from triage_ray.data.synth import generate_nih_tree, tree
from triage_ray.data.synth.metadata import draw_studies
from triage_ray.data.synth.panel import (
    FINDING_SENSITIVITY,
    REFERENCE_COLUMNS,
    PanelConfig,
    calibrate,
    call_probabilities,
    draw_panel,
    fitted_slope,
    majority_rate,
    panel_performance,
)

N_PANEL = 3000


@pytest.fixture(scope="module")
def panel_tree(tmp_path_factory):
    """3,000 studies at 32 px: enough for ~1,700 abnormal / 1,300 normal per reader."""
    root = tmp_path_factory.mktemp("panel")
    gen = generate_nih_tree(root, N_PANEL, image_size=32, seed=11, parallel=False, ceiling_sample=0)
    truth = pd.read_csv(root / "ground_truth.csv", keep_default_na=False)
    reference = pd.read_csv(root / "reference.csv")
    return gen, truth, reference


def test_reference_csv_layout(panel_tree):
    gen, truth, ref = panel_tree
    cols = [*REFERENCE_COLUMNS, "reader_1", "reader_2", "reader_3"]
    assert list(ref.columns) == cols
    assert (ref["Image Index"] == truth["Image Index"]).all()
    studies = load_nih(gen.root)
    assert set(ref["study_id"]) == set(studies["study_id"])  # as load_nih builds study ids
    reads = ref[["reader_1", "reader_2", "reader_3"]].to_numpy()
    assert np.isin(reads, (0, 1)).all() and (ref["n_readers"] == 3).all()
    assert (ref["votes_abnormal"] == reads.sum(1)).all()
    assert (ref["reference_label"] == (reads.sum(1) >= 2)).all()


def _assert_model_inside_ci(reference: pd.DataFrame, truth: pd.DataFrame, config: PanelConfig):
    """The model's own expectation over these studies lies in each observed exact CI. There are
    m = 2 (k + 1) intervals per panel, so each is at 1 - 0.05 / m (Bonferroni): 95% for the set."""
    t = truth["true_abnormal"].to_numpy().astype(bool)
    one, maj = call_probabilities(truth, config)
    expected = {"sensitivity": (one[t].mean(), maj[t].mean()),
                "specificity": (1 - one[~t].mean(), 1 - maj[~t].mean())}
    got = panel_performance(reference, t)
    assert len(got["readers"]) == config.n_readers
    level = 1 - 0.05 / (2 * (config.n_readers + 1))
    for what, (e_one, e_maj) in expected.items():
        for name, r in [*got["readers"].items(), ("majority", got["majority"])]:
            d = r[what]
            lo, hi = clopper_pearson(d["k"], d["n"], level)
            e = e_maj if name == "majority" else e_one
            assert lo <= e <= hi, (config, name, what, d["rate"], e, (lo, hi))
    return got


def test_panel_matches_reader_model_within_ci(panel_tree):
    gen, truth, ref = panel_tree
    got = _assert_model_inside_ci(ref, truth, PanelConfig())
    # the majority beats one reader on both counts (but by less than 3p^2 - 2p^3: conspicuity is
    # shared), and what generated_set.json records is this same measurement
    maj, r1 = got["majority"], got["readers"]["reader_1"]
    assert maj["specificity"]["rate"] > r1["specificity"]["rate"]
    assert maj["sensitivity"]["rate"] > np.mean([r["sensitivity"]["rate"] for r in got["readers"].values()])
    assert gen.reference_panel["measured_vs_truth"] == json.loads(json.dumps(got))


@pytest.mark.parametrize("config", [PanelConfig(n_readers=5), PanelConfig(n_readers=3, study_sd=1.0),
                                    PanelConfig(n_readers=1, false_positive_rate=0.2)])
def test_other_panels_match_their_model(panel_tree, config):
    _, truth, _ = panel_tree
    _assert_model_inside_ci(draw_panel(truth, seed=4, config=config), truth, config)


def test_shared_study_term_shrinks_majority_gain(panel_tree):
    """Correlated errors: same per-reader rates, smaller majority gain."""
    _, truth, _ = panel_tree
    t = truth["true_abnormal"].to_numpy().astype(bool)
    one0, maj0 = call_probabilities(truth, PanelConfig())
    one1, maj1 = call_probabilities(truth, PanelConfig(study_sd=1.5))
    assert abs(one0[t].mean() - one1[t].mean()) < 0.02
    assert maj1[t].mean() - one1[t].mean() < maj0[t].mean() - one0[t].mean()
    assert 1 - maj1[~t].mean() < 1 - maj0[~t].mean()


def test_calibration_matches_published_figures_on_the_generator():
    """Averaged over the findings the generator actually draws (difficulty 1), each finding's
    detection probability is the cited sensitivity; harder sets are read worse."""
    cal = calibrate(PanelConfig())
    for difficulty, check in ((1.0, "equal"), (2.0, "lower")):
        d = draw_studies(40_000, seed=8, prevalence=None, difficulty=difficulty, label_noise=True,
                         image_size=32)
        pairs = [(f, float(c)) for fs, cs in zip(d.truth["true_findings"], d.truth["conspicuity"],
                                                  strict=True) if fs
                 for f, c in zip(fs.split("|"), cs.split("|"), strict=True)]
        by = pd.DataFrame(pairs, columns=["f", "c"])
        by["p"] = 1 / (1 + np.exp(-(by["f"].map(cal.intercept) + cal.slope * by["c"])))
        mean = by.groupby("f")["p"].agg(["mean", "std", "size"])
        for f, row in mean[mean["size"] >= 500].iterrows():
            target = FINDING_SENSITIVITY[f][0]
            tol = 0.005 + 4 * row["std"] / np.sqrt(row["size"])  # sampling, with room for clustering
            if check == "equal":
                assert abs(row["mean"] - target) < tol, (f, row["mean"], target, tol)
            else:
                assert row["mean"] < target - 0.02, (f, row["mean"], target)


def test_slope_fits_effusion_by_size_and_majority_arithmetic():
    assert 3.5 < fitted_slope() < 5.5  # Kitazono's 53/71/92% over conspicuity tertiles
    assert majority_rate(0.75, 3) == pytest.approx(3 * 0.75**2 - 2 * 0.75**3)  # 0.84
    assert majority_rate(0.05, 3) == pytest.approx(0.00725)
    assert majority_rate(0.3, 1) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="odd"):
        PanelConfig(n_readers=4)


def test_panel_deterministic_and_reader_streams_stable(panel_tree):
    _, truth, ref = panel_tree
    again = draw_panel(truth, seed=11)
    pd.testing.assert_frame_equal(again, ref, check_dtype=False)
    five = draw_panel(truth, seed=11, config=PanelConfig(n_readers=5))
    for c in ("reader_1", "reader_2", "reader_3"):  # reader j reads alike in a larger panel
        assert (five[c] == ref[c]).all()
    assert not (draw_panel(truth, seed=12)["reader_1"] == ref["reader_1"]).all()


def _files(root) -> dict[str, bytes]:
    out = {p.name: p.read_bytes() for p in (root / "images").glob("*.png")}
    for name in ("Data_Entry_2017.csv", "ground_truth.csv"):
        out[name] = (root / name).read_bytes()
    return out


def test_panel_does_not_change_images_or_labels(tmp_path, gen_tree):
    """Another panel over the same seed: byte-identical images, written labels and truth."""
    other = generate_nih_tree(tmp_path, 120, image_size=32, seed=3, parallel=False, ceiling_sample=0,
                              panel=PanelConfig(n_readers=5, study_sd=0.7))
    assert _files(tmp_path) == _files(gen_tree.root)
    assert other.reference_panel["config"]["n_readers"] == 5
    assert "reader_5" in pd.read_csv(tmp_path / "reference.csv").columns


def test_set_json_and_notice_record_the_panel(gen_tree):
    saved = json.loads((gen_tree.root / "generated_set.json").read_text())
    assert saved["params"]["tree_format"] == tree.TREE_FORMAT
    assert saved["params"]["reference_panel"] == PanelConfig().to_dict()
    panel = saved["set"]["reference_panel"]
    assert set(panel) >= {"config", "model", "measured_vs_truth", "expected", "reads"}
    assert panel["model"]["finding_sensitivity"]["Pneumothorax"]["sensitivity"] == 0.89
    notice = (gen_tree.root / "GENERATED.md").read_text()
    assert "Reference standard (reference.csv)" in notice and "simulated" in notice


def test_old_format_tree_is_regenerated_not_reused(tmp_path, caplog):
    generate_nih_tree(tmp_path, 40, image_size=16, seed=2, parallel=False, ceiling_sample=0)
    meta = tmp_path / "generated_set.json"
    saved = json.loads(meta.read_text())
    for k in ("tree_format", "reference_panel"):  # what a tree from before the panel looked like
        saved["params"].pop(k)
    meta.write_text(json.dumps(saved))
    (tmp_path / "reference.csv").unlink()
    with caplog.at_level(logging.WARNING, logger="triage_ray.data.synth.tree"):
        again = generate_nih_tree(tmp_path, 40, image_size=16, seed=2, parallel=False,
                                  ceiling_sample=0)
    assert again.backend != "cached" and "older generator" in caplog.text
    assert (tmp_path / "reference.csv").is_file()
    assert generate_nih_tree(tmp_path, 40, image_size=16, seed=2, parallel=False,
                             ceiling_sample=0).backend == "cached"
    (tmp_path / "reference.csv").unlink()  # current format but incomplete: refused, clearly
    with pytest.raises(FileExistsError, match="reference.csv is missing"):
        generate_nih_tree(tmp_path, 40, image_size=16, seed=2, parallel=False, ceiling_sample=0)
    with pytest.raises(FileExistsError, match="different generated set"):
        generate_nih_tree(tmp_path, 40, image_size=16, seed=2, parallel=False, ceiling_sample=0,
                          panel=PanelConfig(n_readers=5))
