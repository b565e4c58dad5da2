"""Platt scaling (Platt 1999): p = sigmoid(a * z + b), two parameters fitted by minimising NLL.

Binary logits (n,) get one (a, b); multiclass logits (n, K) get one (a_k, b_k) per class fitted
one-vs-rest on log softmax(z)[:, k] (class k's log-probability: the raw logit z_k alone ignores the
other classes), and the K sigmoids are renormalised to sum to 1 (the one-vs-rest scheme of
scikit-learn's CalibratedClassifierCV). Unlike temperature scaling the offset b can move the decision
boundary, so it can fix a prior mismatch as well as over-confidence. Plain 0/1 targets are used
(not Platt's smoothed targets): with thousands of calibration studies the difference is negligible.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit, log_softmax

from triage_ray.calibrate.registry import register_calibrator
from triage_ray.calibrate.validation import as_labels, as_logits, n_classes_of


def _nll_and_grad(theta: np.ndarray, z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    a, b = theta
    u = a * z + b
    nll = float(-np.mean(y * log_expit(u) + (1 - y) * log_expit(-u)))
    r = expit(u) - y
    return nll, np.array([np.mean(r * z), np.mean(r)])


def _fit_ab(z: np.ndarray, y: np.ndarray, max_iter: int) -> tuple[float, float, bool]:
    res = minimize(_nll_and_grad, x0=np.array([1.0, 0.0]), args=(z, y.astype(np.float64)),
                   jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    return float(res.x[0]), float(res.x[1]), bool(res.success)


@register_calibrator("platt")
class PlattScaler:
    """Learned: coef_ (a; (K,) for multiclass), intercept_ (b), n_classes_, converged_."""

    def __init__(self, max_iter: int = 200) -> None:
        self.max_iter = max_iter

    def fit(self, logits: object, y: object) -> PlattScaler:
        z = as_logits(logits)
        k = n_classes_of(z)
        lab = as_labels(y, z.shape[0], k)
        if np.unique(lab).size < 2:
            raise ValueError("y: only one class present; Platt scaling is not identifiable")
        cols = [z] if z.ndim == 1 else list(log_softmax(z, axis=1).T)
        targets = [lab] if z.ndim == 1 else [(lab == j).astype(np.int64) for j in range(k)]
        fits = [_fit_ab(c, t, self.max_iter) for c, t in zip(cols, targets, strict=True)]
        self.coef_ = np.array([f[0] for f in fits])
        self.intercept_ = np.array([f[1] for f in fits])
        if z.ndim == 1:
            self.coef_, self.intercept_ = float(self.coef_[0]), float(self.intercept_[0])
        self.n_classes_ = k
        self.converged_ = all(f[2] for f in fits)
        return self

    def predict_proba(self, logits: object) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise RuntimeError("PlattScaler is not fitted; call fit(logits, y) first")
        z = as_logits(logits)
        if n_classes_of(z) != self.n_classes_:
            raise ValueError(f"logits: fitted for {self.n_classes_} classes, got shape {z.shape}")
        if z.ndim == 1:
            return expit(self.coef_ * z + self.intercept_)
        u = log_softmax(z, axis=1)  # (n, K): class k's own log-probability is its feature
        q = expit(u * self.coef_[None, :] + self.intercept_[None, :])  # (n, K), one-vs-rest
        return q / q.sum(axis=1, keepdims=True)
