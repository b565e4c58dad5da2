"""CheXpert loader on a miniature real-row tree: views, uncertainty policies, normal definition."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from triage_ray.data.chexpert import PATHOLOGIES, SUPPORT_DEVICES, load_chexpert
from triage_ray.data.schema import DEMOGRAPHIC_COLUMNS, STUDY_COLUMNS
from triage_ray.gate import IntendedUse, scope_reasons


def _expected(rows: pd.DataFrame, uncertain: str, devices: bool = False) -> pd.Series:
    """Label per frontal row straight from the CSV cells (None where 'ignore' drops it)."""
    cols = list(PATHOLOGIES) + ([SUPPORT_DEVICES] if devices else [])
    v = rows[rows["Frontal/Lateral"] == "Frontal"][cols].to_numpy(dtype=float)
    pos = (v == 1) | ((v == -1) & (uncertain == "ones"))
    label = pos.any(1).astype(int).astype(object)
    if uncertain == "ignore":
        label[~pos.any(1) & (v == -1).any(1)] = None
    return pd.Series(label)


@pytest.mark.parametrize("uncertain", ["ignore", "zeros", "ones"])
def test_uncertainty_policies(mini_chexpert, chexpert_rows, uncertain):
    df = load_chexpert(mini_chexpert, uncertain=uncertain)
    want = _expected(chexpert_rows, uncertain).dropna().astype(int)
    assert list(df.columns) == [*STUDY_COLUMNS, *DEMOGRAPHIC_COLUMNS]
    assert df["label"].tolist() == want.tolist()
    rep = df.attrs["load_report"]
    n_lateral = int((chexpert_rows["Frontal/Lateral"] == "Lateral").sum())
    assert rep["excluded"]["view not in frontal"] == n_lateral
    assert rep["n_in"] == rep["n_out"] + len(rep["skipped"]) + sum(rep["excluded"].values())


def test_policies_differ_on_real_rows(mini_chexpert):
    """The fixture rows hold uncertain cells, so the policies must disagree somewhere."""
    zeros = load_chexpert(mini_chexpert, uncertain="zeros")["label"].sum()
    ones = load_chexpert(mini_chexpert, uncertain="ones")["label"].sum()
    assert ones > zeros


def test_views_paths_and_ids(mini_chexpert, chexpert_rows):
    df = load_chexpert(mini_chexpert, views=("frontal", "lateral"), uncertain="zeros")
    assert len(df) == len(chexpert_rows)
    assert set(df["view"]) <= {"AP", "PA", "LATERAL", ""} and "LATERAL" in set(df["view"])
    assert df["path"].map(lambda p: p.endswith(".jpg")).all()
    assert df["patient_id"].str.fullmatch(r"patient\d+").all()
    assert df["study_id"].str.startswith(tuple(df["patient_id"])).all()


def test_support_devices_definition(mini_chexpert, chexpert_rows):
    alone = load_chexpert(mini_chexpert, uncertain="zeros")
    devices = load_chexpert(mini_chexpert, uncertain="zeros", support_devices_abnormal=True)
    assert devices["label"].tolist() == _expected(chexpert_rows, "zeros", devices=True).tolist()
    assert devices["label"].sum() > alone["label"].sum()  # row 0: "No Finding" + Support Devices


def test_renamed_root_still_finds_images(mini_chexpert, tmp_path):
    shutil.copytree(mini_chexpert.parent, tmp_path / "copy")
    moved = tmp_path / "copy" / "CheXpert-v1.0-small"
    renamed = tmp_path / "copy" / "chexpert"
    moved.rename(renamed)
    df = load_chexpert(renamed, uncertain="zeros")
    assert df["path"].map(lambda p: "/chexpert/train/" in p or "/chexpert/valid/" in p).all()


def _copy(mini_chexpert, tmp_path):
    shutil.copytree(mini_chexpert.parent, tmp_path / "c")
    root = tmp_path / "c" / "CheXpert-v1.0-small"
    return root, pd.read_csv(root / "train.csv")


def test_unknown_value_names_line_and_column(mini_chexpert, tmp_path):
    root, t = _copy(mini_chexpert, tmp_path)
    t["Edema"] = t["Edema"].astype(object)
    t.loc[4, "Edema"] = "maybe"
    t.to_csv(root / "train.csv", index=False)
    with pytest.raises(ValueError, match=r"train\.csv line 6: unknown value 'maybe' in column 'Edema'"):
        load_chexpert(root)


def test_missing_column_and_missing_image(mini_chexpert, tmp_path):
    root, t = _copy(mini_chexpert, tmp_path)
    t.drop(columns=["Pleural Effusion"]).to_csv(root / "train.csv", index=False)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['Pleural Effusion'\]"):
        load_chexpert(root)
    t.to_csv(root / "train.csv", index=False)
    victim = root.parent / t["Path"][0]
    victim.unlink()
    with pytest.raises(FileNotFoundError, match="patient00001"):
        load_chexpert(root)
    df = load_chexpert(root, missing="skip")
    assert [reason for _, reason in df.attrs["load_report"]["skipped"]] == ["missing file"]


def test_empty_folder_and_bad_options(tmp_path):
    with pytest.raises(FileNotFoundError, match="none of"):
        load_chexpert(tmp_path)
    with pytest.raises(ValueError, match="uncertain must be"):
        load_chexpert(tmp_path, uncertain="maybe")
    with pytest.raises(ValueError, match="views"):
        load_chexpert(tmp_path, views=("oblique",))


def test_label_matrix_has_real_uncertain_cells(chexpert_rows):
    v = chexpert_rows[list(PATHOLOGIES)].to_numpy(dtype=float)
    assert (v == -1).any() and np.isnan(v).any()


def test_sex_and_age_are_read_so_the_gate_can_admit_adults(mini_chexpert, chexpert_rows):
    """CheXpert's Sex and Age columns reach the table: without them every study was "age not
    stated", the feature check had no in-scope study to fit on, and the run raised after the sweep."""
    df = load_chexpert(mini_chexpert, uncertain="zeros")
    frontal = chexpert_rows[chexpert_rows["Frontal/Lateral"] == "Frontal"]
    assert df["age"].tolist() == frontal["Age"].astype(float).tolist()
    assert df["sex"].tolist() == frontal["Sex"].map({"Female": "F", "Male": "M"}).fillna("").tolist()
    reasons, checked = scope_reasons(df, IntendedUse(), input_px=32)
    assert checked["age"] == "per study"
    adult = (frontal["Age"] >= 18).to_numpy()
    assert adult.any()
    for is_adult, why in zip(adult, reasons, strict=True):
        assert any(r.startswith("age") for r in why) != is_adult
    in_scope = [not r for r in reasons]
    assert sum(in_scope) > len(df) // 2  # the frontal AP/PA adults: most of CheXpert's rows


def test_an_unreadable_age_is_named_not_guessed(mini_chexpert, tmp_path):
    root, t = _copy(mini_chexpert, tmp_path)
    t["Age"] = t["Age"].astype(object)
    t.loc[0, "Age"] = "sixty"
    t.to_csv(root / "train.csv", index=False)
    df = load_chexpert(root, uncertain="zeros")
    assert np.isnan(df["age"].iloc[0]) and df["age"].iloc[1:].notna().all()
    assert any("'sixty'" in n for n in df.attrs["load_report"]["notes"])
