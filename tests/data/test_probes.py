"""The generated-data shift probes stand for films that pass every check but the feature check:
each is a chest-like film with the generator's gray range (so the image checks do not catch it),
and each differs from the ordinary films it stands beside in the way it is named for."""

from __future__ import annotations

import numpy as np
import pandas as pd

from triage_ray.data.synth.probes import _blur3, generated_shift_probes, heavy_habitus_images
from triage_ray.data.synth.render import StudySpec, render_study
from triage_ray.gate import IntendedUse, image_reasons

PX, N = 64, 12


def _stats(px: np.ndarray) -> pd.DataFrame:
    flat = px.reshape(len(px), -1).astype(np.float32)
    p01, p99 = np.percentile(flat, [1, 99], axis=1)
    return pd.DataFrame({"study_id": [str(i) for i in range(len(px))], "std": flat.std(axis=1),
                         "p01": p01, "p99": p99})


def _brightest_column(px: np.ndarray) -> np.ndarray:
    """Per film, where (-1 left .. 1 right) the mid-chest rows are brightest."""
    lo, hi = int(0.1 * PX), int(0.9 * PX)
    band = px[:, int(0.25 * PX):int(0.6 * PX), lo:hi].astype(float).mean(axis=1)
    return (band.argmax(axis=1) + lo + 0.5) / PX * 2 - 1


def test_generated_shift_probes_pass_the_image_checks_and_differ_as_named():
    probes = generated_shift_probes(N, PX, seed=3)
    assert set(probes) == {"children aged 2-8 (generated)", "lateral films tagged as frontal (drawn)",
                           "portable AP, heavier habitus (generated)"}
    ordinary = np.stack([render_study(StudySpec(index=i, patient=i, age=55, female=i % 2 == 0,
                                                view="AP"), PX, 3) for i in range(N)])
    for kind, px in probes.items():
        assert px.shape == (N, PX, PX) and px.dtype == np.uint8, kind
        assert not image_reasons(_stats(px), IntendedUse()), kind  # only the feature check is left
        assert not np.array_equal(px, ordinary), kind
    # across the mid-chest, a frontal film is brightest at the midline (mediastinum and spine);
    # a lateral one far to the side (the spine, behind the lungs)
    assert np.abs(_brightest_column(ordinary)).max() < 0.25
    assert (_brightest_column(probes["lateral films tagged as frontal (drawn)"]) > 0.4).all()
    # windowed back to the ordinary gray range, a heavier patient's film is noisier (less signal
    # through more tissue, stretched)
    heavy = probes["portable AP, heavier habitus (generated)"]
    same_patients = heavy_habitus_images(N, PX, seed=3, ordinary=True)
    assert (_fine_detail(heavy) > _fine_detail(same_patients)).mean() >= 0.75


def _fine_detail(px: np.ndarray) -> np.ndarray:
    """Per film, the SD of what a 3 x 3 blur removes (noise and fine edges)."""
    return (px.astype(np.float32) - _blur3(px)).std(axis=(1, 2))
