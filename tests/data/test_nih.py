"""NIH loader on a miniature real-row tree, a generated tree, and every kind of bad input."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from triage_ray.data.nih import load_nih
from triage_ray.data.schema import OFFICIAL_SPLIT, STUDY_COLUMNS


def test_loads_nested_layout_with_official_lists(mini_nih, nih_rows):
    df = load_nih(mini_nih)
    assert list(df.columns) == [*STUDY_COLUMNS, OFFICIAL_SPLIT]
    assert len(df) == len(nih_rows)
    assert (df["label"] == (nih_rows["Finding Labels"] != "No Finding").astype(int)).all()
    assert df.loc[df["label"] == 0, "findings"].eq("").all()
    assert df["path"].str.contains("/images_001/images/").any()
    assert df["path"].str.contains("/images_002/images/").any()
    assert set(df[OFFICIAL_SPLIT]) == {"trainval", "test"}
    assert set(df["view"]) <= {"PA", "AP"} and (df["source"] == "nih").all()
    rep = df.attrs["load_report"]
    assert rep["n_in"] == rep["n_out"] == len(df) and rep["skipped"] == []


def test_loads_generated_tree(gen_tree):
    df = load_nih(gen_tree.root)
    truth = pd.read_csv(gen_tree.root / "ground_truth.csv")
    assert len(df) == gen_tree.n_studies
    assert (df["label"].to_numpy() == truth["noisy_label"].to_numpy()).all()
    assert (df[OFFICIAL_SPLIT] == "").all()


def test_unlabeled_pile(mini_nih, tmp_path):
    pile = tmp_path / "pile"
    shutil.copytree(mini_nih, pile)
    table = pd.read_csv(pile / "Data_Entry_2017_v2020.csv").drop(columns=["Finding Labels"])
    table.to_csv(pile / "Data_Entry_2017_v2020.csv", index=False)
    df = load_nih(pile, labels=False)
    assert (df["label"] == -1).all() and (df["findings"] == "").all()
    want = r"Data_Entry_2017_v2020\.csv: missing column\(s\) \['Finding Labels'\]"
    with pytest.raises(ValueError, match=want):
        load_nih(pile)


def _copy(mini_nih, tmp_path):
    root = tmp_path / "nih"
    shutil.copytree(mini_nih, root)
    return root, pd.read_csv(root / "Data_Entry_2017_v2020.csv")


def test_unknown_label_names_the_line(mini_nih, tmp_path):
    root, table = _copy(mini_nih, tmp_path)
    table.loc[3, "Finding Labels"] = "Effusion|Pneumonitis"
    table.to_csv(root / "Data_Entry_2017_v2020.csv", index=False)
    with pytest.raises(ValueError, match=r"line 5: unknown value\(s\) \['Pneumonitis'\]"):
        load_nih(root)


def test_missing_image_errors_or_is_counted(mini_nih, tmp_path):
    root, table = _copy(mini_nih, tmp_path)
    gone = table["Image Index"][2]
    next(root.glob(f"images_*/images/{gone}")).unlink()
    with pytest.raises(FileNotFoundError, match=gone):
        load_nih(root)
    df = load_nih(root, missing="skip")
    rep = df.attrs["load_report"]
    assert len(df) == len(table) - 1 and rep["skipped"] == [(gone, "missing file")]
    assert rep["n_in"] == rep["n_out"] + len(rep["skipped"])


def test_empty_and_wrong_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_nih(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match=r"no Data_Entry_2017\*\.csv"):
        load_nih(tmp_path)
    pd.DataFrame({"Image Index": ["a.png"], "Finding Labels": ["No Finding"], "Patient ID": [1],
                  "View Position": ["PA"]}).to_csv(tmp_path / "Data_Entry_2017.csv", index=False)
    (tmp_path / "images").mkdir()
    with pytest.raises(FileNotFoundError, match="no PNG images under"):
        load_nih(tmp_path)
