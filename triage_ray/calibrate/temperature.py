"""Temperature scaling (Guo et al., ICML 2017): one scalar T, logits / T, fitted by minimising NLL.

Works for binary heads (logits (n,), p = sigmoid) and multiclass heads (logits (n, K), softmax).
The optimiser is scipy's L-BFGS-B on the inverse temperature beta = 1/T: the NLL of beta * z is
convex in beta (a generalised linear model with one coefficient), so the optimum found is global
and does not depend on the starting point. Dividing by T never changes the ranking (AUROC) or the
argmax, only the confidence.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, logsumexp, softmax

from triage_ray.calibrate.functional import binary_nll_of_logits, multiclass_nll_of_logits
from triage_ray.calibrate.registry import register_calibrator
from triage_ray.calibrate.validation import as_labels, as_logits, n_classes_of

# Search range for beta = 1/T: T in [0.001, 1000] covers any network seen in practice; hitting a
# bound is reported in `at_bound_` instead of being hidden.
BETA_BOUNDS = (1e-3, 1e3)


def _nll_and_grad(beta: float, z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    u = beta * z
    if z.ndim == 1:  # (n,)
        nll = binary_nll_of_logits(u, y)
        grad = float(np.mean((expit(u) - y) * z))
    else:  # (n, K)
        rows = np.arange(z.shape[0])
        nll = float(np.mean(logsumexp(u, axis=1) - u[rows, y]))
        grad = float(np.mean((softmax(u, axis=1) * z).sum(axis=1) - z[rows, y]))
    return nll, grad


def _nll(z: np.ndarray, y: np.ndarray) -> float:
    return binary_nll_of_logits(z, y) if z.ndim == 1 else multiclass_nll_of_logits(z, y)


@register_calibrator("temperature")
class TemperatureScaler:
    """Fit T on a calibration split; `transform` returns logits / T, `predict_proba` probabilities.

    Learned: temperature_ (T > 1 softens an over-confident model), n_classes_, nll_before_,
    nll_after_ (mean NLL on the fitting data), converged_, at_bound_.
    """

    def __init__(self, max_iter: int = 100, tol: float = 1e-10) -> None:
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, logits: object, y: object) -> TemperatureScaler:
        z = as_logits(logits)
        k = n_classes_of(z)
        lab = as_labels(y, z.shape[0], k)
        if np.unique(lab).size < 2:
            raise ValueError("y: only one class present; the temperature is not identifiable")
        res = minimize(
            _nll_and_grad, x0=np.array([1.0]), args=(z, lab), jac=True, method="L-BFGS-B",
            bounds=[BETA_BOUNDS], options={"maxiter": self.max_iter, "ftol": self.tol},
        )
        beta = float(res.x[0])
        self.temperature_ = 1.0 / beta
        self.n_classes_ = k
        self.nll_before_ = _nll(z, lab)
        self.nll_after_ = _nll(z * beta, lab)
        self.converged_ = bool(res.success)
        self.at_bound_ = bool(np.isclose(beta, BETA_BOUNDS, rtol=1e-6).any())
        return self

    def _check(self, logits: object) -> np.ndarray:
        if not hasattr(self, "temperature_"):
            raise RuntimeError("TemperatureScaler is not fitted; call fit(logits, y) first")
        z = as_logits(logits)
        if n_classes_of(z) != self.n_classes_:
            raise ValueError(f"logits: fitted for {self.n_classes_} classes, got shape {z.shape}")
        return z

    def transform(self, logits: object) -> np.ndarray:
        """Calibrated logits, same shape as the input."""
        return self._check(logits) / self.temperature_

    def predict_proba(self, logits: object) -> np.ndarray:
        """p(positive) of shape (n,) for binary logits, softmax rows (n, K) for multiclass."""
        u = self.transform(logits)
        return expit(u) if u.ndim == 1 else softmax(u, axis=1)
