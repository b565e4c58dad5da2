"""XGBoost for one intake task: softmax trees on the tabular features, early-stopped on val.

Follows the scikit-learn contract; `logits` returns raw margins (the softmax inputs), so the same
calibration code (temperature scaling on logits) serves trees and Transformers alike.
"""

from __future__ import annotations

import numpy as np
import xgboost as xgb


class XGBTaskModel:
    """Learned: booster_ (xgboost.Booster), n_classes_, best_iteration_."""

    def __init__(self, n_classes: int, n_estimators: int = 300, max_depth: int = 4,
                 learning_rate: float = 0.1, subsample: float = 0.8,
                 colsample_bytree: float = 0.8, early_stopping_rounds: int = 20,
                 n_threads: int = 1, seed: int = 0) -> None:
        self.n_classes = n_classes
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.early_stopping_rounds = early_stopping_rounds
        self.n_threads = n_threads
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None = None,
            y_val: np.ndarray | None = None) -> XGBTaskModel:
        """Rows with a negative (unknown) label are left out of fitting and early stopping."""
        keep = y >= 0
        if keep.sum() == 0:
            raise ValueError("XGBTaskModel.fit: no labelled training rows")
        if y[keep].max() >= self.n_classes:
            raise ValueError(f"labels must be < n_classes={self.n_classes}, got {y[keep].max()}")
        params = {
            "objective": "multi:softprob", "num_class": self.n_classes, "tree_method": "hist",
            "max_depth": self.max_depth, "eta": self.learning_rate, "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree, "nthread": self.n_threads,
            "seed": self.seed, "eval_metric": "mlogloss",
        }
        dtrain = xgb.DMatrix(X[keep], label=y[keep], missing=np.nan)
        evals, stop = [], None
        if X_val is not None and y_val is not None and (y_val >= 0).any():
            kv = y_val >= 0
            evals = [(xgb.DMatrix(X_val[kv], label=y_val[kv], missing=np.nan), "val")]
            stop = self.early_stopping_rounds
        self.booster_ = xgb.train(params, dtrain, num_boost_round=self.n_estimators, evals=evals,
                                  early_stopping_rounds=stop, verbose_eval=False)
        self.best_iteration_ = int(getattr(self.booster_, "best_iteration", self.n_estimators - 1))
        self.n_classes_ = self.n_classes
        return self

    def logits(self, X: np.ndarray) -> np.ndarray:
        """(n, K) raw margins of the best iteration."""
        if not hasattr(self, "booster_"):
            raise RuntimeError("XGBTaskModel is not fitted; call fit(X, y) first")
        d = xgb.DMatrix(X, missing=np.nan)
        out = self.booster_.predict(d, output_margin=True,
                                    iteration_range=(0, self.best_iteration_ + 1))
        return np.asarray(out, dtype=np.float64).reshape(len(X), self.n_classes_)

    def n_nodes(self) -> int:
        """Nodes (splits and leaves) in the trees the model predicts with: its size."""
        rounds = self.booster_[: self.best_iteration_ + 1]
        return sum(len(tree.strip().splitlines()) for tree in rounds.get_dump())
