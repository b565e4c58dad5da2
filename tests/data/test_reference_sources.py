"""Each registered reference source, reached through the X-ray config as a user would name it."""

from __future__ import annotations

from triage_ray.xray.config import XrayConfig
from triage_ray.xray.pipeline import prepare_labelled
from triage_ray.xray.reference import REFERENCES, build_reference


def test_every_reference_source_is_registered():
    assert {"panel", "csv", "google2019", "chexpert_valid", "written"} <= set(REFERENCES)


def test_chexpert_validation_studies_become_the_reference(mini_chexpert):
    cfg = XrayConfig.from_dict({"source": "chexpert", "data_root": str(mini_chexpert),
                                "reference": "chexpert_valid"})
    studies, _ = prepare_labelled(cfg, log=lambda *_: None)
    ref = build_reference(cfg, studies)
    split = studies.set_index("study_id")["split"]
    assert len(ref.labels) > 0 and set(split[ref.labels.index]) <= {"select", "test"}
    valid_ids = set(studies.loc[studies["path"].str.contains("/valid/"), "study_id"])
    assert set(ref.labels.index) <= valid_ids  # only the radiologist-labelled studies
    assert ref.scope and "3 radiologists" in ref.scope and ref.reads_per_study == 3.0


def test_csv_reference_for_any_source(mini_chexpert, tmp_path):
    cfg0 = XrayConfig.from_dict({"source": "chexpert", "data_root": str(mini_chexpert)})
    studies, _ = prepare_labelled(cfg0, log=lambda *_: None)
    picked = studies[studies["split"].isin(["select", "test"])].head(6)
    csv = tmp_path / "ref.csv"
    picked.assign(reference_label=1 - picked["label"].clip(0, 1))[["study_id", "reference_label"]
                                                                 ].to_csv(csv, index=False)
    cfg = XrayConfig.from_dict({**cfg0.to_dict(), "reference": "csv", "reference_labels": str(csv)})
    ref = build_reference(cfg, studies)
    assert sorted(ref.labels.index) == sorted(picked["study_id"])
    assert ref.cost(1080.0)["reads"] == 3.0 * len(picked)
