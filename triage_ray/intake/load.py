"""Read real intake records (CSV or Parquet) into the RECORD_COLUMNS table, validated.

No public data set carries both labels, so a real file usually has one label, different column
names and its own codes (e.g. ESI 1-5). `column_map` renames, `value_maps` recodes, and `absent`
declares which fields the file does not carry (filled as missing and reported, so a mapping typo
is an error rather than a silently empty column). Bad values follow `on_invalid`:

- "raise": ValueError naming the file, the row (0-based data row), the field and the value;
- "skip": the row is dropped and counted by reason (count in = count out + skipped);
- "null": the bad value becomes missing (NaN, or UNKNOWN_LABEL for labels) and is counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from triage_ray.intake.schema import (
    ARRIVAL_MODES,
    COMORBIDITIES,
    COMORBIDITY_SEP,
    NUMERIC_RANGES,
    RECORD_COLUMNS,
    SEXES,
    TASKS,
    UNKNOWN_LABEL,
)

POLICIES = ("raise", "skip", "null")
FIELDS = tuple(c for c in RECORD_COLUMNS if c not in ("record_id", "source"))
MAX_EXAMPLES = 20  # problems quoted in the report; all are counted


@dataclass
class LoadReport:
    """What happened to every input row: n_in == n_out + sum(skipped.values())."""

    path: str
    n_in: int = 0
    n_out: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # "field: reason" -> rows dropped
    nulled: dict[str, int] = field(default_factory=dict)  # "field: reason" -> values blanked
    unlabelled: dict[str, int] = field(default_factory=dict)  # task -> rows without that label
    absent: list[str] = field(default_factory=list)  # fields the file does not carry
    examples: list[str] = field(default_factory=list)  # first MAX_EXAMPLES problems


@dataclass
class _Problem:
    rows: np.ndarray  # bool mask
    field: str
    reason: str
    values: pd.Series


def _read(path: Path) -> pd.DataFrame:
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if path.suffix.lower() in (".csv", ".txt", ".gz"):
        return pd.read_csv(path, dtype=str, keep_default_na=True)
    raise ValueError(f"{path}: unsupported file type {path.suffix!r} (use .csv or .parquet)")


def _numeric(raw: pd.Series, name: str, problems: list[_Problem]) -> pd.Series:
    num = pd.to_numeric(raw, errors="coerce").astype(float)
    not_num = raw.notna() & num.isna() & (raw.astype(str).str.strip() != "")
    if not_num.any():
        problems.append(_Problem(not_num.to_numpy(), name, "not a number", raw))
    lo, hi = NUMERIC_RANGES[name]
    out = num.notna() & ((num < lo) | (num > hi))
    if out.any():
        problems.append(_Problem(out.to_numpy(), name, f"outside [{lo:g}, {hi:g}]", raw))
    return num.where(~(not_num | out))


def _categorical(raw: pd.Series, name: str, allowed: Sequence[str], mapping: Mapping,
                 missing: str | None, problems: list[_Problem]) -> pd.Series:
    key = raw.map(lambda v: mapping.get(v, mapping.get(str(v), v)) if pd.notna(v) else v)
    canon = {a.lower(): a for a in allowed}
    val = key.map(lambda v: canon.get(str(v).strip().lower()) if pd.notna(v) else missing)
    bad = key.notna() & val.isna()
    if bad.any():
        problems.append(_Problem(bad.to_numpy(), name, f"not one of {list(allowed)}", raw))
    return val


def _label(raw: pd.Series, task: str, mapping: Mapping, problems: list[_Problem]) -> pd.Series:
    names = TASKS[task]
    key = raw.map(lambda v: mapping.get(v, mapping.get(str(v), v)) if pd.notna(v) else v)

    def code(v: object) -> float:
        if pd.isna(v):
            return float(UNKNOWN_LABEL)
        s = str(v).strip().lower()
        if s in [n.lower() for n in names]:
            return float([n.lower() for n in names].index(s))
        if s.lstrip("-").isdigit() and 0 <= int(s) < len(names):
            return float(int(s))
        return np.nan

    lab = key.map(code)
    if lab.isna().any():
        problems.append(_Problem(lab.isna().to_numpy(), task, "unknown label", raw))
    return lab


def _comorbidities(raw: pd.Series, sep: str, problems: list[_Problem]) -> pd.Series:
    known = set(COMORBIDITIES)

    def split(v: object) -> tuple[str, bool]:
        if pd.isna(v) or str(v).strip() == "":
            return "", True
        terms = [t.strip().lower() for t in str(v).split(sep) if t.strip()]
        good = [t for t in terms if t in known]
        return COMORBIDITY_SEP.join(good), len(good) == len(terms)

    parts = raw.map(split)
    ok = parts.map(lambda t: t[1])
    if not ok.all():
        problems.append(_Problem((~ok).to_numpy(), "comorbidities",
                                 f"unknown name (known: {sorted(known)})", raw))
    return parts.map(lambda t: t[0])


def load_records(
    path: str | Path,
    column_map: Mapping[str, str] | None = None,
    *,
    value_maps: Mapping[str, Mapping] | None = None,
    absent: Sequence[str] = (),
    on_invalid: str = "raise",
    comorbidity_sep: str = COMORBIDITY_SEP,
) -> tuple[pd.DataFrame, LoadReport]:
    """Records with RECORD_COLUMNS (source = the file name) and a LoadReport.

    column_map: schema field -> column name in the file (identity for unmapped fields).
    value_maps: field -> {raw value: canonical value}, e.g. {"urgency": {"1": "immediate", ...}}.
    absent: schema fields this file does not have (labels become UNKNOWN_LABEL, others missing).
    """
    path = Path(path)
    if on_invalid not in POLICIES:
        raise ValueError(f"on_invalid must be one of {POLICIES}, got {on_invalid!r}")
    cmap = {f: f for f in FIELDS} | dict(column_map or {})
    unknown = sorted(set(cmap) - set(FIELDS)) + sorted(set(absent) - set(FIELDS))
    if unknown:
        raise ValueError(f"{path}: unknown schema field(s) {unknown}; fields are {list(FIELDS)}")
    if "chief_complaint" in absent:
        raise ValueError(f"{path}: chief_complaint cannot be absent: it is every model's input")
    raw = _read(path)
    report = LoadReport(path=str(path), n_in=len(raw), absent=sorted(absent))
    missing = [f"{f} (column {cmap[f]!r})" for f in FIELDS
               if f not in absent and cmap[f] not in raw.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; map them with column_map or "
                         f"declare them absent. Columns in the file: {list(raw.columns)}")
    if set(TASKS) <= set(absent):
        raise ValueError(f"{path}: both labels are absent; at least one task needs labels")
    vm = value_maps or {}
    none = pd.Series([np.nan] * len(raw), index=raw.index, dtype=object)
    col = {f: (none if f in absent else raw[cmap[f]].reset_index(drop=True)) for f in FIELDS}
    problems: list[_Problem] = []
    out: dict[str, pd.Series] = {}
    for f in NUMERIC_RANGES:
        out[f] = _numeric(col[f], f, problems)
    out["sex"] = _categorical(col["sex"], "sex", SEXES, vm.get("sex", {}), "U", problems)
    out["arrival_mode"] = _categorical(col["arrival_mode"], "arrival_mode", ARRIVAL_MODES,
                                       vm.get("arrival_mode", {}), "", problems)
    out["comorbidities"] = _comorbidities(col["comorbidities"], comorbidity_sep, problems)
    cc = col["chief_complaint"].fillna("").astype(str).str.strip()
    if (cc == "").any():
        problems.append(_Problem((cc == "").to_numpy(), "chief_complaint", "empty", cc))
    out["chief_complaint"] = cc
    for task in TASKS:
        out[task] = _label(col[task], task, vm.get(task, {}), problems)
    df = pd.DataFrame(out)
    keep = _apply_policy(df, problems, on_invalid, report)
    df = df[keep].reset_index(drop=True)
    df["sex"] = df["sex"].fillna("U")  # blanked by on_invalid="null"
    df["arrival_mode"] = df["arrival_mode"].fillna("")
    # record_id = the row's 0-based position in the file, so every output row traces back
    df.insert(0, "record_id", np.flatnonzero(keep).astype(np.int64))
    df["source"] = path.name
    for task in TASKS:
        df[task] = df[task].fillna(UNKNOWN_LABEL).astype(np.int64)
        report.unlabelled[task] = int((df[task] == UNKNOWN_LABEL).sum())
    report.n_out = len(df)
    if report.n_in != report.n_out + sum(report.skipped.values()):
        raise RuntimeError(f"{path}: row accounting broke: {report}")
    return df[list(RECORD_COLUMNS)], report


def _apply_policy(df: pd.DataFrame, problems: list[_Problem], policy: str,
                  report: LoadReport) -> np.ndarray:
    keep = np.ones(len(df), dtype=bool)
    skipped: Counter[str] = Counter()
    for p in problems:
        rows = np.flatnonzero(p.rows)
        for r in rows[: max(0, MAX_EXAMPLES - len(report.examples))]:
            report.examples.append(f"row {r}: {p.field}={p.values.iloc[r]!r} ({p.reason})")
        if policy == "raise":
            r = int(rows[0])
            raise ValueError(
                f"{report.path}: row {r} (0-based data row), field {p.field!r}: value "
                f"{p.values.iloc[r]!r} {p.reason}; {rows.size} row(s) have this problem. Pass "
                f"on_invalid='skip' or 'null' to count and report them instead.")
        key = f"{p.field}: {p.reason}"
        if policy == "skip":
            skipped[key] += int((p.rows & keep).sum())  # a row is counted under its first problem
            keep &= ~p.rows
        else:
            report.nulled[key] = rows.size
            if p.field in TASKS:
                df.loc[p.rows, p.field] = UNKNOWN_LABEL
            elif p.field == "chief_complaint":  # no input at all: nothing to blank, drop it
                skipped[key] += int((p.rows & keep).sum())
                keep &= ~p.rows
    report.skipped = dict(skipped)
    return keep
