"""The intended use's rules, one at a time: what fails, what is implied by a layout, what is
refused as unknown."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from triage_ray.gate import IntendedUse, image_reasons, scope_reasons


def _table(**cols) -> pd.DataFrame:
    base = {"study_id": ["a", "b", "c"], "modality": ["DX", "CR", "DX"],
            "body_part": ["CHEST", "THORAX", "CHEST"], "view": ["PA", "AP", "PA"],
            "age": [40.0, 65.0, 18.0], "rows": [512, 512, 512], "columns": [512, 600, 512],
            "source": "dicom"}
    base.update(cols)
    return pd.DataFrame(base)


def test_an_adult_frontal_chest_passes_every_rule():
    reasons, checked = scope_reasons(_table(), IntendedUse(), input_px=224)
    assert reasons == [[], [], []]
    assert set(checked.values()) == {"per study"}


@pytest.mark.parametrize(("column", "value", "expected"), [
    ("view", "LATERAL", "view LATERAL"), ("view", "", "view not stated"),
    ("modality", "CT", "modality CT"), ("body_part", "HAND", "body part HAND"),
    ("body_part", None, "body part not stated"), ("age", 7.0, "age 7 (under 18)"),
    ("age", np.nan, "age not stated"), ("age", 412.0, "age 412 is not plausible"),
    ("rows", 100, "image 100 px (under 224)"),
])
def test_each_rule_names_its_failure(column, value, expected):
    t = _table()
    t[column] = t[column].astype(object)
    t.loc[1, column] = value
    reasons, _ = scope_reasons(t, IntendedUse(), input_px=224)
    assert reasons[0] == [] and reasons[2] == []
    assert any(r.startswith(expected) for r in reasons[1]), reasons[1]


def test_a_layout_without_a_tag_is_checked_by_its_layout(tmp_path):
    from PIL import Image

    paths = []
    for i, side in enumerate((256, 64)):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(np.zeros((side, side), np.uint8)).save(paths[-1])
    t = pd.DataFrame({"study_id": ["x", "y"], "view": ["PA", "AP"], "age": [30.0, 50.0],
                      "path": paths, "source": "nih"})
    reasons, checked = scope_reasons(t, IntendedUse(), input_px=128)
    assert checked["modality"].startswith("implied by the nih layout")
    assert checked["body part"].startswith("implied by the nih layout")
    assert reasons == [[], ["image 64 px (under 128)"]]  # size read from the PNG's header


def test_an_overridden_scope_changes_what_passes():
    use = IntendedUse.from_dict({"views": ["pa"], "min_age_years": 16})
    t = _table(age=[16.5, 40.0, 40.0])
    reasons, _ = scope_reasons(t, use, input_px=224)
    assert reasons[0] == [] and reasons[1] == ["view AP (validated: PA)"]
    assert "PA" in use.describe(224)[2] and "16" in use.describe(224)[3]
    assert IntendedUse.from_dict(use.to_dict()) == use


def test_bad_scopes_are_refused():
    with pytest.raises(ValueError, match="unknown key"):
        IntendedUse.from_dict({"min_age": 18})
    with pytest.raises(ValueError, match="at least one"):
        IntendedUse(views=())
    with pytest.raises(ValueError, match="ood_false_flag_rate"):
        IntendedUse(ood_false_flag_rate=0.0)


def test_image_checks_find_blank_and_flat_images():
    stats = pd.DataFrame({"study_id": ["ok", "blank", "flat"], "std": [40.0, 0.0, 5.0],
                          "p01": [10.0, 118.0, 100.0], "p99": [240.0, 118.0, 112.0]})
    out = image_reasons(stats, IntendedUse())
    assert set(out) == {"blank", "flat"}
    assert out["blank"][0].startswith("blank image") and out["flat"][0].startswith("low dynamic")
