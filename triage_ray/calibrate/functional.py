"""Numerically stable link functions used by every calibrator (numpy / scipy only).

`sigmoid` is the project's one logistic function, `triage_ray.common.stats.sigmoid`, re-exported
here beside its inverse `logit`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_expit, logsumexp, softmax

from triage_ray.common.stats import sigmoid

__all__ = ["binary_nll_of_logits", "logit", "multiclass_nll_of_logits", "sigmoid", "softmax_rows"]

def softmax_rows(z: np.ndarray) -> np.ndarray:
    return softmax(z, axis=1)


def logit(p: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Inverse sigmoid, clipped so p in {0, 1} maps to a large finite logit."""
    q = np.clip(p, eps, 1.0 - eps)
    return np.log(q) - np.log1p(-q)


def binary_nll_of_logits(u: np.ndarray, y: np.ndarray) -> float:
    """Mean NLL of labels y in {0, 1} under p = sigmoid(u); stable for large |u|."""
    return float(-np.mean(y * log_expit(u) + (1 - y) * log_expit(-u)))


def multiclass_nll_of_logits(u: np.ndarray, y: np.ndarray) -> float:
    """Mean NLL of integer labels y under softmax(u) rows; u is (n, K)."""
    return float(np.mean(logsumexp(u, axis=1) - u[np.arange(u.shape[0]), y]))
