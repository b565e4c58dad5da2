"""Every real layout through the run's first stages, the way `sweeps/xray.py --source X` reaches
them: the registered source loads it, the patient-level splits are drawn, the intended-use tags
admit its adults before any training, and ingest writes every study to shards. The stages after
that read only the study table and shards; the CheXpert + DICOM run covers them end to end
(tests/test_real_layout_run.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from real_layouts import write_mimic_tree

from triage_ray.data.ingest import ingest_to_shards
from triage_ray.gate import IntendedUse
from triage_ray.xray.config import XrayConfig
from triage_ray.xray.gate import check_labelled_scope
from triage_ray.xray.pipeline import prepare_labelled


@pytest.fixture(scope="module")
def generic_root(tmp_path_factory, nih_rows):
    """A generic CSV with age and sex columns (the NIH rows' own values, DICOM-style ages)."""
    root = tmp_path_factory.mktemp("generic")
    (root / "img").mkdir()
    for i, name in enumerate(nih_rows["Image Index"]):
        Image.fromarray(np.full((40, 40), 30 + i % 200, np.uint8), "L").save(root / "img" / name)
    pd.DataFrame({"path": "img/" + nih_rows["Image Index"], "patient_id": nih_rows["Patient ID"],
                  "label": (nih_rows["Finding Labels"] != "No Finding").astype(int),
                  "view": nih_rows["View Position"],
                  "age": nih_rows["Patient Age"].map(lambda a: f"{int(a):03d}Y"),
                  "sex": nih_rows["Patient Gender"]}).to_csv(root / "labels.csv", index=False)
    return root


@pytest.fixture(scope="module")
def mimic_root(tmp_path_factory):
    return write_mimic_tree(tmp_path_factory.mktemp("mimic"), 24, 40)


@pytest.mark.parametrize("source", ["nih", "chexpert", "mimic", "generic"])
def test_each_layout_loads_splits_passes_the_age_rule_and_ingests(source, request, tmp_path):
    root = {"nih": "mini_nih", "chexpert": "mini_chexpert", "mimic": "mimic_root",
            "generic": "generic_root"}[source]
    cfg = XrayConfig.from_dict({"source": source, "data_root": str(request.getfixturevalue(root))})
    said = []
    studies, info = prepare_labelled(cfg, said.append)
    assert len(studies) == info["n_studies"] > 0 and set(studies["split"]) <= {
        "train", "calib", "select", "test"}
    assert studies.groupby("patient_id")["split"].nunique().max() == 1  # a patient in one split
    assert studies["age"].notna().all() and set(studies["sex"]) <= {"F", "M"}
    n_in = check_labelled_scope(IntendedUse(), studies, 32)
    assert n_in >= len(studies) // 2  # adults with stated frontal views
    report = ingest_to_shards(studies, tmp_path / "shards", image_size=32, parallel=False)
    assert report.n_out == len(studies) and not report.skipped


def test_mimic_labeller_and_uncertain_policy_are_chosen_from_the_config(mimic_root):
    """MIMIC-CXR ships two labellers' tables; the config picks one (and CheXpert's -1 policy),
    and the run's data report says which was read."""
    def load(**kw):
        cfg = XrayConfig.from_dict({"source": "mimic", "data_root": str(mimic_root), **kw})
        return prepare_labelled(cfg, lambda _: None)

    chexpert, info = load()
    negbio, negbio_info = load(mimic_labeler="negbio")
    ones, _ = load(mimic_labeler="negbio", uncertain_labels="ones")
    assert (info["labeler"], negbio_info["labeler"]) == ("chexpert", "negbio")
    both = chexpert.merge(negbio, on="study_id", suffixes=("_c", "_n"))
    assert (both["label_c"] != both["label_n"]).any()  # the other table was read
    assert len(ones) >= len(negbio)  # "ones" keeps the studies "ignore" drops on a -1
    with pytest.raises(ValueError, match="mimic_labeler must be one of"):
        XrayConfig.from_dict({"mimic_labeler": "radgraph"})
