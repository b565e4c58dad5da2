"""A synthetic score model with known truth, shared by the abstention tests.

Binormal: y ~ Bernoulli(prior); score s | y ~ N(+mu, 1) if abnormal, N(-mu, 1) if normal. The
exactly calibrated posterior at prevalence `prior` is p = sigmoid(2 mu s + logit(prior)), so
P(abnormal | p) = p (monotone, as the bound's argument assumes) and the abnormal rate among studies
with p < t has a closed form at any deployment prevalence.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logit
from scipy.stats import norm

MU = 1.2  # class separation in score SDs: AUROC = Phi(sqrt(2) * MU) ~ 0.96, near published CXR AUCs


def draw(rng: np.random.Generator, n: int, prior: float, score_prior: float | None = None,
         mu: float = MU) -> tuple[np.ndarray, np.ndarray]:
    """(p, y): n studies at prevalence `prior`, scored by a model calibrated at `score_prior`."""
    y = (rng.random(n) < prior).astype(np.int64)
    s = rng.normal(np.where(y == 1, mu, -mu), 1.0)
    return expit(2 * mu * s + logit(prior if score_prior is None else score_prior)), y


def true_auto_normal_rate(t: float, score_prior: float, deploy_prior: float,
                          mu: float = MU) -> float:
    """Exact P(abnormal | p < t) at `deploy_prior` for scores calibrated at `score_prior`."""
    if t <= 0.0:
        return 0.0
    s_t = (logit(min(t, 1 - 1e-16)) - logit(score_prior)) / (2 * mu)
    f1, f0 = norm.cdf(s_t - mu), norm.cdf(s_t + mu)
    return float(deploy_prior * f1 / (deploy_prior * f1 + (1 - deploy_prior) * f0))
