"""Fixed splits, and the rows of them a study reads (written to Parquet for Ray Data).

Every model in a study sees the same splits: test and validation are drawn once, and the training
sets of each size are nested prefixes of one random order of the remaining pool (the small set is
inside the large one), so differences between sizes are not differences between samples.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def assign_splits(df: pd.DataFrame, n_val: int, n_test: int, seed: int) -> pd.DataFrame:
    """Copy of df with `split` ("train"/"val"/"test") and `train_rank` (order in the pool, -1
    outside it)."""
    if n_val + n_test >= len(df):
        raise ValueError(f"n_val + n_test = {n_val + n_test} leaves no training pool out of "
                         f"{len(df)} records")
    order = np.random.default_rng(seed).permutation(len(df))
    split = np.empty(len(df), dtype=object)
    split[order[:n_test]] = "test"
    split[order[n_test:n_test + n_val]] = "val"
    pool = order[n_test + n_val:]
    split[pool] = "train"
    rank = np.full(len(df), -1, dtype=np.int64)
    rank[pool] = np.arange(pool.size)
    return df.assign(split=split, train_rank=rank)


def in_training_set(df: pd.DataFrame, size: int) -> np.ndarray:
    """Rows of the training set of `size` records (a prefix of the pool's random order)."""
    return ((df["split"] == "train") & (df["train_rank"] < size)).to_numpy()


def study_rows(df: pd.DataFrame, train_sizes: Sequence[int]) -> pd.DataFrame:
    """The rows a study reads: validation, test and the largest training set (others nest in it)."""
    pool = int((df["split"] == "train").sum())
    too_big = [s for s in train_sizes if s > pool]
    if too_big:
        raise ValueError(f"training sizes {too_big} exceed the training pool of {pool} records")
    keep = (df["split"] != "train") | in_training_set(df, max(train_sizes))
    return df[keep].reset_index(drop=True)
