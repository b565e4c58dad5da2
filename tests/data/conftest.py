"""Miniature, schema-true NIH and CheXpert trees: real label rows (from the tables torchxrayvision
installs) with generated pixels, plus one small generated set. All session-scoped and tiny."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from triage_ray.data.reference import chexpert_table, nih_table
from triage_ray.data.synth import generate_nih_tree
from triage_ray.data.synth.render import StudySpec, render_study

PX = 32


def _pixels(i: int, size: int = PX) -> np.ndarray:
    return render_study(StudySpec(index=i, patient=i, age=50, female=False, view="PA"), size, 0)


@pytest.fixture(scope="session")
def nih_rows() -> pd.DataFrame:
    """~40 real NIH rows: the first 14 patients with more than one study, all their studies."""
    t = nih_table()
    multi = t.groupby("Patient ID").size()
    pids = multi[multi.between(2, 5)].index[:14]
    return t[t["Patient ID"].isin(pids)].reset_index(drop=True)


@pytest.fixture(scope="session")
def mini_nih(tmp_path_factory, nih_rows) -> Path:
    """NIH layout: images split across images_001/images and images_002/images, official lists."""
    root = tmp_path_factory.mktemp("nih")
    nih_rows.to_csv(root / "Data_Entry_2017_v2020.csv", index=False)
    for i, name in enumerate(nih_rows["Image Index"]):
        d = root / f"images_00{1 + i % 2}" / "images"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_pixels(i), "L").save(d / name)
    test_pids = set(nih_rows["Patient ID"].unique()[::4])
    is_test = nih_rows["Patient ID"].isin(test_pids)
    (root / "test_list.txt").write_text("\n".join(nih_rows["Image Index"][is_test]) + "\n")
    (root / "train_val_list.txt").write_text("\n".join(nih_rows["Image Index"][~is_test]) + "\n")
    return root


@pytest.fixture(scope="session")
def chexpert_rows() -> pd.DataFrame:
    """The first 60 real CheXpert train rows (frontal and lateral, with -1 and blank cells)."""
    return chexpert_table().head(60).copy()


@pytest.fixture(scope="session")
def mini_chexpert(tmp_path_factory, chexpert_rows) -> Path:
    """CheXpert-v1.0-small/{train,valid}.csv with JPEGs at the rows' own (relative) Paths."""
    base = tmp_path_factory.mktemp("chexpert")
    root = base / "CheXpert-v1.0-small"
    root.mkdir()
    train, valid = chexpert_rows.iloc[:48].copy(), chexpert_rows.iloc[48:].copy()
    valid["Path"] = valid["Path"].str.replace("/train/", "/valid/", regex=False)
    for part, name in ((train, "train.csv"), (valid, "valid.csv")):
        part.to_csv(root / name, index=False)
        for i, rel in enumerate(part["Path"]):
            f = base / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            # CheXpert-small JPEGs are not square: 40 x 48 exercises the centre crop
            Image.fromarray(np.resize(_pixels(i, 48), (48, 40)), "L").save(f, quality=90)
    return root


@pytest.fixture(scope="session")
def gen_tree(tmp_path_factory):
    """A small generated set at 32 px (serial: no Ray, no pool)."""
    root = tmp_path_factory.mktemp("generated")
    return generate_nih_tree(root, 120, image_size=PX, seed=3, parallel=False, ceiling_sample=60)
