"""Read a worklist file (CSV or Parquet) into a `Worklist`; every bad value is reported by
file, row and column rather than dropped.

Columns: `bucket` (Bucket code 0/1/2 or name auto_normal/uncertain/priority), optionally an order
key (higher = read sooner within UNCERTAIN) and truth: `is_abnormal` (true/false/1/0) or the
study table's `label` (1 abnormal, 0 normal, -1 unknown; all -1 means an unlabeled pile).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from sim.worklist import Worklist
from triage_ray.abstain.buckets import BUCKET_NAMES

_BUCKET_BY_NAME = {name: code for code, name in BUCKET_NAMES.items()}
_TRUE, _FALSE = {"1", "true", "t", "yes"}, {"0", "false", "f", "no"}


class WorklistFileError(ValueError):
    pass


def _columns(path: Path) -> tuple[dict[str, list], int]:
    """Column name -> values, and the row number of the first data row (for messages)."""
    if path.suffix.lower() == ".parquet":
        try:
            import pyarrow.parquet as pq  # only the CLI's parquet input needs it
        except ImportError as e:  # pragma: no cover - pyarrow is in the project's venv
            raise WorklistFileError(f"{path}: reading Parquet needs pyarrow") from e
        return pq.read_table(path).to_pydict(), 0
    if path.suffix.lower() != ".csv":
        raise WorklistFileError(f"{path}: expected a .csv or .parquet worklist")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        names = reader.fieldnames or []
    return {k: [r[k] for r in rows] for k in names}, 2  # line 1 is the header


def _bucket(v: object, where: str) -> int:
    s = str(v).strip().lower()
    if s in _BUCKET_BY_NAME:
        return _BUCKET_BY_NAME[s]
    try:
        x = float(s)
    except ValueError:
        x = float("nan")
    if x not in BUCKET_NAMES:  # NaN and non-integers fail too
        raise WorklistFileError(f"{where}: bucket {v!r} is not one of "
                                f"{sorted(BUCKET_NAMES)} or {sorted(_BUCKET_BY_NAME)}")
    code = int(x)
    return code


def _float(v: object, where: str, col: str) -> float:
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        x = float("nan")
    if not np.isfinite(x):
        raise WorklistFileError(f"{where}: {col} {v!r} is not a finite number")
    return x


def _truth(v: object, where: str, col: str) -> int:
    """1 abnormal, 0 normal, -1 unknown (only the `label` column may say unknown)."""
    s = str(v).strip().lower()
    if s in _TRUE:
        return 1
    if s in _FALSE:
        return 0
    if col == "label" and s in {"-1", "-1.0"}:
        return -1
    raise WorklistFileError(f"{where}: {col} {v!r} is not a truth value")


def read_worklist(path: str | Path, *, bucket_column: str = "bucket",
                  order_key_column: str | None = "order_key",
                  truth_column: str | None = None) -> Worklist:
    """`order_key_column` is used when present; `truth_column` None looks for `is_abnormal`,
    then `label`. Raises WorklistFileError naming the file, row and column of a bad value."""
    path = Path(path)
    cols, first = _columns(path)
    if bucket_column not in cols:
        raise WorklistFileError(f"{path}: no {bucket_column!r} column (have {sorted(cols)})")
    n = len(cols[bucket_column])
    if n == 0:
        raise WorklistFileError(f"{path}: the worklist has no rows")

    def at(i: int) -> str:
        return f"{path}, row {i + first}"

    bucket = np.array([_bucket(v, at(i)) for i, v in enumerate(cols[bucket_column])], np.int8)
    key = None
    if order_key_column and order_key_column in cols:
        key = np.array([_float(v, at(i), order_key_column)
                        for i, v in enumerate(cols[order_key_column])])
    if truth_column is None:
        truth_column = next((c for c in ("is_abnormal", "label") if c in cols), None)
    elif truth_column not in cols:
        raise WorklistFileError(f"{path}: no {truth_column!r} column (have {sorted(cols)})")
    truth = None
    if truth_column is not None:
        t = np.array([_truth(v, at(i), truth_column) for i, v in enumerate(cols[truth_column])])
        unknown = t < 0
        if unknown.all():
            truth = None  # an unlabeled pile
        elif unknown.any():
            i = int(np.flatnonzero(unknown)[0])
            raise WorklistFileError(
                f"{at(i)}: {truth_column} unknown in {int(unknown.sum())} of {n} rows; truth-based "
                "metrics need every row labelled or none")
        else:
            truth = t.astype(bool)
    return Worklist(bucket=bucket, order_key=key, is_abnormal=truth)
