"""Counts that travel with a loaded table: rows in, rows out, and why each missing row is missing.

A loader never drops a row silently: a per-row fault is either an error naming the file and row or,
when the caller asked for it, a skip listed here; a deliberate filter (e.g. lateral views) is counted
under `excluded`. The report rides on the DataFrame as `df.attrs["load_report"]`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import pandas as pd

log = logging.getLogger(__name__)

MAX_LISTED = 5  # skipped rows quoted in an error or log line


@dataclass
class LoadReport:
    source: str  # the label file read
    n_in: int
    n_out: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path or row, reason)
    excluded: dict[str, int] = field(default_factory=dict)  # filter name -> rows
    notes: list[str] = field(default_factory=list)  # kept rows with a value read as unknown, why

    def check(self) -> LoadReport:
        """Raise if the books do not balance (a bug, never a user error)."""
        total = self.n_out + len(self.skipped) + sum(self.excluded.values())
        if total != self.n_in:
            raise AssertionError(f"{self.source}: {self.n_in} rows in, but {self.n_out} out + "
                                 f"{len(self.skipped)} skipped + {self.excluded} excluded = {total}")
        return self

    def note_unreadable(self, column: str, values: list[str]) -> None:
        """Name the stated values of `column` that were read as unknown (kept rows, not skips)."""
        if values:
            self.notes.append(f"{column}: {len(values)} value(s) not readable, read as unknown, "
                              f"e.g. {values[:MAX_LISTED]}")

    def summary(self) -> str:
        parts = [f"{self.source}: {self.n_in} rows in, {self.n_out} out"]
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped (e.g. {self.skipped[:MAX_LISTED]})")
        parts += [f"{n} excluded: {why}" for why, n in self.excluded.items()]
        return "; ".join(parts + self.notes)

    @classmethod
    def for_table(cls, csv: object, table: pd.DataFrame, needed: Sequence[str]) -> LoadReport:
        """The report for a freshly read label table, after the checks every loader makes: the
        columns it needs are there (else an error naming the missing ones) and it has rows."""
        lacking = [c for c in needed if c not in table.columns]
        if lacking:
            raise ValueError(f"{csv}: missing column(s) {lacking}; found {list(table.columns)}")
        if table.empty:
            raise ValueError(f"{csv}: no rows")
        return cls(source=str(csv), n_in=len(table))

    def to_dict(self) -> dict:
        return asdict(self)


def attach(df: pd.DataFrame, report: LoadReport) -> pd.DataFrame:
    """Store the checked report on the table and log its one-line summary."""
    report.n_out = len(df)
    df.attrs["load_report"] = report.check().to_dict()
    log.info(report.summary())
    return df


def resolve_missing(paths: pd.Series, exists: pd.Series, report: LoadReport, missing: str,
                    ) -> pd.Series:
    """Rows to keep given which image files exist; `missing` is "error" or "skip"."""
    if missing not in ("error", "skip"):
        raise ValueError(f"missing must be 'error' or 'skip', got {missing!r}")
    absent = paths[~exists]
    if len(absent) and missing == "error":
        raise FileNotFoundError(
            f"{report.source}: {len(absent)} of {len(paths)} image files not found, e.g. "
            f"{absent.head(MAX_LISTED).tolist()} (pass missing='skip' to count and skip them)")
    report.skipped.extend((str(p), "missing file") for p in absent)
    return exists
