"""How well could any model do on a generated set? An ideal-observer estimate of the AUROC ceiling.

For a sample of studies we render each one twice, with and without its true findings (everything
else identical), and take the difference as the finding's signal. Its detectability d' is the
Hotelling (best linear) observer's SNR against the *whole* normal variation: patient anatomy,
positioning, exposure, devices (a covariance estimated from rendered normal studies, low rank plus
a diagonal remainder), and detector noise. Scores are then simulated as N(0, 1) for truly normal
and N(d', 1) for truly abnormal studies, and compared with both the true and the noisy labels.

It is an optimistic estimate: the observer is told each finding's shape and place (signal known
exactly), and a Gaussian model of the background is assumed. A trained model should land below it.
The label-noise ceiling is the same with d' -> infinity: a perfect reader judged against NIH-style
labels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import rankdata

from triage_ray.data.synth.render import StudySpec, render_clean

QUANTISATION_VAR = 1.0 / (12 * 255.0**2)  # uniform rounding error of 8-bit pixels


@dataclass(frozen=True)
class CeilingEstimate:
    auroc_noisy: float  # vs the written (NIH-style) labels: what training/evaluation sees
    auroc_noisy_ci: tuple[float, float]  # 95% bootstrap interval over the sampled studies
    auroc_true: float  # vs the true labels
    auroc_true_ci: tuple[float, float]
    label_noise_auroc: float  # perfect image reading, judged against the written labels
    n_sample: int
    n_background: int
    median_dprime: float  # over sampled truly-abnormal studies

    def to_dict(self) -> dict:
        return asdict(self)


def auroc(score: np.ndarray, label: np.ndarray) -> float:
    """Mann-Whitney AUROC with ties counted half; nan when a class is missing."""
    label = np.asarray(label).astype(bool)
    n1, n0 = int(label.sum()), int((~label).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(score)  # average ranks for ties
    return float((r[label].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def hotelling_dprime(specs: list[StudySpec], background: list[StudySpec], size: int,
                     seed: int) -> np.ndarray:
    """d' of each study's true findings (0 for a study without any)."""
    if not specs:
        return np.zeros(0)
    bg, noise = [], []
    for s in background:
        img, sd, _ = render_clean(s, size, seed, with_findings=False)
        bg.append(img.ravel().astype(np.float64))
        noise.append(sd * sd)
    x = np.stack(bg)  # (K, P)
    k = len(x)
    half = k // 2
    # remainder the low-rank part misses: residual variance of held-out normals after projecting
    # onto the first half's principal subspace (a diagonal term; keeps the estimate conservative)
    mu = x[:half].mean(0)
    _, _, vt = np.linalg.svd(x[:half] - mu, full_matrices=False)
    held = x[half:] - mu
    resid = held - (held @ vt.T) @ vt
    diag = resid.var(axis=0) + float(np.mean(noise)) + QUANTISATION_VAR  # (P,)
    a = (x - x.mean(0)) / np.sqrt(max(k - 1, 1))  # (K, P): covariance = a.T @ a + diag
    b = a / diag
    m = np.linalg.inv(np.eye(k) + b @ a.T)  # (K, K), Woodbury
    out = np.zeros(len(specs))
    for i, s in enumerate(specs):
        if not s.findings:
            continue
        with_f, _, _ = render_clean(s, size, seed)
        without, _, _ = render_clean(s, size, seed, with_findings=False)
        delta = (with_f - without).ravel().astype(np.float64)
        t = b @ delta
        out[i] = np.sqrt(max(float(delta @ (delta / diag) - t @ m @ t), 0.0))
    return out


def estimate_ceiling(specs: list[StudySpec], true_abnormal: np.ndarray, noisy_label: np.ndarray,
                     *, size: int, seed: int, n_sample: int = 400, n_background: int = 300,
                     n_boot: int = 200) -> CeilingEstimate:
    """Ideal-observer AUROC ceiling from a random sample of the generated studies."""
    true_abnormal = np.asarray(true_abnormal).astype(int)
    noisy_label = np.asarray(noisy_label).astype(int)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 77]))
    n = len(specs)
    pick = np.sort(rng.choice(n, size=min(n_sample, n), replace=False))
    bg_pick = rng.choice(n, size=min(n_background, n), replace=False)
    d = hotelling_dprime([specs[i] for i in pick], [specs[i] for i in bg_pick], size, seed)
    t, y = true_abnormal[pick], noisy_label[pick]

    def both(idx: np.ndarray, reps: int) -> tuple[float, float]:
        z = rng.standard_normal((reps, len(idx)))
        scores = z + (d[idx] * t[idx])[None, :]
        return (float(np.nanmean([auroc(s, y[idx]) for s in scores])),
                float(np.nanmean([auroc(s, t[idx]) for s in scores])))

    a_noisy, a_true = both(np.arange(len(pick)), 20)
    boots = np.array([both(rng.integers(0, len(pick), len(pick)), 1) for _ in range(n_boot)])
    lo, hi = np.nanpercentile(boots, [2.5, 97.5], axis=0)
    return CeilingEstimate(
        auroc_noisy=a_noisy, auroc_noisy_ci=(float(lo[0]), float(hi[0])),
        auroc_true=a_true, auroc_true_ci=(float(lo[1]), float(hi[1])),
        label_noise_auroc=auroc(true_abnormal.astype(float), noisy_label),
        n_sample=len(pick), n_background=len(bg_pick),
        median_dprime=float(np.median(d[t == 1])) if (t == 1).any() else float("nan"),
    )
