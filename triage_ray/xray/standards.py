"""The chosen model under every guarantee standard, at the levels published deployments used.

The run's own thresholds answer one standard (`npv` at the configured alpha). A clinical team
weighs others (`abstain.guarantees`): here each family is certified at each level in `LEVELS` on
the `select` reference studies and checked on the `test` ones the thresholds never saw, and
today's reading (the written labels, the clinical read) is scored against the same reference,
so a reader sees what each standard would clear beside what reading everything misses today.
Thresholds only: the throughput each would give is the operating stage's to simulate (issue 33).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from triage_ray.abstain.guarantees import GUARANTEES, ReadStudies, certify
from triage_ray.common.stats import clopper_pearson
from triage_ray.xray.operating import ScoredSet

# Risk levels per family: NPV 96 / 97.7 / 99 / 99.5% (Smith 2023, Dyer 2021, the configured
# default, Kumar 2024), sensitivity 98 / 99 / 99.9% (Plesner 2024), non-inferiority margins
# 5 / 2 / 1% (Yoon 2024 used 5%).
LEVELS: dict[str, tuple[float, ...]] = {
    "npv": (0.04, 0.023, 0.01, 0.005),
    "sensitivity": (0.02, 0.01, 0.001),
    "non_inferior": (0.05, 0.02, 0.01),
}


@dataclass(frozen=True)
class Rate:
    """k of n, with the rate and its two-sided 95% Clopper-Pearson interval."""

    k: int
    n: int
    rate: float | None
    ci_low: float
    ci_high: float

    @classmethod
    def of(cls, k: int, n: int) -> Rate:
        lo, hi = clopper_pearson(k, n)
        return cls(int(k), int(n), k / n if n else None, float(lo), float(hi))


@dataclass(frozen=True)
class StandardRow:
    """One family at one level: the certified threshold and what it does on select and test."""

    family: str
    level: float
    threshold: float | None  # None: nothing certifies
    bound: float  # the (1 - delta) upper bound on the risk on select
    cleared_select: float  # share of select reference studies cleared
    cleared_test: Rate  # test reference studies cleared
    risk_test: Rate  # the family's risk realised on test
    note: str


@dataclass(frozen=True)
class TodaysReading:
    """The clinical read (written labels) against the reference, on test: what it calls normal,
    the abnormal share among those (1 - NPV) and the abnormal studies it calls normal (1 - sens)."""

    called_normal: Rate
    abnormal_among_called_normal: Rate
    abnormal_called_normal: Rate


@dataclass(frozen=True)
class StandardsResult:
    delta: float
    reference: str  # what the reference labels are, in words
    clinical: str  # what today's reading is, in words
    clinical_is_reference: bool  # no separate reference: non-inferiority equals sensitivity
    rows: list[StandardRow]
    todays_reading: TodaysReading

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def written_reads(held) -> pd.Series:
    """study_id -> the written label of every `select` and `test` study (`train.heldout`
    HeldOutLogits): today's reading, for the reference studies among them."""
    splits = ("select", "test")
    return pd.Series(np.concatenate([held.label[s] for s in splits]).astype(np.int64),
                     index=np.concatenate([np.asarray(held.study_id[s]).astype(str)
                                           for s in splits]))


def _read(s: ScoredSet, clinical: pd.Series) -> ReadStudies:
    read = clinical.reindex(np.asarray(s.study_id).astype(str)).to_numpy(dtype=float)
    if np.isnan(read).any():
        raise ValueError(f"{int(np.isnan(read).sum())} reference studies have no clinical read")
    return ReadStudies(s.p, s.y, read.astype(np.int64))


def run_standards(select: ScoredSet, test: ScoredSet, clinical: pd.Series, *, delta: float,
                  clinical_source: str, levels: dict[str, tuple[float, ...]] = LEVELS
                  ) -> StandardsResult:
    """clinical: study_id -> 0/1 today's reading for (at least) the reference studies."""
    sel, tst = _read(select, clinical), _read(test, clinical)
    rows = []
    for family, family_levels in levels.items():
        g = GUARANTEES[family]
        for level in family_levels:
            c = certify(family, sel, level, delta)
            t = c.threshold if c.threshold is not None else -np.inf
            rows.append(StandardRow(
                family, level, c.threshold, c.bound, float(sel.cleared(t).mean()),
                Rate.of(int(tst.cleared(t).sum()), len(tst.p)), Rate.of(*g.realised(tst, t)),
                c.note))
    y, read = np.asarray(tst.reference), np.asarray(tst.clinical)
    normal = read == 0
    today = TodaysReading(Rate.of(int(normal.sum()), len(y)),
                          Rate.of(int(y[normal].sum()), int(normal.sum())),
                          Rate.of(int((y[normal] == 1).sum()), int(y.sum())))
    same = bool(np.array_equal(np.asarray(sel.reference), np.asarray(sel.clinical))
                and np.array_equal(y, read))
    return StandardsResult(delta, test.label_source, clinical_source, same, rows, today)
