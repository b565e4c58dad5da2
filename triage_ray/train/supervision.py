"""What a network is trained to predict, one registered entry per kind of supervision.

Every supervision keeps output 0 as the normal/abnormal logit, so calibration, abstention and the
pile see one logit whatever was trained. `multilabel` adds one output per written finding (the
CheXNet / torchxrayvision practice): the per-finding targets give the shared features more to learn
from than one bit per study, and the abnormal score is still a logit of its own, not a product of
finding probabilities (which would be miscalibrated by the findings' correlations).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Supervision:
    """targets(labels (B,), findings (B,) "|"-joined str) -> (B, n_outputs) float32 in {0, 1}."""

    name: str
    n_outputs: int
    targets: Callable[[np.ndarray, np.ndarray], np.ndarray]

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean binary cross-entropy over studies and outputs. (B, K) logits, (B, K) targets."""
        import torch.nn.functional as F

        return F.binary_cross_entropy_with_logits(logits, targets)


SUPERVISIONS: dict[str, Callable[[Sequence[str]], Supervision]] = {}


def register_supervision(fn: Callable[[Sequence[str]], Supervision]):
    """Register a factory `fn(findings_vocabulary) -> Supervision` under its function name."""
    SUPERVISIONS[fn.__name__] = fn
    return fn


def get_supervision(name: str, vocabulary: Sequence[str] = ()) -> Supervision:
    if name not in SUPERVISIONS:
        raise ValueError(f"unknown supervision {name!r}; choose one of {sorted(SUPERVISIONS)}")
    return SUPERVISIONS[name](tuple(vocabulary))


@register_supervision
def binary(vocabulary: Sequence[str]) -> Supervision:
    """One logit: the written normal/abnormal label."""

    def targets(labels: np.ndarray, findings: np.ndarray) -> np.ndarray:
        return _check_labels(labels)[:, None]

    return Supervision("binary", 1, targets)


@register_supervision
def multilabel(vocabulary: Sequence[str]) -> Supervision:
    """1 + K logits: abnormal, then one per finding of the source's vocabulary (written labels)."""
    if not vocabulary:
        raise ValueError("multilabel supervision needs the source's finding vocabulary")
    index = {name: k for k, name in enumerate(vocabulary)}

    def targets(labels: np.ndarray, findings: np.ndarray) -> np.ndarray:
        out = np.zeros((len(labels), 1 + len(index)), dtype=np.float32)
        out[:, 0] = _check_labels(labels)
        for i, cell in enumerate(findings):
            for name in filter(None, str(cell).split("|")):
                if name not in index:
                    raise ValueError(f"finding {name!r} is not in the vocabulary {list(index)}")
                out[i, 1 + index[name]] = 1.0
        return out

    return Supervision("multilabel", 1 + len(index), targets)


def _check_labels(labels: np.ndarray) -> np.ndarray:
    y = np.asarray(labels)
    if y.size and not np.isin(y, (0, 1)).all():
        bad = sorted(set(np.unique(y).tolist()) - {0, 1})
        raise ValueError(f"training labels must be 0/1; found {bad} (unlabeled studies in training?)")
    return y.astype(np.float32)
