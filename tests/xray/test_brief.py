"""The brief's answer reads the pile's prevalence in the reference's terms, and only if trusted."""

from __future__ import annotations

import numpy as np

from triage_ray.xray.brief import pile_prevalence
from triage_ray.xray.operating import ScoredSet


class _Summary:
    def __init__(self, em: dict, validated: tuple[float, float]):
        self.prevalence = {"em": {"value": 0.4, "ci_low": 0.38, "ci_high": 0.42},
                           "validated_range": [0.3, 0.6],
                           "reference": {"em": em, "validated_range": list(validated)}}


SELECT = ScoredSet(p=np.full(400, 0.5), y=np.r_[np.ones(200), np.zeros(200)].astype(np.int64),
                   label_source="panel")


def test_a_trusted_reference_estimate_is_used():
    em = {"value": 0.52, "ci_low": 0.49, "ci_high": 0.55}
    got = pile_prevalence(_Summary(em, (0.35, 0.65)), SELECT)
    assert got["value"] == 0.52 and got["basis"] == "EM estimate on the pile"


def test_an_estimate_outside_the_validated_range_falls_back_and_says_so():
    em = {"value": 0.0, "ci_low": 0.0, "ci_high": 0.02}  # EM ran to the edge (a weak model)
    got = pile_prevalence(_Summary(em, (0.35, 0.65)), SELECT)
    assert got["value"] == 0.5 and got["ci_low"] < 0.5 < got["ci_high"]
    assert "0.000" in got["basis"] and "not used" in got["basis"]


def test_the_reference_arithmetic_matches_the_published_numbers():
    import pandas as pd

    from triage_ray.xray.reference import ReferenceStandard

    ref = ReferenceStandard("csv", pd.Series([0, 1], index=["a", "b"]), "panel", None, 3.0,
                            {"adjudicated": {"select": 250, "test": 0}})
    a = ref.arithmetic(0.01, 0.05)
    assert a["min_auto_normal"] == {"no_abnormal": 299, "one_abnormal": 473, "five_abnormal": 1049}
    assert a["too_small"]  # 250 adjudicated studies can never certify 1%
    assert not ref.arithmetic(0.05, 0.05)["too_small"]


def test_a_gain_within_simulation_noise_is_no_gain():
    from triage_ray.xray.brief import shown_gain

    assert shown_gain({"mean": 1.000005, "ci_low": 0.99997, "ci_high": 1.00004}) == 1.0
    assert shown_gain({"mean": 1.3, "ci_low": 1.25, "ci_high": 1.35}) == 1.3
    assert shown_gain({"mean": 1.3, "ci_low": None, "ci_high": None}) == 1.0
