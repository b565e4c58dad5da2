"""Generic CSV + folder loader."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from triage_ray.data.generic import load_generic
from triage_ray.data.schema import STUDY_COLUMNS


@pytest.fixture
def folder(tmp_path):
    img = tmp_path / "img"
    img.mkdir()
    for i in range(4):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8), "L").save(img / f"s{i}.png")
    pd.DataFrame({"path": [f"img/s{i}.png" for i in range(4)], "patient_id": ["a", "a", "b", "c"],
                  "label": ["0", "1", "abnormal", "Normal"], "view": ["pa", "AP", "", "lateral"]}
                 ).to_csv(tmp_path / "labels.csv", index=False)
    return tmp_path


def test_loads(folder):
    df = load_generic(folder / "labels.csv", view_col="view")
    assert list(df.columns) == list(STUDY_COLUMNS)
    assert df["label"].tolist() == [0, 1, 1, 0]
    assert df["view"].tolist() == ["PA", "AP", "", "LATERAL"]
    assert df["study_id"].tolist() == [f"img/s{i}" for i in range(4)]
    assert (df["source"] == "generic").all()


def test_bad_inputs(folder, tmp_path):
    t = pd.read_csv(folder / "labels.csv", dtype=str)
    t.loc[2, "label"] = "2"
    t.to_csv(folder / "bad.csv", index=False)
    with pytest.raises(ValueError, match=r"bad\.csv line 4: unknown label '2'"):
        load_generic(folder / "bad.csv")
    t.drop(columns=["patient_id"]).to_csv(folder / "nopat.csv", index=False)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['patient_id'\]"):
        load_generic(folder / "nopat.csv")
    (folder / "img" / "s1.png").unlink()
    with pytest.raises(FileNotFoundError, match="s1.png"):
        load_generic(folder / "labels.csv")
    df = load_generic(folder / "labels.csv", missing="skip")
    assert len(df) == 3 and df.attrs["load_report"]["skipped"][0][1] == "missing file"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="is empty"):
        load_generic(folder / "labels.csv", image_root=empty)


def test_optional_age_and_sex_columns(folder):
    t = pd.read_csv(folder / "labels.csv", dtype=str, keep_default_na=False)
    t["age"], t["sex"] = ["045Y", "43", "", "4 5"], ["Female", "M", "", "O"]
    t.to_csv(folder / "demo.csv", index=False)
    df = load_generic(folder / "demo.csv", age_col="age", sex_col="sex")
    assert df["age"].tolist()[:2] == [45.0, 43.0] and df["age"].iloc[2:].isna().all()
    assert df["sex"].tolist() == ["F", "M", "", ""]
    assert any("'4 5'" in n for n in df.attrs["load_report"]["notes"])
