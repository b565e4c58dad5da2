"""The labelled-study sources, reached through the config as a user would name them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from triage_ray.xray.config import XrayConfig
from triage_ray.xray.pipeline import prepare_labelled
from triage_ray.xray.sources import SOURCES


def test_every_source_has_a_description():
    assert {"generated", "nih", "chexpert", "generic"} <= set(SOURCES)
    assert all(s.doc for s in SOURCES.values())


def test_the_generic_csv_source_loads_splits_and_reports_representativeness(tmp_path):
    rng = np.random.default_rng(0)
    n = 120
    (tmp_path / "img").mkdir()
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8), "L").save(
            tmp_path / "img" / f"s{i}.png")
    pd.DataFrame({"path": [f"img/s{i}.png" for i in range(n)],
                  "patient_id": [f"p{i // 2}" for i in range(n)],
                  "label": rng.integers(0, 2, n), "view": rng.choice(["PA", "AP"], n)}
                 ).to_csv(tmp_path / "labels.csv", index=False)
    cfg = XrayConfig.from_dict({"source": "generic", "data_root": str(tmp_path)})
    studies, info = prepare_labelled(cfg, log=lambda *_: None)
    assert len(studies) == n and info["source"] == "generic" and sum(info["splits"].values()) == n
    assert set(studies["view"]) == {"PA", "AP"}  # the optional view column is read
    assert info["representativeness"]["splits"].keys() == {"train", "calib", "select", "test"}


def test_finding_vocabulary_is_the_sources_and_rejects_names_outside_it():
    from triage_ray.data.schema import NIH_FINDINGS
    from triage_ray.xray.sources import finding_vocabulary

    table = pd.DataFrame({"study_id": ["a", "b"], "findings": ["Mass|Nodule", ""]})
    assert finding_vocabulary("nih", table) == NIH_FINDINGS
    assert finding_vocabulary("generic", table) == ("Mass", "Nodule")  # no declared list: the table's
    bad = pd.DataFrame({"study_id": ["a", "b"], "findings": ["", "Lung Opacity"]})
    with pytest.raises(ValueError, match=r"Lung Opacity.*study b"):
        finding_vocabulary("nih", bad)


def test_a_real_source_says_what_it_will_do_and_names_the_flags(tmp_path):
    from triage_ray.xray.sources import startup_notes

    (tmp_path / "w.pt").write_bytes(b"")
    real = startup_notes(XrayConfig.from_dict({"source": "chexpert", "data_root": "/d"}))
    assert real[0].startswith("source chexpert at /d; input size 64 px; init scratch; pile "
                              "GENERATED")
    text = "\n".join(real[1:])
    for flag in ("--pile-root", "--profile gpu", "image_size=224", "pretrained=true", "reference="):
        assert flag in text, flag
    own = startup_notes(XrayConfig.from_dict({
        "source": "chexpert", "data_root": "/d", "pile_root": "/p", "pile_source": "dicom",
        "image_size": 224, "pretrained": True, "weights_file": str(tmp_path / "w.pt"), "reference": "csv",
        "reference_labels": "/r.csv"}))
    assert own == ["source chexpert at /d; input size 224 px; init file; pile dicom export at /p; "
                   "reference csv; 1 Train worker on CPUs, fp32"]
    assert len(startup_notes(XrayConfig())) == 1  # the generated default: nothing to warn about
    mixed = startup_notes(XrayConfig.from_dict({"pile_root": "/p", "pile_source": "dicom"}))
    assert "trains on GENERATED images but triages the files at /p (a real pile unless" in mixed[1]


def test_a_table_without_findings_trains_on_the_abnormal_label_and_says_so():
    """A generic CSV of 0/1 labels names no finding: per-finding supervision (the default) made
    every trial fail in its first step; the run now trains binary and the log says why."""
    from triage_ray.xray.sources import supervision_for

    said: list[str] = []
    cfg = XrayConfig.from_dict({"source": "generic", "data_root": "/d"})
    assert cfg.supervision == "multilabel"
    assert supervision_for(cfg, (), said.append).supervision == "binary"
    assert "supervision=binary" in said[0] and "findings column" in said[0]
    assert supervision_for(cfg, ("Effusion",), said.append) is cfg and len(said) == 1
