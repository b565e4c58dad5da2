"""MIMIC-CXR-JPG loader on a tree in PhysioNet's documented layout (label cells from CheXpert's
real rows): views, labels per study, official split, age from MIMIC-IV's patients.csv."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from real_layouts import write_mimic_tree

from triage_ray.data.mimic import load_mimic
from triage_ray.data.schema import OFFICIAL_SPLIT, STUDY_COLUMNS
from triage_ray.gate import IntendedUse, scope_reasons


@pytest.fixture(scope="module")
def mimic_root(tmp_path_factory):
    return write_mimic_tree(tmp_path_factory.mktemp("mimic"), 30, 40)


def test_frontal_images_with_their_studys_label_age_and_split(mimic_root):
    df = load_mimic(mimic_root, uncertain="zeros")
    meta = pd.read_csv(mimic_root / "mimic-cxr-2.0.0-metadata.csv.gz", dtype=str)
    frontal = meta[meta["ViewPosition"].isin(["PA", "AP"])]
    assert list(df.columns[:len(STUDY_COLUMNS)]) == list(STUDY_COLUMNS)
    assert df["study_id"].tolist() == frontal["dicom_id"].tolist()
    assert set(df["view"]) <= {"PA", "AP"} and (df["source"] == "mimic").all()
    labels = pd.read_csv(mimic_root / "mimic-cxr-2.0.0-chexpert.csv.gz", dtype={"study_id": str})
    cols = [c for c in labels.columns if c not in ("subject_id", "study_id", "No Finding",
                                                   "Support Devices")]
    want = (labels.set_index("study_id")[cols] == 1).any(axis=1).astype(int)
    assert df["label"].tolist() == want.loc[frontal["study_id"]].tolist()
    pts = pd.read_csv(mimic_root / "patients.csv.gz", dtype={"subject_id": str})
    year = frontal["StudyDate"].str[:4].astype(int).to_numpy()
    anchor = pts.set_index("subject_id").loc[frontal["subject_id"]]
    np.testing.assert_array_equal(df["age"], anchor["anchor_age"] + year - anchor["anchor_year"])
    assert set(df[OFFICIAL_SPLIT]) == {"trainval", "test"}
    rep = df.attrs["load_report"]
    assert rep["excluded"]["view not in frontal (ViewPosition)"] == int((meta["ViewPosition"] ==
                                                                        "LATERAL").sum())
    reasons, _ = scope_reasons(df, IntendedUse(), input_px=32)
    assert all(not any(x.startswith("age") for x in r) for r in reasons)  # adults, via MIMIC-IV


def test_without_mimic_iv_no_age_and_the_policies_apply(tmp_path, mimic_root):
    bare = write_mimic_tree(tmp_path, 12, 32, patients=False)
    df = load_mimic(bare, uncertain="ignore")
    assert "age" not in df  # the gate will say "age not stated"; the source warns
    ones, zeros = (load_mimic(mimic_root, uncertain=u)["label"].sum() for u in ("ones", "zeros"))
    assert ones >= zeros


def test_a_study_without_labels_is_named(mimic_root, tmp_path):
    import shutil

    root = tmp_path / "m"
    shutil.copytree(mimic_root, root)
    labels = pd.read_csv(root / "mimic-cxr-2.0.0-chexpert.csv.gz", dtype=str)
    gone = labels["study_id"].iloc[3]
    labels.drop(index=3).to_csv(root / "mimic-cxr-2.0.0-chexpert.csv.gz", index=False)
    with pytest.raises(ValueError, match=f"no label row for study {gone}"):
        load_mimic(root)
