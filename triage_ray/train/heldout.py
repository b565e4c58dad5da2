"""Held-out logits as the training stage hands them on (numpy only: calibration and scoring
read them without importing torch)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

HELDOUT_SPLITS = ("calib", "select", "test")
HELDOUT_FILE = "heldout.npz"
# the held-out split the Train loop also scores every epoch (validation loss and AUROC for Tune)
VALIDATION_SPLIT = "calib"


@dataclass(frozen=True)
class HeldOutLogits:
    """Per split: study ids, (noisy) labels and raw logits, as written by the final checkpoint."""

    study_id: dict[str, np.ndarray]
    label: dict[str, np.ndarray]
    logit: dict[str, np.ndarray]

    @classmethod
    def load(cls, checkpoint_dir: str | Path) -> HeldOutLogits:
        data = np.load(Path(checkpoint_dir) / HELDOUT_FILE)
        return cls(
            study_id={s: data[f"{s}_study_id"] for s in HELDOUT_SPLITS},
            label={s: data[f"{s}_label"] for s in HELDOUT_SPLITS},
            logit={s: data[f"{s}_logit"] for s in HELDOUT_SPLITS},
        )
