"""Isotonic calibration (Zadrozny & Elkan 2002): the best monotone step map from logit to p.

Non-parametric, so it can fix any monotone miscalibration, but it needs more data than temperature
or Platt scaling, produces ties (plateaus: many studies share one p, which coarsens thresholds) and
can output exactly 0 or 1; outputs are clipped to [eps, 1 - eps] so NLL stays finite and no study
is ever "certainly normal". Multiclass: one-vs-rest on each class's log softmax probability,
then renormalised.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax

from triage_ray.calibrate.registry import register_calibrator
from triage_ray.calibrate.validation import as_labels, as_logits, n_classes_of


@register_calibrator("isotonic")
class IsotonicCalibrator:
    """Learned: regressors_ (one sklearn IsotonicRegression per column), n_classes_."""

    def __init__(self, eps: float = 1e-6) -> None:
        self.eps = eps

    def fit(self, logits: object, y: object) -> IsotonicCalibrator:
        from sklearn.isotonic import IsotonicRegression  # here: importing sklearn takes ~1 s

        z = as_logits(logits)
        k = n_classes_of(z)
        lab = as_labels(y, z.shape[0], k)
        if np.unique(lab).size < 2:
            raise ValueError("y: only one class present; isotonic calibration is not identifiable")
        cols = [z] if z.ndim == 1 else list(log_softmax(z, axis=1).T)
        targets = [lab] if z.ndim == 1 else [(lab == j).astype(np.int64) for j in range(k)]
        self.regressors_ = [
            IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(c, t)
            for c, t in zip(cols, targets, strict=True)
        ]
        self.n_classes_ = k
        return self

    def predict_proba(self, logits: object) -> np.ndarray:
        if not hasattr(self, "regressors_"):
            raise RuntimeError("IsotonicCalibrator is not fitted; call fit(logits, y) first")
        z = as_logits(logits)
        if n_classes_of(z) != self.n_classes_:
            raise ValueError(f"logits: fitted for {self.n_classes_} classes, got shape {z.shape}")
        if z.ndim == 1:
            return np.clip(self.regressors_[0].predict(z), self.eps, 1.0 - self.eps)
        u = log_softmax(z, axis=1)  # (n, K), the features the regressors were fitted on
        q = np.column_stack([r.predict(u[:, j]) for j, r in enumerate(self.regressors_)])
        q = np.clip(q, self.eps, 1.0 - self.eps)  # (n, K); clipping also rules out all-zero rows
        return q / q.sum(axis=1, keepdims=True)
