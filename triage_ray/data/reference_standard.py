"""Reference-standard labels: what a radiologist panel says, per study, to certify a bound against.

A study table's `label` is whatever the source wrote (NIH's NLP-mined labels, CheXpert's report
labeller): a noisy floor that no model can beat. Deployments certify the auto-normal bound
against a radiologist reference standard instead. Every reader here returns a pd.Series
(index: study_id, values: int8 0/1, name "reference_label") with a small report in
`series.attrs["reference_report"]` (source, scope, n_in, n_matched, n_unknown, skipped, reads):

- `load_reference_labels(csv, studies)`: a user's own reference file, for any source.
- `generated_reference(root)`: a generated tree's simulated panel (reference.csv).
- `nih_google_reference(studies)`: Google's 2019 radiologist relabels of 4,376 NIH images
  (four findings only: `GOOGLE_SCOPE`).
- `chexpert_valid_reference(root)`: CheXpert's radiologist-labelled validation studies.

Sizing and cost: `min_reference_size` (how many reference studies certify a rate, with the same
exact binomial bound the abstention rules use) and `reference_cost` (reads).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from triage_ray.abstain.bounds import RateBound
from triage_ray.data.reference import PANEL_TO_NIH, google_relabels
from triage_ray.data.report import MAX_LISTED
from triage_ray.data.synth.panel import REFERENCE_COLUMNS, REFERENCE_CSV, reader_columns

LABEL = "reference_label"
REPORT_KEY = "reference_report"
# Google 2019 (Majkowska et al., Radiology 2019): the panel read four categories only, so a study
# it calls normal is normal *for those four*. The promise a bound certified against it makes:
GOOGLE_SCOPE = "no pneumothorax, nodule/mass, airspace opacity or fracture"
GOOGLE_CATEGORIES: tuple[str, ...] = tuple(PANEL_TO_NIH)  # Pneumothorax, Nodule or mass, ...
# CheXpert's validation studies were labelled by 3 board-certified radiologists (Irvin et al.
# 2019; 200 studies); normal = no positive pathology column, as load_chexpert defines it.
CHEXPERT_VALID_READERS = 3
CHEXPERT_SCOPE = ("no positive among CheXpert's 12 pathology columns (support devices alone are "
                  "normal), by 3 radiologists (Irvin et al. 2019)")
# A reference panel of k readers costs k reads per study (the generated panel: 3). Two readers
# plus an arbiter on disagreement cost ~2.1-2.2 (11-19% of pairs disagree: Robinson et al. 1999).
REFERENCE_READS_PER_STUDY = 3


@dataclass
class ReferenceReport:
    """How a reference file met the study table. n_in == n_matched + n_unknown (+ n_excluded)."""

    source: str
    scope: str
    n_in: int  # rows (or labelled images) read
    n_matched: int  # labels returned: rows whose study is in the study table
    n_unknown: int = 0  # rows naming a study not in the table (skipped; unknown="skip")
    n_studies: int | None = None  # studies in the table, when one was given
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (row, reason), first few
    reads: int | None = None  # radiologist reads behind the returned labels, when known
    excluded: dict[str, int] = field(default_factory=dict)  # deliberate filters, with counts

    def to_dict(self) -> dict:
        return asdict(self)


def _series(ids: Iterable[str], labels: Iterable[int], report: ReferenceReport) -> pd.Series:
    out = pd.Series(np.asarray(list(labels), dtype=np.int8),
                    index=pd.Index(list(ids), name="study_id", dtype=object), name=LABEL)
    out.attrs[REPORT_KEY] = report.to_dict()
    return out


def _study_ids(studies: pd.DataFrame | Iterable[str] | None) -> set[str] | None:
    if studies is None:
        return None
    if isinstance(studies, pd.DataFrame):
        if "study_id" not in studies.columns:
            raise ValueError(f"studies: no 'study_id' column; found {list(studies.columns)}")
        return set(studies["study_id"].astype(str))
    return {str(s) for s in studies}


def _lines(mask: np.ndarray, values: pd.Series) -> str:
    rows = np.flatnonzero(mask)[:MAX_LISTED]
    return ", ".join(f"line {r + 2}: {values.iloc[r]!r}" for r in rows)  # header is line 1


def load_reference_labels(csv: str | os.PathLike | pd.DataFrame,
                          studies: pd.DataFrame | Iterable[str] | None, *,
                          id_col: str | None = None, label_col: str | None = None,
                          readers_col: str | None = None, unknown: str = "error") -> pd.Series:
    """A reference-standard file -> study_id -> 0/1 (1 abnormal), for the studies of `studies`.

    `csv` (a path or a DataFrame) holds one row per study: an id column (`study_id`, else
    `Image Index` with ".png" dropped, as load_nih builds study ids), a 0/1 label column
    (`reference_label`, else `label`) and optionally a reader-count column (`n_readers`), which
    gives the report's `reads`. `studies` is a study table (its study_id column) or the ids
    themselves; None accepts every row. Errors name the CSV lines: a label other than 0/1, a
    repeated study id, a bad reader count, and (unknown="error") a study not in `studies`;
    unknown="skip" counts and lists those rows in the report instead.
    """
    if unknown not in ("error", "skip"):
        raise ValueError(f"unknown must be 'error' or 'skip', got {unknown!r}")
    source = "<DataFrame>" if isinstance(csv, pd.DataFrame) else str(csv)
    table = csv.copy() if isinstance(csv, pd.DataFrame) else pd.read_csv(csv, dtype=str,
                                                                         keep_default_na=False)
    if table.empty:
        raise ValueError(f"{source}: no rows")
    id_col = id_col or next((c for c in ("study_id", "Image Index") if c in table.columns), None)
    label_col = label_col or next((c for c in (LABEL, "label") if c in table.columns), None)
    if readers_col is None and "n_readers" in table.columns:
        readers_col = "n_readers"
    lacking = [name for name, col in (("study id ('study_id' or 'Image Index')", id_col),
                                      (f"label ('{LABEL}' or 'label')", label_col)) if col is None]
    lacking += [c for c in (id_col, label_col, readers_col) if c is not None and c not in table.columns]
    if lacking:
        raise ValueError(f"{source}: missing column(s) {lacking}; found {list(table.columns)}")

    ids = table[id_col].astype(str).str.strip()
    if id_col == "Image Index":
        ids = ids.str.removesuffix(".png")
    raw = table[label_col].astype(str).str.strip()
    value = pd.to_numeric(raw, errors="coerce")
    bad = ~value.isin([0, 1]).to_numpy()
    if bad.any():
        raise ValueError(f"{source}: {int(bad.sum())} label(s) in column {label_col!r} are not 0/1 "
                         f"({_lines(bad, table[label_col])})")
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        raise ValueError(f"{source}: {int(dup.sum())} rows repeat a study id ({_lines(dup, ids)}); "
                         "one reference label per study")
    readers = None
    if readers_col is not None:
        readers = pd.to_numeric(table[readers_col].astype(str).str.strip(), errors="coerce")
        bad = ~(readers.notna() & (readers >= 1) & (readers == readers.round())).to_numpy()
        if bad.any():
            raise ValueError(f"{source}: reader counts in {readers_col!r} must be integers >= 1 "
                             f"({_lines(bad, table[readers_col])})")

    known = _study_ids(studies)
    report = ReferenceReport(source=source, scope="as given in the file", n_in=len(table),
                             n_matched=len(table), n_studies=None if known is None else len(known))
    keep = np.ones(len(table), dtype=bool)
    if known is not None:
        keep = ids.isin(known).to_numpy()
        if (~keep).any():
            if unknown == "error":
                raise ValueError(f"{source}: {int((~keep).sum())} row(s) name a study not in the "
                                 f"study table ({_lines(~keep, ids)}); pass unknown='skip' to "
                                 "count and skip them")
            report.n_unknown = int((~keep).sum())
            report.n_matched = int(keep.sum())
            report.skipped = [(f"line {r + 2}: {ids.iloc[r]}", "unknown study id")
                              for r in np.flatnonzero(~keep)[:MAX_LISTED]]
    if readers is not None:
        report.reads = int(readers[keep].sum())
    return _series(ids[keep], value[keep].astype(int), report)


def generated_reference(root: str | os.PathLike) -> pd.Series:
    """A generated tree's reference standard: the simulated panel's majority (reference.csv).

    Checks that the file is the panel's own (columns, 0/1 reads, votes and majority consistent);
    a tree from before the panel existed has no reference.csv: regenerate it.
    """
    root = Path(root)
    csv = root / REFERENCE_CSV
    if not csv.is_file():
        raise FileNotFoundError(f"{csv} not found: not a generated tree, or one written before the "
                                "reference panel existed (regenerate it with generate_nih_tree)")
    table = pd.read_csv(csv, dtype={"Image Index": str, "study_id": str})
    lacking = [c for c in REFERENCE_COLUMNS if c not in table.columns]
    if lacking or table.empty:
        raise ValueError(f"{csv}: missing column(s) {lacking} or no rows; found {list(table.columns)}")
    k = int(table["n_readers"].iloc[0])
    cols = reader_columns(k)
    if (table["n_readers"] != k).any() or any(c not in table.columns for c in cols):
        raise ValueError(f"{csv}: expected {k} reader columns {cols} in every row")
    reads = table[cols].to_numpy()
    if not np.isin(reads, (0, 1)).all():
        raise ValueError(f"{csv}: reader reads must be 0/1")
    votes = reads.sum(axis=1)
    if (votes != table["votes_abnormal"]).any() or ((votes > k // 2) != table[LABEL]).any():
        raise ValueError(f"{csv}: votes_abnormal / {LABEL} disagree with the reader columns")
    series = load_reference_labels(table[["study_id", LABEL, "n_readers"]], None)
    series.attrs[REPORT_KEY].update(
        source=str(csv),
        scope=f"simulated {k}-reader panel, majority vote (triage_ray.data.synth.panel); truth-"
              "based reader model, not a model's output")
    return series


def _from_generated_tree(studies: pd.DataFrame) -> bool:
    """Whether the study table's images lie in a generated tree (generated_set.json beside them)."""
    if "path" not in studies.columns:
        return False
    dirs = {Path(p).parent for p in studies["path"].dropna().astype(str).unique()[:1000]}
    return any((d.parent / "generated_set.json").is_file() for d in dirs)


def nih_google_reference(studies: pd.DataFrame | Iterable[str]) -> pd.Series:
    """Google's 2019 radiologist panel (Majkowska et al., Radiology 2019), for NIH studies.

    Reference 1 when the panel says YES to any of its four categories (pneumothorax, nodule or
    mass, airspace opacity, fracture), else 0; normal thus means GOOGLE_SCOPE, and nothing is
    promised about effusion, cardiomegaly and the rest. Only the 4,376 relabelled images get a
    label; the others are absent from the result (counted as `excluded` in the report). Real NIH
    images only: a generated tree reuses NIH-like names for other pictures and is refused.
    """
    if isinstance(studies, pd.DataFrame):
        if "source" in studies.columns and (studies["source"] != "nih").any():
            raise ValueError("nih_google_reference: studies must all be NIH ('source' == 'nih')")
        if _from_generated_tree(studies):
            raise ValueError("nih_google_reference: these studies are a generated tree (their ids "
                             "are renumbered, not NIH's); use generated_reference(root)")
    known = _study_ids(studies)
    assert known is not None
    g = google_relabels()
    ids = g["Image Index"].astype(str).str.removesuffix(".png")
    yes = (g[list(GOOGLE_CATEGORIES)] == "YES").any(axis=1)
    have = ids.isin(known).to_numpy()
    report = ReferenceReport(
        source="torchxrayvision google2019_nih-chest-xray-labels (Majkowska et al. 2019)",
        scope=GOOGLE_SCOPE, n_in=len(known), n_matched=int(have.sum()), n_studies=len(known),
        excluded={"not relabelled by the Google panel": len(known) - int(have.sum())})
    return _series(ids[have], yes[have].astype(int), report)


def chexpert_valid_reference(root: str | os.PathLike, *, views: tuple[str, ...] = ("frontal",),
                             support_devices_abnormal: bool = False,
                             missing: str = "error") -> pd.Series:
    """CheXpert's validation studies (valid.csv under `root`), labelled by radiologists.

    The normal definition is load_chexpert's (no positive pathology column); study ids are the
    loader's, so the result lines up with load_chexpert(root). The loader's filters (views,
    uncertain cells, which a real valid.csv does not have) are counted in `excluded`.
    """
    from triage_ray.data.chexpert import load_chexpert

    df = load_chexpert(root, splits=("valid",), views=views, uncertain="ignore",
                       support_devices_abnormal=support_devices_abnormal, missing=missing)
    load = df.attrs["load_report"]
    report = ReferenceReport(source=load["source"] + "/valid.csv", scope=CHEXPERT_SCOPE,
                             n_in=load["n_in"], n_matched=len(df), skipped=load["skipped"],
                             reads=CHEXPERT_VALID_READERS * len(df), excluded=dict(load["excluded"]))
    return _series(df["study_id"].astype(str), df["label"].astype(int), report)


def reference_cost(n_studies: int, n_readers: int = REFERENCE_READS_PER_STUDY, *,
                   arbiter_rate: float = 0.0) -> int:
    """Radiologist reads for a reference set: n_readers per study, plus an arbiter read on the
    `arbiter_rate` share of studies the readers disagree on (two readers: 0.11-0.19)."""
    if n_studies < 0 or n_readers < 1 or not 0.0 <= arbiter_rate <= 1.0:
        raise ValueError(f"need n_studies >= 0, n_readers >= 1, arbiter_rate in [0, 1]; got "
                         f"{n_studies}, {n_readers}, {arbiter_rate}")
    return int(n_studies * n_readers + math.ceil(n_studies * arbiter_rate))


def min_auto_normal_count(alpha: float, delta: float, n_abnormal: int = 0) -> int:
    """Fewest reference-labelled auto-normal studies that certify "abnormal rate <= alpha" with
    confidence 1 - delta when `n_abnormal` of them turn out abnormal: the smallest n whose
    one-sided Clopper-Pearson upper bound (the pooled RateBound the abstention rules test) is
    <= alpha. At 95%, alpha 1%: 299 (0 abnormal), 473 (1), 628 (2), 1,049 (5)."""
    if not 0.0 < alpha < 1.0 or not 0.0 < delta < 1.0 or n_abnormal < 0:
        raise ValueError(f"need alpha, delta in (0, 1) and n_abnormal >= 0; got {alpha}, {delta}, "
                         f"{n_abnormal}")
    bound = RateBound(n_pos=0, n_neg=0)  # pooled: the selection counts are not used

    def ok(n: int) -> bool:
        return float(bound.abnormal_upper(n, n_abnormal, delta)) <= alpha

    lo, hi = n_abnormal, max(2 * n_abnormal, 16)
    while not ok(hi):
        lo, hi = hi, 2 * hi
    while hi - lo > 1:  # the bound falls as n grows at fixed n_abnormal
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def min_reference_size(alpha: float, delta: float, expected_auto_normal_share: float, *,
                       n_abnormal: int = 0) -> int:
    """Reference studies to label so that, with `expected_auto_normal_share` of them sent to
    auto-normal, min_auto_normal_count(alpha, delta, n_abnormal) land there (in expectation)."""
    if not 0.0 < expected_auto_normal_share <= 1.0:
        raise ValueError(f"expected_auto_normal_share must be in (0, 1], got {expected_auto_normal_share}")
    return math.ceil(min_auto_normal_count(alpha, delta, n_abnormal) / expected_auto_normal_share - 1e-9)
