"""MIMIC-CXR-JPG (PhysioNet, v2.0.0 / v2.1.0) -> the study table.

Layout read, as PhysioNet ships it (root = the folder holding the CSVs):
- `mimic-cxr-2.0.0-metadata.csv[.gz]`: one row per image (dicom_id, subject_id, study_id,
  ViewPosition, Rows, Columns, StudyDate, ...);
- `mimic-cxr-2.0.0-chexpert.csv[.gz]` (or `-negbio`): one row per study (subject_id, study_id,
  the 13 findings, "Support Devices", "No Finding"), CheXpert's cells (blank / 1 / 0 / -1) read
  with CheXpert's policy (`data.chexpert.label_cells`);
- `mimic-cxr-2.0.0-split.csv[.gz]`: the official patient-level split (train / validate / test),
  kept as `official_split` ("trainval" / "test", as for NIH) so the splitter can honour it;
- JPEGs at `files/p<first two digits of subject>/p<subject>/s<study>/<dicom_id>.jpg`.

One row per image (a study's PA and lateral are two rows); study_id is the dicom_id, patient_id
the subject_id. MIMIC-CXR states no age or sex: they live in MIMIC-IV's `patients.csv[.gz]`
(subject_id, gender, anchor_age, anchor_year). When that file is in root, age = anchor_age +
(the study's year - anchor_year), dates being shifted consistently per patient; without it every
study is "age not stated", and the intended-use gate admits none unless the site declares the
set adults-only (`intended_use.site_declares_adults`; MIMIC-CXR's patients are adults).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from triage_ray.data.age import normalise_sex
from triage_ray.data.chexpert import PATHOLOGIES, SUPPORT_DEVICES, UNCERTAIN_POLICIES, label_cells
from triage_ray.data.report import LoadReport, attach, resolve_missing
from triage_ray.data.schema import LABEL_UNKNOWN, OFFICIAL_SPLIT, STUDY_COLUMNS

METADATA = "mimic-cxr-2.0.0-metadata.csv"
LABEL_FILES = {"chexpert": "mimic-cxr-2.0.0-chexpert.csv", "negbio": "mimic-cxr-2.0.0-negbio.csv"}
SPLIT_FILE = "mimic-cxr-2.0.0-split.csv"
PATIENTS = "patients.csv"  # MIMIC-IV hosp/patients.csv: the only source of age and sex
REQUIRED = ("dicom_id", "subject_id", "study_id", "ViewPosition")
FRONTAL = {"PA": "PA", "AP": "AP"}
LATERAL = {"LATERAL", "LL", "RL"}
OFFICIAL = {"train": "trainval", "validate": "trainval", "test": "test"}


def find_table(root: Path, name: str) -> Path | None:
    """root/name or root/name.gz (PhysioNet ships the CSVs gzipped)."""
    for candidate in (root / name, root / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def load_mimic(root: str | os.PathLike, *, labeler: str = "chexpert",
               views: tuple[str, ...] = ("frontal",), uncertain: str = "ignore",
               support_devices_abnormal: bool = False, labels: bool = True,
               missing: str = "error") -> pd.DataFrame:
    """Study table (STUDY_COLUMNS + age, sex when patients.csv is there + official_split)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"MIMIC-CXR-JPG root {root} is not a directory")
    if labeler not in LABEL_FILES or uncertain not in UNCERTAIN_POLICIES:
        raise ValueError(f"labeler must be one of {tuple(LABEL_FILES)} and uncertain one of "
                         f"{UNCERTAIN_POLICIES}; got {labeler!r}, {uncertain!r}")
    meta_csv = find_table(root, METADATA)
    if meta_csv is None:
        raise FileNotFoundError(f"no {METADATA}[.gz] in {root} (is this a MIMIC-CXR-JPG folder?)")
    meta = pd.read_csv(meta_csv, dtype={"dicom_id": str, "subject_id": str, "study_id": str,
                                        "ViewPosition": str, "StudyDate": str})
    report = LoadReport.for_table(meta_csv, meta, REQUIRED)
    meta = _views(meta, views, report)
    label, keep, findings = _labels(root, meta, labeler, uncertain, support_devices_abnormal,
                                    labels, report)
    sub, study = meta["subject_id"].str.strip(), meta["study_id"].str.strip()
    paths = (str(root / "files") + "/p" + sub.str[:2] + "/p" + sub + "/s" + study + "/"
             + meta["dicom_id"].str.strip() + ".jpg")
    out = pd.DataFrame({
        "study_id": meta["dicom_id"].str.strip(), "patient_id": sub,
        "view": meta["ViewPosition"].fillna("").str.strip().str.upper().map(
            lambda v: FRONTAL.get(v, "LATERAL" if v in LATERAL else "")),
        "path": paths.map(os.path.abspath), "label": label, "findings": findings,
        "source": "mimic"})[list(STUDY_COLUMNS)]
    out = _demographics(root, out, meta)
    out[OFFICIAL_SPLIT] = _official_split(root, out["study_id"])
    out = out[keep].reset_index(drop=True)
    present = resolve_missing(out["path"], out["path"].map(os.path.isfile), report, missing)
    return attach(out[present.to_numpy()].reset_index(drop=True), report)


def _views(meta: pd.DataFrame, views: tuple[str, ...], report: LoadReport) -> pd.DataFrame:
    v = meta["ViewPosition"].fillna("").str.strip().str.upper()
    ok = (v.isin(list(FRONTAL)) & ("frontal" in views)) | (v.isin(list(LATERAL)) & ("lateral" in views))
    if (~ok).any():
        report.excluded[f"view not in {'/'.join(views)} (ViewPosition)"] = int((~ok).sum())
    return meta[ok].reset_index(drop=True)


def _labels(root: Path, meta: pd.DataFrame, labeler: str, uncertain: str, devices: bool,
            labels: bool, report: LoadReport) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per image: the label of its study (a study without a label row is an error naming it)."""
    if not labels:
        return (np.full(len(meta), LABEL_UNKNOWN, np.int8), np.ones(len(meta), bool),
                [""] * len(meta))
    csv = find_table(root, LABEL_FILES[labeler])
    if csv is None:
        raise FileNotFoundError(f"no {LABEL_FILES[labeler]}[.gz] in {root}")
    columns = [*PATHOLOGIES, *([SUPPORT_DEVICES] if devices else [])]
    table = pd.read_csv(csv, dtype={"subject_id": str, "study_id": str})
    LoadReport.for_table(csv, table, ("subject_id", "study_id", *columns))
    table = table.set_index(table["study_id"].str.strip())
    repeats = table.index[table.index.duplicated()]
    if len(repeats):
        raise ValueError(f"{csv}: study_id repeats, e.g. {repeats[:3].tolist()}")
    study = meta["study_id"].str.strip()
    unlabelled = ~study.isin(table.index)
    if unlabelled.any():
        raise ValueError(f"{csv}: no label row for study {study[unlabelled].iloc[0]} (image "
                         f"{meta['dicom_id'][unlabelled].iloc[0]}); {int(unlabelled.sum())} images "
                         "lack one")
    per_image = table.loc[study, columns].reset_index(drop=True)
    return label_cells(per_image, columns, csv, uncertain, report)


def _demographics(root: Path, out: pd.DataFrame, meta: pd.DataFrame) -> pd.DataFrame:
    """age and sex from MIMIC-IV's patients.csv when it is in root (module doc)."""
    csv = find_table(root, PATIENTS)
    if csv is None:
        return out
    pts = pd.read_csv(csv, dtype={"subject_id": str, "gender": str})
    LoadReport.for_table(csv, pts, ("subject_id", "gender", "anchor_age", "anchor_year"))
    pts = pts.set_index(pts["subject_id"].str.strip())
    sub = out["patient_id"]
    year = pd.to_numeric(meta["StudyDate"].astype(str).str[:4], errors="coerce").to_numpy() \
        if "StudyDate" in meta else np.nan
    anchor_age = pd.to_numeric(sub.map(pts["anchor_age"]), errors="coerce").to_numpy()
    anchor_year = pd.to_numeric(sub.map(pts["anchor_year"]), errors="coerce").to_numpy()
    out["age"] = anchor_age + np.where(np.isnan(year), 0.0, year - anchor_year)
    out["sex"] = normalise_sex(sub.map(pts["gender"])).to_numpy()
    return out


def _official_split(root: Path, dicom_ids: pd.Series) -> pd.Series:
    """"trainval" / "test" per image from the official split file, "" where it says nothing."""
    csv = find_table(root, SPLIT_FILE)
    if csv is None:
        return pd.Series("", index=dicom_ids.index, dtype=object)
    split = pd.read_csv(csv, dtype={"dicom_id": str, "split": str})
    by_id = pd.Series(split["split"].str.strip().map(OFFICIAL).to_numpy(),
                      index=split["dicom_id"].str.strip())
    return dicom_ids.map(by_id).fillna("").astype(object)
