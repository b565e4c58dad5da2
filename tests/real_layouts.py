"""Trees in the real public layouts, built from the real tables torchxrayvision installs, with
generated pixels at the real paths: what a team's own CheXpert copy or PACS export looks like to the
pipeline (schema, value formats, missing values), without a patient image.

- `write_chexpert_tree`: CheXpert-v1.0-small/train.csv and valid.csv holding the first rows of
  CheXpert's real train.csv (Path, Sex, Age, Frontal/Lateral, AP/PA, the 14 label columns with their
  blank / 1 / 0 / -1 cells); each JPEG is rendered by the generator from the row's own sex, age,
  view and certain-positive findings, so the labels carry signal a model can learn.
- `write_mimic_tree`: MIMIC-CXR-JPG's files as PhysioNet documents them (metadata, CheXpert-style
  labels, official split, MIMIC-IV's patients.csv), label cells taken from CheXpert's real rows
  (the same labeller and cell convention); torchxrayvision ships no MIMIC table (credentialed).
- `write_nih_tree`: an NIH ChestX-ray14 copy holding the first rows of the real Data_Entry table
  (its image names, patients, ages, sexes, views and finding labels), PNGs in images_00X/images/,
  and the official train_val/test lists split by patient; `write_generic_csv` puts the generic
  source's labels.csv (path, patient_id, label, view, age as a DICOM age string, sex) over it.
- `write_rsna_pile`: DICOM files carrying the RSNA Pneumonia Challenge's real header rows
  (PatientAge as a plain number, children and implausible ages among them), rendered likewise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from triage_ray.data.chexpert import PATHOLOGIES
from triage_ray.data.reference import chexpert_table, nih_table, rsna_dicom_headers
from triage_ray.data.schema import GENERATED_FINDINGS
from triage_ray.data.synth.dicom import write_header_tree
from triage_ray.data.synth.render import StudySpec, render_study

# CheXpert's pathology columns -> the generator's finding that draws the same thing
CHEXPERT_TO_GENERATED = {
    "Enlarged Cardiomediastinum": "Cardiomegaly", "Cardiomegaly": "Cardiomegaly",
    "Lung Opacity": "Infiltration", "Lung Lesion": "Nodule", "Edema": "Edema",
    "Consolidation": "Consolidation", "Pneumonia": "Pneumonia", "Atelectasis": "Atelectasis",
    "Pneumothorax": "Pneumothorax", "Pleural Effusion": "Effusion",
    "Pleural Other": "Pleural_Thickening", "Fracture": "Fracture",
}
CONSPICUITY = 0.9


def _pixels(i: int, age: float, female: bool, view: str, findings: tuple[str, ...],
            size: int) -> np.ndarray:
    spec = StudySpec(index=i, patient=i, age=int(age) if np.isfinite(age) else 50, female=female,
                     view=view if view in ("PA", "AP") else "PA", findings=findings,
                     conspicuity=(CONSPICUITY,) * len(findings))
    return render_study(spec, size, seed=11)


def write_chexpert_tree(base: Path, n_rows: int, size: int, n_valid: int = 40) -> Path:
    """base/CheXpert-v1.0-small with the first n_rows real rows in train.csv and the next n_valid
    in valid.csv (their Paths moved to valid/); returns the dataset folder (the source's data_root)."""
    rows = chexpert_table().head(n_rows + n_valid).copy()
    root = base / "CheXpert-v1.0-small"
    root.mkdir(parents=True)
    train, valid = rows.iloc[:n_rows].copy(), rows.iloc[n_rows:].copy()
    valid["Path"] = valid["Path"].str.replace("/train/", "/valid/", regex=False)
    for part, name in ((train, "train.csv"), (valid, "valid.csv")):
        part.to_csv(root / name, index=False)
    for i, (_, row) in enumerate(pd.concat([train, valid]).iterrows()):
        found = tuple(sorted({CHEXPERT_TO_GENERATED[c] for c in PATHOLOGIES if row[c] == 1.0}))
        f = base / row["Path"]
        f.parent.mkdir(parents=True, exist_ok=True)
        px = _pixels(i, float(row["Age"]), row["Sex"] == "Female", str(row["AP/PA"]), found, size)
        Image.fromarray(px, "L").save(f, quality=92)
    return root


MIMIC_METADATA_COLUMNS = (
    "dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription", "ViewPosition",
    "Rows", "Columns", "StudyDate", "StudyTime", "ProcedureCodeSequence_CodeMeaning",
    "ViewCodeSequence_CodeMeaning", "PatientOrientationCodeSequence_CodeMeaning")


def write_mimic_tree(root: Path, n_studies: int, size: int, *, patients: bool = True) -> Path:
    """n_studies studies of ~n_studies/2 subjects, each a PA or AP image and every third with a
    lateral too; labels per study from CheXpert's real rows; gzipped CSVs as PhysioNet ships."""
    cx = chexpert_table()
    rng = np.random.default_rng(5)
    meta, label_rows, negbio_rows, split_rows = [], [], [], []
    for k in range(n_studies):
        subject = str(10000032 + 7 * (k // 2))
        study = str(50000000 + 13 * k)
        cells = cx.iloc[k]
        label_rows.append({"subject_id": subject, "study_id": study, "No Finding": cells["No Finding"],
                           **{c: cells[c] for c in (*PATHOLOGIES, "Support Devices")}})
        other = cx.iloc[n_studies + k]  # NegBio's table: other real rows, so the labellers differ
        negbio_rows.append({"subject_id": subject, "study_id": study, "No Finding": other["No Finding"],
                            **{c: other[c] for c in (*PATHOLOGIES, "Support Devices")}})
        views = ["PA" if rng.random() < 0.6 else "AP"] + (["LATERAL"] if k % 3 == 0 else [])
        for j, view in enumerate(views):
            dicom = f"{k:08x}-{j:08x}-5e1d0a3c-9b7f2e41-{k * 31 + j:08x}"
            meta.append({"dicom_id": dicom, "subject_id": subject, "study_id": study,
                         "PerformedProcedureStepDescription": "CHEST (PA AND LAT)",
                         "ViewPosition": view, "Rows": size, "Columns": size,
                         "StudyDate": f"{2150 + rng.integers(0, 6)}0{rng.integers(1, 9)}15",
                         "StudyTime": "101010.000", "ProcedureCodeSequence_CodeMeaning":
                         "CHEST (PA AND LAT)", "ViewCodeSequence_CodeMeaning":
                         "postero-anterior" if view == "PA" else view.lower(),
                         "PatientOrientationCodeSequence_CodeMeaning": "Erect"})
            split_rows.append({"dicom_id": dicom, "study_id": study, "subject_id": subject,
                               "split": "test" if k % 10 == 9 else "train"})
            found = tuple(sorted({CHEXPERT_TO_GENERATED[c] for c in PATHOLOGIES if cells[c] == 1.0}))
            f = root / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}" / f"{dicom}.jpg"
            f.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(_pixels(k, float(cells["Age"]), cells["Sex"] == "Female", view, found,
                                    size), "L").save(f, quality=92)
    pd.DataFrame(meta, columns=list(MIMIC_METADATA_COLUMNS)).to_csv(
        root / "mimic-cxr-2.0.0-metadata.csv.gz", index=False)
    pd.DataFrame(label_rows).to_csv(root / "mimic-cxr-2.0.0-chexpert.csv.gz", index=False)
    pd.DataFrame(negbio_rows).to_csv(root / "mimic-cxr-2.0.0-negbio.csv.gz", index=False)
    pd.DataFrame(split_rows).to_csv(root / "mimic-cxr-2.0.0-split.csv.gz", index=False)
    if patients:
        subjects = sorted({m["subject_id"] for m in meta})
        pd.DataFrame({"subject_id": subjects,
                      "gender": ["F" if i % 2 else "M" for i in range(len(subjects))],
                      "anchor_age": [20 + (i * 7) % 70 for i in range(len(subjects))],
                      "anchor_year": 2150, "anchor_year_group": "2014 - 2016", "dod": ""}
                     ).to_csv(root / "patients.csv.gz", index=False)
    return root


def write_nih_tree(root: Path, rows: slice, size: int, *, labels: bool = True) -> pd.DataFrame:
    """The real Data_Entry rows `rows` as an NIH copy at root (module doc); `labels=False` leaves
    out the Finding Labels column (an unlabeled pile in the NIH layout). Returns the rows."""
    table = nih_table().iloc[rows].reset_index(drop=True)
    root.mkdir(parents=True, exist_ok=True)
    for i, row in table.iterrows():
        found = tuple(sorted(set(row["Finding Labels"].split("|")) & set(GENERATED_FINDINGS)))
        d = root / f"images_00{1 + i % 2}" / "images"
        d.mkdir(parents=True, exist_ok=True)
        px = _pixels(i, float(row["Patient Age"]), row["Patient Gender"] == "F",
                     str(row["View Position"]), found, size)
        Image.fromarray(px, "L").save(d / row["Image Index"])
    written = table if labels else table.drop(columns="Finding Labels")
    written.to_csv(root / "Data_Entry_2017_v2020.csv", index=False)
    test = table["Patient ID"].isin(set(table["Patient ID"].unique()[::5]))
    (root / "test_list.txt").write_text("\n".join(table["Image Index"][test]) + "\n")
    (root / "train_val_list.txt").write_text("\n".join(table["Image Index"][~test]) + "\n")
    return table


def write_generic_csv(nih_root: Path, table: pd.DataFrame) -> Path:
    """labels.csv of the generic source over an NIH tree's images (the rows' own values)."""
    paths = [next(nih_root.glob(f"images_00?/images/{name}")).relative_to(nih_root).as_posix()
             for name in table["Image Index"]]
    csv = nih_root / "labels.csv"
    pd.DataFrame({"path": paths, "patient_id": table["Patient ID"],
                  "label": (table["Finding Labels"] != "No Finding").astype(int),
                  "view": table["View Position"],
                  "age": table["Patient Age"].map(lambda a: f"{int(a):03d}Y"),
                  "sex": table["Patient Gender"]}).to_csv(csv, index=False)
    return csv


def write_rsna_pile(out: Path, *, n_adults: int, size: int, extra: dict[str, str]) -> pd.DataFrame:
    """The first n_adults RSNA header rows aged 18-100, three children and two implausible ages
    (the table's own, e.g. 148), as DICOM files under `out`; `extra` tags on every file. Returns
    the header rows written."""
    t = rsna_dicom_headers()
    age = pd.to_numeric(t["PatientAge"], errors="coerce")
    rows = pd.concat([t[age.between(18, 100)].head(n_adults), t[age < 18].head(3),
                      t[age > 120].head(2)]).reset_index(drop=True)
    pixels = [_pixels(1000 + i, min(float(a), 90.0), s == "F", v, (), size) for i, (a, s, v) in
              enumerate(zip(pd.to_numeric(rows["PatientAge"]), rows["PatientSex"],
                            rows["ViewPosition"], strict=True))]
    write_header_tree(rows, out, pixels, extra=extra)
    return rows
