"""Does this image look like the training data? Mahalanobis distances on the backbone's features.

Metadata can lie (a hand exported as CHEST, a film scanned inverted, another site's processing).
The model's own features are where such an image differs, so the check fits a Gaussian
(Ledoit-Wolf shrunk covariance; Lee et al. 2018) to training studies' features and flags a study
whose score exceeds a threshold set on held-out in-scope studies: the ceil((n + 1)(1 - rate))-th
smallest of n, so a new exchangeable in-scope study is flagged with probability at most `rate`
(the split-conformal guarantee, Vovk et al. 2005). The rate actually seen on another held-out split
is reported with its Clopper-Pearson interval.

Two feature sets (`FEATURE_CHECKS`). `pooled`: the pooled features the head reads, one Gaussian;
it catches broken files but barely notices another site's look-up table or burnt-in text, which
change low-level statistics that pooling at the last stage averages away. `stages`: one Gaussian
per backbone stage on each channel's mean and SD (the feature statistics Lee et al. 2018 and
Sastry & Oore 2020 use across layers), plus the pooled one. Each stage's distance is standardised
on training studies the Gaussians were not fitted on, and the score is the largest; the score
function is fixed before calibration, so the conformal threshold keeps its guarantee without a
Bonferroni correction.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DETECTOR_FILE = "ood_detector.npz"
POOLED = "pooled"  # the features the classification head reads (timm's pre-logits)
FEATURE_CHECKS = {
    "stages": "a Gaussian per backbone stage (channel means and SDs) and on the pooled features; "
              "the largest standardised distance",
    POOLED: "one Gaussian on the pooled features the head reads",
}
GateFeatures = Mapping[str, np.ndarray]  # stage name -> (N, d) features of N images
MIN_HOLDOUT = 50  # fewer training studies than this: distances are standardised in-sample
HOLDOUT_SHARE = 0.2


@dataclass
class Gaussian:
    """Squared Mahalanobis distance to one set of training features."""

    mean: np.ndarray
    precision: np.ndarray

    @classmethod
    def fit(cls, features: np.ndarray) -> Gaussian:
        from sklearn.covariance import LedoitWolf

        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 2:
            raise ValueError(f"need (n >= 2, d) features to fit, got shape {x.shape}")
        lw = LedoitWolf().fit(x)
        return cls(lw.location_, lw.precision_)

    def distance(self, features: np.ndarray) -> np.ndarray:
        d = np.asarray(features, dtype=np.float64) - self.mean
        return np.einsum("ij,ij->i", d @ self.precision, d)


def as_features(features: GateFeatures | np.ndarray) -> GateFeatures:
    """A bare (N, d) array is the pooled features."""
    return {POOLED: features} if isinstance(features, np.ndarray) else features


def stages_of(method: str, available: Sequence[str]) -> list[str]:
    """The stages a feature check uses, from those the backbone gives."""
    if method not in FEATURE_CHECKS:
        raise ValueError(f"unknown feature check {method!r}; choose one of {sorted(FEATURE_CHECKS)}")
    return [POOLED] if method == POOLED else list(available)


@dataclass
class FeatureDistance:
    """Per stage a Gaussian, and the centre and scale that standardise its distance; the score is
    the largest standardised distance. `threshold` once calibrated."""

    gaussians: dict[str, Gaussian]
    centre: dict[str, float]
    scale: dict[str, float]
    threshold: float = math.inf
    false_flag_rate: float | None = None
    n_fit: int = 0
    n_calibration: int = 0
    legacy: bool = field(default=False, repr=False)  # one pooled Gaussian, unstandardised (old runs)

    @classmethod
    def fit(cls, features: GateFeatures | np.ndarray, stages: Sequence[str] | None = None,
            seed: int = 0) -> FeatureDistance:
        """Gaussians on most training studies, standardisation on the rest (all of them below
        MIN_HOLDOUT studies, when the scale comes from fitted studies, in-sample)."""
        feats = as_features(features)
        stages = list(stages or feats)
        n = len(next(iter(feats.values())))
        if n < 2:
            raise ValueError(f"need (n >= 2, d) features to fit, got {n} studies")
        order = np.random.default_rng(seed).permutation(n)
        n_hold = int(n * HOLDOUT_SHARE) if n >= MIN_HOLDOUT else 0
        hold, fit = (order[:n_hold], order[n_hold:]) if n_hold else (order, order)
        gaussians, centre, scale = {}, {}, {}
        for s in stages:
            x = np.asarray(feats[s])
            gaussians[s] = Gaussian.fit(x[fit])
            d = gaussians[s].distance(x[hold])
            centre[s] = float(np.median(d))
            scale[s] = float(np.quantile(d, 0.95) - centre[s]) or 1.0
        return cls(gaussians, centre, scale, n_fit=len(fit))

    @property
    def stages(self) -> list[str]:
        return list(self.gaussians)

    def distance(self, features: GateFeatures | np.ndarray) -> np.ndarray:
        """Each study's score: its largest standardised stage distance."""
        feats = as_features(features)
        missing = [s for s in self.gaussians if s not in feats]
        if missing:
            raise KeyError(f"the feature check needs stage(s) {missing}; got {sorted(feats)}")
        z = [(g.distance(feats[s]) - self.centre[s]) / self.scale[s]
             for s, g in self.gaussians.items()]
        return np.max(np.stack(z), axis=0)

    def calibrate(self, in_scope: GateFeatures | np.ndarray,
                  false_flag_rate: float) -> FeatureDistance:
        """Threshold at the conformal quantile of in-scope held-out scores."""
        s = np.sort(self.distance(in_scope))
        n = s.size
        k = math.ceil((n + 1) * (1.0 - false_flag_rate))
        if k > n:
            raise ValueError(f"{n} calibration studies cannot set a {false_flag_rate:.1%} false-flag "
                             f"threshold (need at least {math.ceil(1 / false_flag_rate) - 1})")
        self.threshold, self.false_flag_rate, self.n_calibration = float(s[k - 1]), false_flag_rate, n
        return self

    def flags(self, features: GateFeatures | np.ndarray) -> np.ndarray:
        return self.distance(features) > self.threshold

    def fingerprint(self) -> str:
        """Identifies the fitted detector (a resumed pile reuses distances of the same one only)."""
        if self.legacy:  # as before stages existed, so an old run's pile chunks still match
            g = self.gaussians[POOLED]
            h = hashlib.sha256(g.mean.tobytes() + g.precision.tobytes())
        else:
            h = hashlib.sha256()
            for s, g in self.gaussians.items():
                h.update(s.encode() + g.mean.tobytes() + g.precision.tobytes())
                h.update(repr((self.centre[s], self.scale[s])).encode())
        h.update(repr(self.threshold).encode())
        return h.hexdigest()[:16]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        arrays = {f"{s}.{k}": getattr(g, k) for s, g in self.gaussians.items()
                  for k in ("mean", "precision")}
        np.savez(path, meta=json.dumps({**self.meta(), "centre": self.centre,
                                        "scale": self.scale}), **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> FeatureDistance:
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            common = {"threshold": float(meta["threshold"]),
                      "false_flag_rate": meta["false_flag_rate"], "n_fit": meta["n_fit"],
                      "n_calibration": meta["n_calibration"]}
            if "mean" in z.files:  # a detector file written before stages: one pooled Gaussian
                return cls({POOLED: Gaussian(z["mean"], z["precision"])}, {POOLED: 0.0},
                           {POOLED: 1.0}, legacy=True, **common)
            g = {s: Gaussian(z[f"{s}.mean"], z[f"{s}.precision"]) for s in meta["stages"]}
            return cls(g, meta["centre"], meta["scale"], **common)

    def meta(self) -> dict[str, Any]:
        method = POOLED if self.stages == [POOLED] else "stages"
        return {"threshold": self.threshold, "false_flag_rate": self.false_flag_rate,
                "n_fit": self.n_fit, "n_calibration": self.n_calibration,
                "stages": self.stages, "feature_check": method,
                "dim": {s: int(g.mean.size) for s, g in self.gaussians.items()},
                "method": f"Mahalanobis (Ledoit-Wolf): {FEATURE_CHECKS[method]}; conformal "
                          "threshold"}
