"""Control settings: data where the sign of transfer is known before any model is trained.

They check the measurement, not the hospital: if the study cannot find positive transfer where it
must exist, or negative transfer where it must, its transfer map means nothing.

- `positive`: both labels are functions of one latent, the complaint, which the model has to
  learn from the messy free text (synonyms, abbreviations, typos). Urgency is the complaint's
  acuity quartile in the complaint table, specialty its main service; no rater noise, and vitals
  carry no label signal. A shared encoder gets two supervisions of the same complaint
  recognition, so at small training sizes multi-task should help: expected at least one task
  positive and none negative.
- `negative`: urgency as above; specialty is drawn at random, independent of the record. The
  specialty head can only fit it by memorising records through the shared encoder, which
  competes with urgency: expected negative transfer on urgency.

Records, splits and text come from the same generator as the study's data
(`generate.generate_with_latents`); only the labels are replaced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from triage_ray.intake.complaints import COMPLAINTS
from triage_ray.intake.generate import GeneratedRecords, generate_with_latents
from triage_ray.intake.schema import SPECIALTIES, URGENCY_TIERS
from triage_ray.intake.transfer import NEGATIVE, POSITIVE

BASE_RELATEDNESS = 0.5  # the text does not depend on it; the labels are replaced


def complaint_tier() -> np.ndarray:
    """(n_complaints,) urgency tier of each complaint: its acuity quartile, sickest first."""
    acuity = np.array([c.acuity for c in COMPLAINTS])
    rank = np.argsort(np.argsort(acuity, kind="stable"), kind="stable")
    quartile = np.digitize(rank, np.quantile(rank, [0.25, 0.5, 0.75]))
    return (len(URGENCY_TIERS) - 1 - quartile).astype(np.int64)


def complaint_service() -> np.ndarray:
    """(n_complaints,) each complaint's main service (its largest routing weight)."""
    return np.array([SPECIALTIES.index(max(c.routes, key=c.routes.__getitem__))
                     for c in COMPLAINTS], dtype=np.int64)


@dataclass(frozen=True)
class Control:
    name: str
    expectation: str  # in words, for the report
    labels: Callable[[GeneratedRecords, np.random.Generator], dict[str, np.ndarray]]
    passed: Callable[[Mapping[str, str]], bool]  # task -> verdict


def _positive(g: GeneratedRecords, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"urgency": complaint_tier()[g.complaint], "specialty": complaint_service()[g.complaint]}


def _negative(g: GeneratedRecords, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"urgency": complaint_tier()[g.complaint],
            "specialty": rng.integers(0, len(SPECIALTIES), g.complaint.size)}


CONTROLS: dict[str, Control] = {
    "positive": Control(
        "positive", "both labels follow the complaint: multi-task should help at least one task "
        "and hurt none", _positive,
        lambda v: POSITIVE in v.values() and NEGATIVE not in v.values()),
    "negative": Control(
        "negative", "specialty is random: sharing should hurt urgency", _negative,
        lambda v: v.get("urgency") == NEGATIVE),
}


def control_records(name: str, n: int, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Generated records with the control's labels, and a data card saying what they are."""
    if name not in CONTROLS:
        raise ValueError(f"unknown control {name!r}; choose from {sorted(CONTROLS)}")
    control = CONTROLS[name]
    g = generate_with_latents(n, BASE_RELATEDNESS, seed)
    labels = control.labels(g, np.random.default_rng([seed, 7, len(name)]))
    df = g.records.assign(**labels)
    card = {**g.card, "control": name, "expectation": control.expectation,
            "note": "labels replaced by the control's (controls.py); text and fields as generated"}
    return df, card
