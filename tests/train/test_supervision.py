"""Supervision registry: targets per kind, and bad labels fail loudly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from triage_ray.data.schema import NIH_FINDINGS
from triage_ray.train.supervision import SUPERVISIONS, get_supervision


@pytest.mark.parametrize("name", sorted(SUPERVISIONS))
def test_every_supervision_keeps_output_zero_the_abnormal_label(name):
    sup = get_supervision(name, NIH_FINDINGS)
    y = sup.targets(np.array([1, 0, 1]), np.array(["Nodule", "", "Effusion|Mass"]))
    assert y.shape == (3, sup.n_outputs) and y.dtype == np.float32
    assert y[:, 0].tolist() == [1, 0, 1]
    loss = sup.loss(torch.zeros(3, sup.n_outputs), torch.from_numpy(y))
    assert loss.item() == pytest.approx(np.log(2), rel=1e-5)


def test_multilabel_marks_each_written_finding():
    sup = get_supervision("multilabel", NIH_FINDINGS)
    y = sup.targets(np.array([1, 0]), np.array(["Effusion|Mass", ""]))
    on = {NIH_FINDINGS[k - 1] for k in np.flatnonzero(y[0])[1:]}
    assert on == {"Effusion", "Mass"} and y[1].sum() == 0


def test_unknown_finding_and_unlabeled_studies_are_errors():
    sup = get_supervision("multilabel", NIH_FINDINGS)
    with pytest.raises(ValueError, match="Lung Opacity"):
        sup.targets(np.array([1]), np.array(["Lung Opacity"]))
    with pytest.raises(ValueError, match="0/1"):
        get_supervision("binary").targets(np.array([1, -1]), np.array(["", ""]))
    with pytest.raises(ValueError, match="vocabulary"):
        get_supervision("multilabel", ())
    with pytest.raises(ValueError, match="binary"):
        get_supervision("binarry")
