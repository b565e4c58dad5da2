"""The learning curve's subsets are nested and whole-patient; its inits always answer
"does pretraining pay?" when weights exist."""

from __future__ import annotations

import numpy as np
import pandas as pd

from triage_ray.xray.learning_curve import curve_inits, nested_order


def test_nested_order_takes_whole_patients_in_a_fixed_order():
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"patient_id": rng.integers(0, 40, 200).astype(str)})
    order = nested_order(train, seed=5)
    assert sorted(order) == list(range(200))  # every training row once
    assert np.array_equal(order, nested_order(train, seed=5))
    patients = train["patient_id"].to_numpy()[order]
    # each patient's studies are contiguous, so a subset of size n splits at most one patient
    for pid in np.unique(patients):
        at = np.flatnonzero(patients == pid)
        assert at[-1] - at[0] + 1 == len(at), pid
    assert not np.array_equal(order, nested_order(train, seed=6))


def test_curve_inits():
    assert curve_inits("pretrain", {"resnet10t": "w.pth"}) == ["scratch", "pretrain"]
    assert curve_inits("scratch", {"resnet10t": "w.pth"}) == ["scratch", "pretrain"]
    assert curve_inits("scratch", {}) == ["scratch"]
    assert curve_inits("hub", {}) == ["scratch", "hub"]
