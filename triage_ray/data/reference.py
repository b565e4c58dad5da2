"""The real label tables the generator and the tests draw on, read from the installed torchxrayvision.

They are never copied into this repository: torchxrayvision ships NIH's Data_Entry_2017_v2020.csv,
Google's 2019 radiologist relabels of 4,376 NIH images, CheXpert's train.csv and the RSNA Pneumonia
Challenge's DICOM headers. Importing
torchxrayvision would import torch (seconds), so the folder is located with importlib instead.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from triage_ray.data.schema import NO_FINDING

NIH_TABLE = "Data_Entry_2017_v2020.csv.gz"
GOOGLE_RELABELS = "google2019_nih-chest-xray-labels.csv.gz"
CHEXPERT_TRAIN = "chexpert_train.csv.gz"
RSNA_DICOM_HEADERS = "kaggle_stage_2_train_images_dicom_headers.csv.gz"  # RSNA Pneumonia Challenge

# Google 2019 panel categories -> the NIH classes that name the same finding. Fracture has no NIH
# class; "Airspace opacity" covers NIH's parenchymal-opacity labels (Majkowska et al. 2019, Table 1).
PANEL_TO_NIH: dict[str, tuple[str, ...]] = {
    "Pneumothorax": ("Pneumothorax",),
    "Nodule or mass": ("Nodule", "Mass"),
    "Airspace opacity": ("Infiltration", "Consolidation", "Pneumonia", "Atelectasis", "Edema"),
    "Fracture": (),
}


def reference_dir() -> Path:
    """Folder of torchxrayvision's bundled label files; a clear error when it is not installed."""
    spec = importlib.util.find_spec("torchxrayvision")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            "torchxrayvision is not installed: the NIH/CheXpert label tables come from its data/ folder"
        )
    folder = Path(spec.origin).parent / "data"
    if not (folder / NIH_TABLE).is_file():
        raise FileNotFoundError(f"{folder / NIH_TABLE} not found in the torchxrayvision install")
    return folder


@lru_cache(maxsize=1)
def nih_table() -> pd.DataFrame:
    """The real NIH ChestX-ray14 label table (112,120 rows, 30,805 patients)."""
    return pd.read_csv(reference_dir() / NIH_TABLE)


@lru_cache(maxsize=1)
def google_relabels() -> pd.DataFrame:
    """Google's 2019 panel labels (YES/NO per category) joined to NIH's own labels for the image."""
    return pd.read_csv(reference_dir() / GOOGLE_RELABELS)


@lru_cache(maxsize=1)
def chexpert_table() -> pd.DataFrame:
    """The real CheXpert train label table (223,414 rows)."""
    return pd.read_csv(reference_dir() / CHEXPERT_TRAIN)


@lru_cache(maxsize=1)
def rsna_dicom_headers() -> pd.DataFrame:
    """The DICOM header tags of the RSNA Pneumonia Challenge's 26,684 training files (as strings:
    PatientAge is a plain number there, "43", not the DICOM age string "043Y")."""
    return pd.read_csv(reference_dir() / RSNA_DICOM_HEADERS, index_col=0, dtype=str,
                       keep_default_na=False)


@dataclass(frozen=True)
class PanelRates:
    """P(panel says category YES | view, NIH label state), one table per Google panel category.

    `given_nih_has[cat][view]`: NIH names a class of `cat`; `given_nih_lacks[cat][view][nih_normal]`:
    NIH names none of them (split by whether NIH calls the image "No Finding"). Beta(1, 1)-smoothed
    counts; `counts` keeps the raw (yes, n) pairs so the rates can be quoted with their sample sizes.
    """

    given_nih_has: dict[str, dict[str, float]]
    given_nih_lacks: dict[str, dict[str, dict[bool, float]]]
    counts: dict[str, tuple[int, int]]


@lru_cache(maxsize=1)
def panel_rates() -> PanelRates:
    """Estimate how often the Google radiologist panel disagrees with NIH's NLP-mined labels.

    Conditioned on the view (the relabelled sample is 74% AP against NIH's 40%) and on NIH's own
    label, so the sample's enrichment shifts the rates less than a pooled figure would.
    """
    g = google_relabels()
    labels = g["Finding Labels"].astype(str).str.split("|")
    nih_normal = g["Finding Labels"] == NO_FINDING
    has: dict[str, dict[str, float]] = {}
    lacks: dict[str, dict[str, dict[bool, float]]] = {}
    counts: dict[str, tuple[int, int]] = {}
    for cat, classes in PANEL_TO_NIH.items():
        yes = (g[cat] == "YES").to_numpy()
        named = labels.apply(lambda fs, c=classes: any(f in c for f in fs)).to_numpy()
        has[cat], lacks[cat] = {}, {}
        for view in ("PA", "AP"):
            v = (g["View Position"] == view).to_numpy()
            sel = v & named
            has[cat][view] = float((yes[sel].sum() + 1) / (sel.sum() + 2))
            counts[f"{cat}|{view}|nih_has"] = (int(yes[sel].sum()), int(sel.sum()))
            lacks[cat][view] = {}
            for normal in (True, False):
                sel = v & ~named & (nih_normal.to_numpy() == normal)
                lacks[cat][view][normal] = float((yes[sel].sum() + 1) / (sel.sum() + 2))
                key = f"{cat}|{view}|nih_lacks|{'normal' if normal else 'abnormal'}"
                counts[key] = (int(yes[sel].sum()), int(sel.sum()))
    return PanelRates(has, lacks, counts)


@lru_cache(maxsize=1)
def nih_class_counts() -> dict[str, int]:
    """How many NIH images carry each label (a multi-label image counts once per label)."""
    counts: dict[str, int] = {}
    for labels in nih_table()["Finding Labels"].tolist():
        for f in labels.split("|"):
            counts[f] = counts.get(f, 0) + 1
    return counts


def nih_class_weights(classes: tuple[str, ...]) -> np.ndarray:
    """Relative NIH frequency of each class (which one a panel-only finding is rendered as)."""
    freq = nih_class_counts()
    w = np.array([float(freq.get(c, 0)) for c in classes])
    return w / w.sum()
