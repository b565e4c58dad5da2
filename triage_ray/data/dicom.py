"""A PACS export as a study table: a folder tree of DICOM files, one row per image.

Hospitals export their unlabeled pile from PACS as DICOM (CR and DX radiographs), not as NIH-style
PNGs. `load_dicom_tree` reads every file's header (pixel data deferred) into the study table every
source returns, plus the tags the intended-use gate checks (modality, body part, view, age, image
size). `load_dicom_gray` decodes the pixels as a viewer would present them:

    stored values -> Modality LUT (or Rescale Slope/Intercept) -> VOI LUT (or Window Center/Width)
    -> 8-bit over the VOI's output range -> MONOCHROME1 inverted (so bone is bright in both)
    -> centre crop and resize, as the PNG path does (`data.images`).

Without VOI tags the stored bits' full range (after the modality LUT) is shown, as an 8-bit PNG's
0-255 is. A file that cannot be a study (not DICOM, a non-image SOP class, no pixel data, a
transfer syntax no installed decoder handles) is a counted skip naming the file, never a silent drop.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from triage_ray.data.age import age_years
from triage_ray.data.schema import LABEL_UNKNOWN

DICOM_SOURCE = "dicom"
IMAGE_CHECK_COLUMNS = ("rows", "columns")  # the stored image size, for the gate's size check

# SOP classes that never hold a radiograph (PS3.4 B.5): reports, key-object notes, presentation
# states, encapsulated documents, raw data. Anything else with pixel data is read as an image.
NON_IMAGE_SOP_PREFIXES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.88.": "structured report / key object",
    "1.2.840.10008.5.1.4.1.1.11.": "presentation state",
    "1.2.840.10008.5.1.4.1.1.104.": "encapsulated document",
    "1.2.840.10008.5.1.4.1.1.66": "raw data / registration",
    "1.2.840.10008.5.1.4.1.1.481.": "radiotherapy object",
}
LATERAL_VIEWS = frozenset({"LL", "RL", "LAT", "LATERAL", "LLD", "RLD"})
DECODE_ERRORS: tuple[type[BaseException], ...] = (ValueError, NotImplementedError, RuntimeError,
                                                   AttributeError, KeyError, TypeError, OSError)


class DicomSkip(ValueError):
    """A file that cannot be a study, with the reason the skip list reports."""


def is_dicom(path: str | os.PathLike) -> bool:
    """Part-10 files carry "DICM" after a 128-byte preamble (PS3.10 7.1)."""
    try:
        with open(path, "rb") as f:
            head = f.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def dicom_age_years(value: str) -> float:
    """PatientAge in years: the AS string ("045Y", "006M", "003W", "010D") or, as some exports
    write it (the RSNA Pneumonia Challenge's headers), a plain number; NaN when absent or not
    readable (`data.age`)."""
    return age_years(value)


def normalise_view(value: str) -> str:
    """ViewPosition as the study table spells views: PA, AP, LATERAL, other codes as given."""
    v = (value or "").strip().upper()
    return "LATERAL" if v in LATERAL_VIEWS else v


def _check_image(ds, path: Path) -> None:
    """Raise DicomSkip when `ds` (header read, pixels deferred) cannot be decoded as a radiograph."""
    from pydicom.pixels import get_decoder

    sop = str(ds.get("SOPClassUID", ""))
    for prefix, kind in NON_IMAGE_SOP_PREFIXES.items():
        if sop.startswith(prefix):
            raise DicomSkip(f"non-image SOP class {sop} ({kind})")
    if "PixelData" not in ds:
        raise DicomSkip(f"no pixel data (SOP class {sop or 'not stated'})")
    tsyntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if tsyntax is None:
        raise DicomSkip("no transfer syntax in the file meta information")
    try:
        available = get_decoder(tsyntax).is_available
    except NotImplementedError:
        available = False
    if not available:
        raise DicomSkip(f"unsupported transfer syntax {tsyntax} ({tsyntax.name}): no installed decoder")
    if int(ds.get("SamplesPerPixel", 1)) != 1:
        raise DicomSkip(f"not a grayscale image ({ds.get('PhotometricInterpretation', '?')})")


def read_header(path: str | os.PathLike) -> dict[str, object]:
    """One file's study-table row (pixels not decoded). Raises DicomSkip with the reason."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = Path(path)
    try:
        ds = pydicom.dcmread(path, defer_size="4 KB")
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise DicomSkip(f"not a readable DICOM file: {type(exc).__name__}: {exc}") from exc
    _check_image(ds, path)
    sop_uid = str(ds.get("SOPInstanceUID", "")).strip()
    if not sop_uid:
        raise DicomSkip("no SOP Instance UID (the image cannot be identified)")
    return {
        "study_id": sop_uid,  # one row per image: a PA and a lateral of one study are two rows
        "patient_id": str(ds.get("PatientID", "")).strip(),
        "view": normalise_view(str(ds.get("ViewPosition", ""))),
        "path": str(path.resolve()),
        "label": LABEL_UNKNOWN,
        "findings": "",
        "source": DICOM_SOURCE,
        "age": dicom_age_years(str(ds.get("PatientAge", ""))),
        "age_text": str(ds.get("PatientAge", "")).strip(),  # as stated: the gate names unreadable ones
        "sex": str(ds.get("PatientSex", "")).strip().upper(),
        "modality": str(ds.get("Modality", "")).strip().upper(),
        "body_part": str(ds.get("BodyPartExamined", "")).strip().upper(),
        "rows": int(ds.get("Rows", 0) or 0),
        "columns": int(ds.get("Columns", 0) or 0),
        "study_uid": str(ds.get("StudyInstanceUID", "")),
        "series_uid": str(ds.get("SeriesInstanceUID", "")),
        "accession": str(ds.get("AccessionNumber", "")),
        "photometric": str(ds.get("PhotometricInterpretation", "")),
        "transfer_syntax": str(ds.file_meta.TransferSyntaxUID.name),
    }


def load_dicom_tree(root: str | os.PathLike) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Every DICOM file under `root` (recursively, any file name): (study table, [(path, reason)]).

    Files without the Part-10 "DICM" marker are skipped by name too (a PACS export can hold
    DICOMDIR indexes, thumbnails or notes). Count in = rows + skips. A patient id missing from a
    file is a skip: splits and the per-patient interval need it.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"DICOM pile folder {root} not found")
    rows, skipped = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.name.upper() == "DICOMDIR" or not is_dicom(path):
            skipped.append((str(path), "not a DICOM Part-10 file (no DICM marker)"))
            continue
        try:
            row = read_header(path)
        except DicomSkip as exc:
            skipped.append((str(path), str(exc)))
            continue
        if not row["patient_id"]:
            skipped.append((str(path), "no Patient ID"))
            continue
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        raise ValueError(f"no DICOM image under {root} could be read; skipped {len(skipped)}, "
                         f"e.g. {skipped[:3]}")
    dup = table["study_id"].duplicated(keep="first")
    for path, sid in table.loc[dup, ["path", "study_id"]].itertuples(index=False):
        skipped.append((path, f"duplicate SOP Instance UID {sid} (the first file is kept)"))
    table = table[~dup].reset_index(drop=True)
    table["label"] = table["label"].astype(np.int8)
    return table, skipped


def _voi_range(ds) -> tuple[float, float]:
    """The output range of the VOI stage (PS3.3 C.11.2), which maps to 0-255.

    VOI LUT: 0 .. 2^bits - 1 (LUT Descriptor's 3rd value). Window (or no VOI): the modality
    stage's output range, i.e. the stored bits' range through the Modality LUT or rescale."""
    if ds.get("VOILUTSequence") and ds.VOILUTSequence[0].get("LUTData") is not None:
        return 0.0, float(2 ** int(ds.VOILUTSequence[0].LUTDescriptor[2]) - 1)
    if ds.get("ModalityLUTSequence"):
        return 0.0, float(2 ** int(ds.ModalityLUTSequence[0].LUTDescriptor[2]) - 1)
    bits = int(ds.BitsStored)
    lo, hi = ((0, 2 ** bits - 1) if int(ds.get("PixelRepresentation", 0)) == 0
              else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1))
    slope, icpt = float(ds.get("RescaleSlope", 1.0)), float(ds.get("RescaleIntercept", 0.0))
    a, b = lo * slope + icpt, hi * slope + icpt
    return min(a, b), max(a, b)


def dicom_to_uint8(ds) -> np.ndarray:
    """The presented image of a decoded dataset as uint8 (H, W); bone bright (MONOCHROME2 sense)."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    arr = ds.pixel_array
    if arr.ndim == 3:  # multi-frame: a radiograph has one frame; take the first
        arr = arr[0]
    lo, hi = _voi_range(ds)
    modality = apply_modality_lut(arr, ds)
    if ds.get("VOILUTSequence"):  # a LUT is indexed by integers: the rescale's output, rounded
        modality = np.rint(modality).astype(np.int64)
    out = apply_voi_lut(modality, ds).astype(np.float64)
    scaled = np.clip((out - lo) * (255.0 / max(hi - lo, 1e-9)), 0.0, 255.0)
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        scaled = 255.0 - scaled  # MONOCHROME1: the minimum value is displayed white
    return np.rint(scaled).astype(np.uint8)


def load_dicom_gray(path: str | os.PathLike, size: int) -> np.ndarray:
    """(size, size) uint8, presented and resized as a PNG study is. Raises on a bad file."""
    import pydicom
    from PIL import Image

    from triage_ray.data.images import square_resize

    ds = pydicom.dcmread(path)
    _check_image(ds, Path(path))
    return square_resize(Image.fromarray(dicom_to_uint8(ds), "L"), size)
