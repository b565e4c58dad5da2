"""NIH ChestX-ray14 (and generated sets in its layout) -> the study table.

Layout read: root/Data_Entry_2017*.csv, PNGs in root/images/ or root/images_0XX/images/ (the
Kaggle/Box archive layout), and, when present, the official patient-level lists
root/train_val_list.txt and root/test_list.txt. "No Finding" is normal; any of the 14 findings is
abnormal.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from triage_ray.data.report import LoadReport, attach, resolve_missing
from triage_ray.data.schema import (
    LABEL_UNKNOWN,
    NIH_FINDINGS,
    NO_FINDING,
    OFFICIAL_SPLIT,
    STUDY_COLUMNS,
)

log = logging.getLogger(__name__)

REQUIRED = ("Image Index", "Patient ID", "View Position")
LABEL_COLUMN = "Finding Labels"
OFFICIAL_LISTS = {"trainval": "train_val_list.txt", "test": "test_list.txt"}


def load_nih(root: str | os.PathLike, *, labels: bool = True, missing: str = "error") -> pd.DataFrame:
    """Study table (STUDY_COLUMNS + official_split) for an NIH-layout folder.

    labels=False gives label -1 and no findings for every row (an unlabeled pile; the label
    column need not exist). missing="skip" counts and skips rows whose PNG is absent instead of
    raising; the counts are in df.attrs["load_report"].
    """
    root = Path(root)
    csv = find_label_file(root)
    table = pd.read_csv(csv, dtype={"Image Index": str, "Patient ID": str, "View Position": str},
                        keep_default_na=False)
    needed = (*REQUIRED, LABEL_COLUMN) if labels else REQUIRED
    report = LoadReport.for_table(csv, table, needed)
    dupes = table["Image Index"][table["Image Index"].duplicated()]
    if len(dupes):
        raise ValueError(f"{csv}: 'Image Index' repeats, e.g. {dupes.head(3).tolist()}")

    index = image_index(root)
    paths = table["Image Index"].map(index)
    keep = resolve_missing(table["Image Index"].where(paths.isna(), paths), paths.notna(), report,
                           missing)
    if labels:
        label, findings = parse_finding_labels(table[LABEL_COLUMN], csv)
    else:
        label = np.full(len(table), LABEL_UNKNOWN, dtype=np.int8)
        findings = [""] * len(table)
    views = table["View Position"].str.strip().str.upper()
    out = pd.DataFrame({
        "study_id": table["Image Index"].str.removesuffix(".png"),
        "patient_id": table["Patient ID"].str.strip(),
        "view": views.where(views.isin(["PA", "AP"]), ""),
        "path": paths,
        "label": label,
        "findings": findings,
        "source": "nih",
        OFFICIAL_SPLIT: official_split(root, table["Image Index"]),
    })[[*STUDY_COLUMNS, OFFICIAL_SPLIT]]
    out = out[keep.to_numpy()].reset_index(drop=True)
    return attach(out, report)


def find_label_file(root: Path) -> Path:
    """Data_Entry_2017*.csv in root; the v2020 revision wins when both are there."""
    if not root.is_dir():
        raise FileNotFoundError(f"NIH root {root} is not a directory")
    found = sorted(root.glob("Data_Entry_2017*.csv"))
    if not found:
        raise FileNotFoundError(f"no Data_Entry_2017*.csv in {root} (is this an NIH ChestX-ray14 folder?)")
    newest = [p for p in found if "v2020" in p.name] or found
    if len(found) > 1:
        log.info("several NIH label files in %s; using %s", root, newest[0].name)
    return newest[0]


def image_index(root: Path) -> dict[str, str]:
    """Image file name -> absolute path over root/images and root/images_*/images."""
    dirs = [root / "images", *sorted(root.glob("images_*/images")), *sorted(root.glob("images_*"))]
    index: dict[str, str] = {}
    for d in dirs:
        if not d.is_dir():
            continue
        with os.scandir(d) as it:
            for e in it:
                if e.name.lower().endswith(".png") and e.name not in index:
                    index[e.name] = os.path.abspath(e.path)
    if not index:
        raise FileNotFoundError(
            f"no PNG images under {root}/images or {root}/images_0XX/images (empty or wrong folder)")
    return index


def parse_finding_labels(col: pd.Series, csv: Path) -> tuple[np.ndarray, list[str]]:
    """'Finding Labels' -> (label int8, "|"-joined findings); unknown values name their CSV line."""
    known = set(NIH_FINDINGS)
    label = np.empty(len(col), dtype=np.int8)
    findings: list[str] = []
    for i, raw in enumerate(col.tolist()):
        parts = [p.strip() for p in str(raw).split("|")]
        line = i + 2  # 1-based, after the header
        if parts == [NO_FINDING]:
            label[i] = 0
            findings.append("")
            continue
        bad = [p for p in parts if p not in known]
        if bad:
            raise ValueError(f"{csv} line {line}: unknown value(s) {bad} in '{LABEL_COLUMN}' "
                             f"(expected '{NO_FINDING}' or '|'-joined names from {list(NIH_FINDINGS)})")
        label[i] = 1
        findings.append("|".join(parts))
    return label, findings


def official_split(root: Path, names: pd.Series) -> pd.Series:
    """"trainval" / "test" per image from NIH's official lists, "" where they say nothing."""
    out = pd.Series("", index=names.index, dtype=object)
    for split, fname in OFFICIAL_LISTS.items():
        f = root / fname
        if f.is_file():
            listed = {ln.strip() for ln in f.read_text().splitlines() if ln.strip()}
            out[names.isin(listed)] = split
    return out
