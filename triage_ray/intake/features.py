"""Tabular features for XGBoost: raw numbers (NaN kept as missing), one-hots, and word counts.

Trees split on raw values, so vitals are passed as measured (XGBoost learns where the danger
zone starts); the chief complaint becomes binary counts of the most frequent words and word pairs
of the training split. Follows the scikit-learn contract: vocabulary is learned in `fit`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer

from triage_ray.intake.schema import (
    ARRIVAL_MODES,
    COMORBIDITIES,
    COMORBIDITY_SEP,
    NUMERIC_RANGES,
    SEXES,
)

NUMERIC = tuple(NUMERIC_RANGES)


class TabularFeaturizer:
    """Learned: vectorizer_ (CountVectorizer), feature_names_ (list[str])."""

    def __init__(self, max_text_features: int = 300, ngram_max: int = 2) -> None:
        self.max_text_features = max_text_features
        self.ngram_max = ngram_max

    def fit(self, df: pd.DataFrame) -> TabularFeaturizer:
        if len(df) == 0:
            raise ValueError("TabularFeaturizer.fit: no training records")
        self.vectorizer_ = CountVectorizer(
            lowercase=True, binary=True, ngram_range=(1, self.ngram_max),
            max_features=self.max_text_features, token_pattern=r"(?u)[\w/?&]+", min_df=2,
        ).fit(df["chief_complaint"].astype(str))
        self.feature_names_ = (
            list(NUMERIC) + [f"sex={s}" for s in SEXES] + [f"arrival={a}" for a in ARRIVAL_MODES]
            + [f"hx={c}" for c in COMORBIDITIES]
            + [f"text={w}" for w in self.vectorizer_.get_feature_names_out()]
        )
        return self

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        """(n, d) float32; NaN marks a missing numeric field."""
        if not hasattr(self, "vectorizer_"):
            raise RuntimeError("TabularFeaturizer is not fitted; call fit(train_records) first")
        num = df[list(NUMERIC)].to_numpy(np.float32)
        sex = (df["sex"].to_numpy()[:, None] == np.array(SEXES)[None, :])
        arr = (df["arrival_mode"].to_numpy()[:, None] == np.array(ARRIVAL_MODES)[None, :])
        hx_sets = df["comorbidities"].map(lambda s: set(s.split(COMORBIDITY_SEP)))
        hx = np.array([[c in s for c in COMORBIDITIES] for s in hx_sets], dtype=bool)
        hx = hx.reshape(len(df), len(COMORBIDITIES))
        words = self.vectorizer_.transform(df["chief_complaint"].astype(str)).toarray()
        return np.hstack([num, sex, arr, hx, words]).astype(np.float32)
