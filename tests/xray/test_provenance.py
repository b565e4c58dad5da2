"""One provenance record from every input: the banner for each combination of generated and real
training, reference and pile, and the rule that only an all-real run can lead to a decision."""

from __future__ import annotations

import itertools

import pytest

from triage_ray.xray.provenance import Provenance


def _prov(trained_on_generated: bool, pile_generated: bool, reference: str) -> Provenance:
    return Provenance.of(source="generated" if trained_on_generated else "chexpert",
                         data_root=None if trained_on_generated else "/data/chexpert",
                         reference_source=reference, label_source=f"{reference} labels",
                         pile_root=None if pile_generated else "/pacs/export", pile_layout="dicom")


@pytest.mark.parametrize(("trained", "pile", "reference"), [
    (t, p, r) for t, p, r in itertools.product((True, False), (True, False),
                                               ("panel", "written", "csv"))
    if not (r == "panel" and not t)  # the simulated panel exists for generated studies only
])
def test_every_combination_gets_a_banner_that_names_what_is_generated(trained, pile, reference):
    prov = _prov(trained, pile, reference)
    banner = prov.banner()
    assert prov.training.generated is trained and prov.pile.generated is pile
    assert prov.reference.generated is (trained or reference == "panel")
    assert prov.pipeline_only is trained and prov.any_generated is (trained or pile)
    if trained and pile:
        assert banner.startswith("GENERATED DATA") and "No patient images were used" in banner
    elif trained:  # a real pile behind a generated model: never "no patient images"
        assert banner.startswith("MIXED DATA, NOT A CLINICAL RESULT")
        assert "No patient images" not in banner and "/pacs/export" in banner
    elif pile:
        assert banner.startswith("MIXED DATA: the model was trained and certified on real")
        assert "pile GENERATED" in banner and "/data/chexpert" in banner
    else:
        assert banner.startswith("Real data") and "GENERATED" not in banner
    assert Provenance.from_dict(prov.to_dict()) == prov


def test_a_run_from_before_the_record_gets_one_from_its_flags():
    old = {"generated_data": False, "data": {"source": "nih"},
           "pile": {"generated": True, "root": "data/generated/pile"},
           "reference": {"source": "written", "label_source": "written labels"}}
    prov = Provenance.from_metrics(old)
    assert not prov.training.generated and prov.pile.generated and not prov.pipeline_only
    assert Provenance.from_metrics({**old, "provenance": _prov(True, True, "panel").to_dict()
                                    }).pipeline_only


def test_a_pile_folder_of_files_the_generator_made_is_generated():
    prov = Provenance.of(source="generated", data_root=None, reference_source="panel",
                         label_source="panel", pile_root="/tmp/dicom-pile", pile_layout="dicom",
                         pile_generated=True)
    assert prov.pile.generated and prov.banner().startswith("GENERATED DATA")
    assert "every file made by" in prov.pile.what


def test_an_unread_pile_folder_is_called_neither_real_nor_generated():
    """At a run's start a --pile-root folder is unread: it may hold only the generator's files."""
    prov = Provenance.of(source="generated", data_root=None, reference_source="panel",
                         label_source="panel", pile_root="/p", pile_layout="dicom")
    opening = prov.opening(pile_read=False)
    assert opening.startswith("Inputs: training data GENERATED") and "decided when it is read" in opening
    assert "real studies" not in opening and prov.opening(pile_read=True) == prov.banner()
    own = Provenance.of(source="generated", data_root=None, reference_source="panel",
                        label_source="panel", pile_root=None, pile_layout="nih")
    assert own.opening(pile_read=False) == own.banner()  # the generated pile is known at start
