"""CheXpert (train.csv / valid.csv with a Path column) -> the study table.

Label cells are 1 (positive), 0 (negative), -1 (uncertain: the report hedged) or blank (not
mentioned, read as negative). The normal definition, stated: a study is normal when none of the
pathology columns is positive; "Support Devices" is not a pathology unless
`support_devices_abnormal=True` (CheXpert's own "No Finding" column follows the same rule), and the
"No Finding" column itself is not used. Uncertain cells follow `uncertain` (Irvin et al. 2019):
"ignore" drops a study whose label hinges on an uncertain cell (no certain positive, at least one
uncertain), "zeros" reads -1 as 0, "ones" reads -1 as 1.

Sex and Age become the table's `sex` and `age` columns: the intended-use gate admits only studies
of a stated adult, so a CheXpert table without them would have no study in scope.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from triage_ray.data.age import normalise_sex, parse_ages
from triage_ray.data.report import LoadReport, attach, resolve_missing
from triage_ray.data.schema import LABEL_UNKNOWN, STUDY_COLUMNS

PATHOLOGIES: tuple[str, ...] = (
    "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion",
    "Pleural Other", "Fracture",
)
SUPPORT_DEVICES = "Support Devices"
REQUIRED = ("Path", "Frontal/Lateral", "AP/PA")  # Sex and Age are read when present (module doc)
SPLIT_FILES = {"train": "train.csv", "valid": "valid.csv"}
UNCERTAIN_POLICIES = ("ignore", "zeros", "ones")
VIEWS = ("frontal", "lateral")


def load_chexpert(root: str | os.PathLike, *, splits: tuple[str, ...] = ("train", "valid"),
                  views: tuple[str, ...] = ("frontal",), uncertain: str = "ignore",
                  support_devices_abnormal: bool = False, labels: bool = True,
                  missing: str = "error") -> pd.DataFrame:
    """Study table for a CheXpert folder (the one holding train.csv / valid.csv).

    Frontal views only by default. Deliberate filters (views, uncertain-label drops) are counted
    in df.attrs["load_report"]["excluded"]; absent images raise unless missing="skip".
    """
    root = Path(root)
    if uncertain not in UNCERTAIN_POLICIES:
        raise ValueError(f"uncertain must be one of {UNCERTAIN_POLICIES}, got {uncertain!r}")
    bad_views = [v for v in views if v not in VIEWS]
    if bad_views or not views:
        raise ValueError(f"views must be a non-empty subset of {VIEWS}, got {views!r}")
    if not root.is_dir():
        raise FileNotFoundError(f"CheXpert root {root} is not a directory")
    tables = []
    for split in splits:
        if split not in SPLIT_FILES:
            raise ValueError(f"unknown CheXpert split {split!r}; expected {tuple(SPLIT_FILES)}")
        csv = root / SPLIT_FILES[split]
        if csv.is_file():
            tables.append(_load_csv(csv, root, views=views, uncertain=uncertain,
                                    support_devices_abnormal=support_devices_abnormal,
                                    labels=labels, missing=missing))
    if not tables:
        raise FileNotFoundError(f"none of {[SPLIT_FILES[s] for s in splits]} found in {root}")
    out = pd.concat(tables, ignore_index=True)
    reports = [t.attrs["load_report"] for t in tables]
    report = LoadReport(source=str(root), n_in=sum(r["n_in"] for r in reports),
                        skipped=[tuple(s) for r in reports for s in r["skipped"]],
                        notes=[n for r in reports for n in r.get("notes", [])])
    for r in reports:
        for why, n in r["excluded"].items():
            report.excluded[why] = report.excluded.get(why, 0) + n
    return attach(out, report)


def _load_csv(csv: Path, root: Path, *, views: tuple[str, ...], uncertain: str,
              support_devices_abnormal: bool, labels: bool, missing: str) -> pd.DataFrame:
    table = pd.read_csv(csv, dtype={"Path": str, "Frontal/Lateral": str, "AP/PA": str})
    columns = list(PATHOLOGIES) + ([SUPPORT_DEVICES] if support_devices_abnormal else [])
    needed = (*REQUIRED, *columns) if labels else REQUIRED
    report = LoadReport.for_table(csv, table, needed)

    frontal = table["Frontal/Lateral"].str.strip().str.lower().eq("frontal")
    view_ok = (frontal & ("frontal" in views)) | (~frontal & ("lateral" in views))
    if (~view_ok).any():
        report.excluded["view not in " + "/".join(views)] = int((~view_ok).sum())
    table = table[view_ok]
    frontal = frontal[view_ok]

    if labels:
        label, keep, findings = label_cells(table, columns, csv, uncertain, report)
    else:
        label = np.full(len(table), LABEL_UNKNOWN, dtype=np.int8)
        keep = np.ones(len(table), dtype=bool)
        findings = [""] * len(table)

    rel = table["Path"].str.strip()
    base, strip = _image_base(root, rel.iloc[0] if len(rel) else "")
    paths = rel.map(lambda p: os.path.abspath(base / (Path(*Path(p).parts[1:]) if strip else p)))
    ap_pa = table["AP/PA"].fillna("").str.strip().str.upper()
    out = pd.DataFrame({
        "study_id": rel.str.replace(r"^.*?(patient\d+/)", r"\1", regex=True).str.rsplit(".", n=1).str[0],
        "patient_id": rel.str.extract(r"(patient\d+)", expand=False).fillna(rel),
        "view": np.where(frontal, ap_pa.where(ap_pa.isin(["AP", "PA"]), ""), "LATERAL"),
        "path": paths,
        "label": label,
        "findings": findings,
        "source": "chexpert",
    })[list(STUDY_COLUMNS)]
    out = _demographics(out, table, report)
    out = out[keep].reset_index(drop=True)
    present = resolve_missing(out["path"], out["path"].map(os.path.isfile), report, missing)
    return attach(out[present.to_numpy()].reset_index(drop=True), report)


def _demographics(out: pd.DataFrame, table: pd.DataFrame, report: LoadReport) -> pd.DataFrame:
    """`out` with age (years) and sex ("F"/"M"/"") from the Sex and Age columns when the CSV has
    them (CheXpert's do); ages it cannot read are named in the load report, never guessed."""
    if "Age" in table:
        out["age"], bad = parse_ages(table["Age"].reset_index(drop=True))
        report.note_unreadable("Age", bad)
    if "Sex" in table:
        out["sex"] = normalise_sex(table["Sex"]).to_numpy()
    return out


def label_cells(table: pd.DataFrame, columns: list[str], csv: Path, uncertain: str,
                report: LoadReport) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(label int8, rows kept, "|"-joined findings) from CheXpert-convention cells (blank / 1 / 0
    / -1) under the `uncertain` policy (module doc); the rows 'ignore' drops are counted in
    `report`. MIMIC-CXR-JPG's CheXpert and NegBio label files use the same cells."""
    values = _label_matrix(table, columns, csv)  # (N, C) with nan / 1 / 0 / -1
    positive = (values == 1) | ((values == -1) & (uncertain == "ones"))
    label = positive.any(axis=1).astype(np.int8)
    hinge = ~positive.any(axis=1) & (values == -1).any(axis=1)
    keep = ~hinge if uncertain == "ignore" else np.ones(len(table), dtype=bool)
    if (~keep).any():
        report.excluded["uncertain label (uncertain='ignore')"] = int((~keep).sum())
    findings = ["|".join(c for c, p in zip(columns, row, strict=True) if p) for row in positive]
    return label, keep, findings


def _label_matrix(table: pd.DataFrame, columns: list[str], csv: Path) -> np.ndarray:
    """(N, C) float array of label cells; any value other than blank/1/0/-1 names its line."""
    values = table[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    raw_blank = table[columns].isna().to_numpy()
    bad = (np.isnan(values) & ~raw_blank) | ~(np.isnan(values) | np.isin(values, (1.0, 0.0, -1.0)))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        line = table.index[r] + 2  # header is line 1; index is the CSV row order
        raise ValueError(f"{csv} line {line}: unknown value {table[columns[c]].iloc[r]!r} in "
                         f"column {columns[c]!r} (expected blank, 1, 0 or -1)")
    return values


def _image_base(root: Path, first: str) -> tuple[Path, bool]:
    """(folder the Path column is relative to, whether to drop its first component).

    CheXpert's Paths start with the dataset folder's name (CheXpert-v1.0-small/train/...), so the
    base is usually root's parent; a renamed root folder is handled by dropping that component.
    """
    rest = Path(*Path(first).parts[1:]) if len(Path(first).parts) > 1 else Path(first)
    for base, strip in ((root.parent, False), (root, False), (root, True)):
        if (base / (rest if strip else first)).is_file():
            return base, strip
    return (root.parent, False) if Path(first).parts[:1] == (root.name,) else (root, True)
