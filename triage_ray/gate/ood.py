"""Does this image look like the training data? A Mahalanobis distance on the backbone's features.

Metadata can lie (a hand exported as CHEST, a film scanned inverted). The model's own pooled
features are where such an image differs, so the check fits one Gaussian (Ledoit-Wolf shrunk
covariance; Lee et al. 2018 use class-conditional Gaussians, one suffices for "is it a chest film
at all") to training studies' features, and flags a study whose squared distance exceeds a
threshold set on held-out in-scope studies: the ceil((n + 1)(1 - rate))-th smallest of n, so a new
exchangeable in-scope study is flagged with probability at most `rate` (the split-conformal
guarantee, Vovk et al. 2005). The rate actually seen on another held-out split is reported with its
Clopper-Pearson interval.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DETECTOR_FILE = "ood_detector.npz"


@dataclass
class FeatureDistance:
    """Squared Mahalanobis distance to the training features; `threshold` once calibrated."""

    mean: np.ndarray
    precision: np.ndarray
    threshold: float = math.inf
    false_flag_rate: float | None = None
    n_fit: int = 0
    n_calibration: int = 0

    @classmethod
    def fit(cls, features: np.ndarray) -> FeatureDistance:
        from sklearn.covariance import LedoitWolf

        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 2:
            raise ValueError(f"need (n >= 2, d) features to fit, got shape {x.shape}")
        lw = LedoitWolf().fit(x)
        return cls(lw.location_, lw.precision_, n_fit=int(x.shape[0]))

    def distance(self, features: np.ndarray) -> np.ndarray:
        d = np.asarray(features, dtype=np.float64) - self.mean
        return np.einsum("ij,jk,ik->i", d, self.precision, d)

    def calibrate(self, in_scope: np.ndarray, false_flag_rate: float) -> FeatureDistance:
        """Threshold at the conformal quantile of in-scope held-out distances."""
        s = np.sort(self.distance(in_scope))
        n = s.size
        k = math.ceil((n + 1) * (1.0 - false_flag_rate))
        if k > n:
            raise ValueError(f"{n} calibration studies cannot set a {false_flag_rate:.1%} false-flag "
                             f"threshold (need at least {math.ceil(1 / false_flag_rate) - 1})")
        self.threshold, self.false_flag_rate, self.n_calibration = float(s[k - 1]), false_flag_rate, n
        return self

    def flags(self, features: np.ndarray) -> np.ndarray:
        return self.distance(features) > self.threshold

    def fingerprint(self) -> str:
        """Identifies the fitted detector (a resumed pile reuses distances of the same one only)."""
        h = hashlib.sha256(self.mean.tobytes() + self.precision.tobytes())
        h.update(repr(self.threshold).encode())
        return h.hexdigest()[:16]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        np.savez(path, mean=self.mean, precision=self.precision,
                 meta=json.dumps(self.meta()))
        return path

    @classmethod
    def load(cls, path: str | Path) -> FeatureDistance:
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            return cls(z["mean"], z["precision"], threshold=float(meta["threshold"]),
                       false_flag_rate=meta["false_flag_rate"], n_fit=meta["n_fit"],
                       n_calibration=meta["n_calibration"])

    def meta(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "false_flag_rate": self.false_flag_rate,
                "n_fit": self.n_fit, "n_calibration": self.n_calibration,
                "dim": int(self.mean.size), "method": "Mahalanobis (Ledoit-Wolf), conformal threshold"}
