"""Reference-standard readers: user files (and their bad input), the generated panel, Google's
NIH relabels, CheXpert's validation labels; reference-set sizing and cost."""

from __future__ import annotations

import pandas as pd
import pytest

from triage_ray.data.chexpert import load_chexpert
from triage_ray.data.nih import load_nih
from triage_ray.data.reference import google_relabels, nih_table
from triage_ray.data.reference_standard import (
    GOOGLE_SCOPE,
    REPORT_KEY,
    chexpert_valid_reference,
    generated_reference,
    load_reference_labels,
    min_auto_normal_count,
    min_reference_size,
    nih_google_reference,
    reference_cost,
)


@pytest.fixture(scope="module")
def gen_studies(gen_tree):
    return load_nih(gen_tree.root)


def _write(tmp_path, rows: list[dict], name: str = "ref.csv"):
    f = tmp_path / name
    pd.DataFrame(rows).to_csv(f, index=False)
    return f


def test_generated_reference(gen_tree, gen_studies):
    ref = generated_reference(gen_tree.root)
    raw = pd.read_csv(gen_tree.root / "reference.csv", dtype={"study_id": str})
    assert ref.name == "reference_label" and ref.dtype == "int8"
    assert list(ref.index) == raw["study_id"].tolist() and set(ref.index) == set(gen_studies["study_id"])
    assert (ref.to_numpy() == raw["reference_label"].to_numpy()).all()
    rep = ref.attrs[REPORT_KEY]
    assert rep["n_in"] == rep["n_matched"] == 120 and rep["reads"] == 360
    assert "simulated 3-reader panel" in rep["scope"]


def test_generated_reference_refuses_missing_or_inconsistent(tmp_path, gen_tree):
    with pytest.raises(FileNotFoundError, match="reference.csv not found"):
        generated_reference(tmp_path)
    raw = pd.read_csv(gen_tree.root / "reference.csv")
    raw.loc[0, "votes_abnormal"] += 1  # no longer the sum of the reader columns
    raw.to_csv(tmp_path / "reference.csv", index=False)
    with pytest.raises(ValueError, match="disagree with the reader columns"):
        generated_reference(tmp_path)


def test_load_reference_labels_good_file(tmp_path, gen_studies):
    ids = gen_studies["study_id"].tolist()
    f = _write(tmp_path, [{"Image Index": f"{s}.png", "label": i % 2, "n_readers": 3}
                          for i, s in enumerate(ids[:10])])
    ref = load_reference_labels(f, gen_studies)
    assert list(ref.index) == ids[:10] and ref.tolist() == [i % 2 for i in range(10)]
    rep = ref.attrs[REPORT_KEY]
    assert (rep["n_in"], rep["n_matched"], rep["n_unknown"], rep["n_studies"], rep["reads"]) == \
        (10, 10, 0, 120, 30)
    # ids only, a DataFrame in, float-looking labels
    df = pd.DataFrame({"study_id": ids[:3], "reference_label": ["1.0", "0", "1"]})
    assert load_reference_labels(df, ids).tolist() == [1, 0, 1]


def test_load_reference_labels_unknown_ids(tmp_path, gen_studies):
    ids = gen_studies["study_id"].tolist()
    rows = [{"study_id": s, "reference_label": 0} for s in ids[:5]]
    rows += [{"study_id": "nobody_000", "reference_label": 1}, {"study_id": "ghost", "reference_label": 0}]
    f = _write(tmp_path, rows)
    with pytest.raises(ValueError, match=r"2 row\(s\) name a study not in the study table.*line 7: "
                                         r"'nobody_000', line 8: 'ghost'"):
        load_reference_labels(f, gen_studies)
    ref = load_reference_labels(f, gen_studies, unknown="skip")
    rep = ref.attrs[REPORT_KEY]
    assert len(ref) == 5 and (rep["n_in"], rep["n_matched"], rep["n_unknown"]) == (7, 5, 2)
    assert rep["skipped"] == [("line 7: nobody_000", "unknown study id"),
                              ("line 8: ghost", "unknown study id")]


@pytest.mark.parametrize("bad, match", [
    ("2", r"not 0/1 \(line 3: '2'\)"), ("", r"not 0/1 \(line 3: ''\)"), ("yes", "not 0/1"),
    ("0.5", "not 0/1"),
])
def test_load_reference_labels_bad_values(tmp_path, gen_studies, bad, match):
    ids = gen_studies["study_id"].tolist()
    f = _write(tmp_path, [{"study_id": ids[0], "reference_label": "1"},
                          {"study_id": ids[1], "reference_label": bad}])
    with pytest.raises(ValueError, match=match):
        load_reference_labels(f, gen_studies)


def test_load_reference_labels_duplicates_columns_readers(tmp_path, gen_studies):
    ids = gen_studies["study_id"].tolist()
    f = _write(tmp_path, [{"study_id": ids[0], "reference_label": 1},
                          {"study_id": ids[1], "reference_label": 0},
                          {"study_id": ids[0], "reference_label": 1}])
    with pytest.raises(ValueError, match=r"2 rows repeat a study id \(line 2: .*line 4: "):
        load_reference_labels(f, gen_studies)
    f = _write(tmp_path, [{"study": ids[0], "reference_label": 1}])
    with pytest.raises(ValueError, match="missing column"):
        load_reference_labels(f, gen_studies)
    f = _write(tmp_path, [{"study_id": ids[0], "reference_label": 1, "n_readers": 0}])
    with pytest.raises(ValueError, match="reader counts"):
        load_reference_labels(f, gen_studies)
    with pytest.raises(ValueError, match="unknown must be"):
        load_reference_labels(f, gen_studies, unknown="drop")


def test_google_reference_on_the_real_table(mini_nih):
    """All NIH ids in: exactly the 4,376 relabelled images come back, 1 = any of four YES."""
    g = google_relabels()
    ids = nih_table()["Image Index"].str.removesuffix(".png")
    ref = nih_google_reference(ids)
    assert len(ref) == 4376 and set(ref.index) == set(g["Image Index"].str.removesuffix(".png"))
    any_yes = (g[["Pneumothorax", "Nodule or mass", "Airspace opacity", "Fracture"]] == "YES").any(axis=1)
    assert (ref.loc[g["Image Index"].str.removesuffix(".png")].to_numpy() == any_yes.to_numpy()).all()
    assert 0.4 < ref.mean() < 0.7
    rep = ref.attrs[REPORT_KEY]
    assert rep["scope"] == GOOGLE_SCOPE == "no pneumothorax, nodule/mass, airspace opacity or fracture"
    assert rep["excluded"] == {"not relabelled by the Google panel": len(ids) - 4376}
    # a study table: only its relabelled images get a label
    studies = load_nih(mini_nih)
    sub = nih_google_reference(studies)
    relabelled = set(g["Image Index"].str.removesuffix(".png"))
    assert set(sub.index) == set(studies["study_id"]) & relabelled
    assert sub.attrs[REPORT_KEY]["n_studies"] == len(studies)


def test_google_reference_refuses_generated_trees(gen_studies):
    with pytest.raises(ValueError, match="generated tree"):
        nih_google_reference(gen_studies)


def test_chexpert_valid_reference(mini_chexpert):
    ref = chexpert_valid_reference(mini_chexpert)
    valid = load_chexpert(mini_chexpert, splits=("valid",))
    assert list(ref.index) == valid["study_id"].tolist()
    assert (ref.to_numpy() == valid["label"].to_numpy()).all()
    assert all("/valid/" not in s and s.startswith("patient") for s in ref.index)
    rep = ref.attrs[REPORT_KEY]
    assert rep["n_in"] == 12 and rep["reads"] == 3 * len(ref)
    assert rep["n_matched"] + sum(rep["excluded"].values()) + len(rep["skipped"]) == rep["n_in"]
    assert "3 radiologists" in rep["scope"]


@pytest.mark.parametrize("k, n", [(0, 299), (1, 473), (2, 628), (5, 1049)])
def test_min_reference_size_matches_published(k, n):
    assert min_auto_normal_count(0.01, 0.05, k) == n
    assert min_reference_size(0.01, 0.05, 1.0, n_abnormal=k) == n
    assert min_reference_size(0.01, 0.05, 0.5, n_abnormal=k) == 2 * n


def test_min_reference_size_bad_input_and_cost():
    assert min_reference_size(0.01, 0.05, 0.4) == 748  # 299 / 0.4
    for args in ((0.0, 0.05, 0.5), (0.01, 1.0, 0.5), (0.01, 0.05, 0.0), (0.01, 0.05, 1.5)):
        with pytest.raises(ValueError):
            min_reference_size(*args)
    assert reference_cost(500) == 1500 and reference_cost(500, 5) == 2500
    assert reference_cost(1000, 2, arbiter_rate=0.15) == 2150
    with pytest.raises(ValueError):
        reference_cost(10, 0)
