"""Any CSV + image folder -> the study table (for data that is neither NIH nor CheXpert).

The CSV needs a path column (relative to `image_root`, or absolute) and a patient column (splits
are by patient); a label column with 0/1 (or normal/abnormal) unless labels=False. Optional
columns give the study id, view (PA / AP / LATERAL), "|"-joined findings, age (years, or a DICOM
age string such as 045Y) and sex (F / M, Female / Male). Without an age column no study is a
verified adult, so the intended-use gate admits none of them to triage (unless the site declares
the export adults-only: `intended_use.site_declares_adults`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from triage_ray.data.age import normalise_sex, parse_ages
from triage_ray.data.report import LoadReport, attach, resolve_missing
from triage_ray.data.schema import LABEL_UNKNOWN, STUDY_COLUMNS

LABEL_VALUES = {"1": 1, "0": 0, "1.0": 1, "0.0": 0, "abnormal": 1, "normal": 0}


def load_generic(csv_path: str | os.PathLike, image_root: str | os.PathLike | None = None, *,
                 path_col: str = "path", label_col: str = "label", patient_col: str = "patient_id",
                 study_col: str | None = None, view_col: str | None = None,
                 findings_col: str | None = None, age_col: str | None = None,
                 sex_col: str | None = None, labels: bool = True, source: str = "generic",
                 missing: str = "error") -> pd.DataFrame:
    """Study table from a CSV of image paths; the image folder defaults to the CSV's folder."""
    csv = Path(csv_path)
    if not csv.is_file():
        raise FileNotFoundError(f"label file {csv} not found")
    root = Path(image_root) if image_root is not None else csv.parent
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} is not a directory")
    if not any(root.iterdir()):
        raise FileNotFoundError(f"image folder {root} is empty")
    table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    needed = [path_col, patient_col, *([label_col] if labels else []),
              *(c for c in (study_col, view_col, findings_col, age_col, sex_col) if c)]
    report = LoadReport.for_table(csv, table, needed)

    rel = table[path_col].str.strip()
    empty = rel.eq("")
    if empty.any():
        raise ValueError(f"{csv} line {int(np.flatnonzero(empty)[0]) + 2}: empty '{path_col}'")
    paths = rel.map(lambda p: os.path.abspath(p if os.path.isabs(p) else root / p))
    study = table[study_col].str.strip() if study_col else rel.str.rsplit(".", n=1).str[0]
    dupes = study[study.duplicated()]
    if len(dupes):
        raise ValueError(f"{csv}: study ids repeat, e.g. {dupes.head(3).tolist()}")
    if labels:
        label = _parse_labels(table[label_col], csv, label_col)
    else:
        label = np.full(len(table), LABEL_UNKNOWN, dtype=np.int8)
    views = table[view_col].str.strip().str.upper() if view_col else pd.Series("", index=table.index)
    out = pd.DataFrame({
        "study_id": study,
        "patient_id": table[patient_col].str.strip(),
        "view": views.where(views.isin(["PA", "AP", "LATERAL"]), ""),
        "path": paths,
        "label": label,
        "findings": table[findings_col].str.strip() if findings_col and labels else "",
        "source": source,
    })[list(STUDY_COLUMNS)]
    if age_col:
        out["age"], bad = parse_ages(table[age_col])
        report.note_unreadable(age_col, bad)
    if sex_col:
        out["sex"] = normalise_sex(table[sex_col]).to_numpy()
    no_patient = out["patient_id"].eq("")
    if no_patient.any():
        raise ValueError(f"{csv} line {int(np.flatnonzero(no_patient)[0]) + 2}: empty '{patient_col}'")
    present = resolve_missing(out["path"], out["path"].map(os.path.isfile), report, missing)
    return attach(out[present.to_numpy()].reset_index(drop=True), report)


def _parse_labels(col: pd.Series, csv: Path, name: str) -> np.ndarray:
    mapped = col.str.strip().str.lower().map(LABEL_VALUES)
    bad = mapped.isna()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{csv} line {i + 2}: unknown label {col.iloc[i]!r} in column '{name}' "
                         f"(expected one of {sorted(set(LABEL_VALUES))})")
    return mapped.to_numpy(dtype=np.int8)
