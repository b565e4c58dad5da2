"""Generated studies written as a PACS export: valid DICOM files, for testing the hospital path.

Each generated PNG becomes a DX (or CR) "For Presentation" image whose presented pixels equal the
PNG's (to rounding), encoded the ways PACS exports vary: MONOCHROME1 or MONOCHROME2, a VOI LUT, a
window, or neither, uncompressed or compressed (JPEG 2000 Lossless, RLE Lossless). `out_of_scope`
adds the studies the intended-use gate must refuse (a lateral view, a child, a hand, a CT, a blank
image) and `broken` the files ingest must skip by name (a structured report, an image without pixel
data, a video transfer syntax). Every file says in ImageComments that it is generated, not a patient.

    python -m triage_ray.data.synth.dicom --n 500 --out data/dicom-pile [--out-of-scope] [--broken]
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from triage_ray.data.dicom import GENERATED_MARK
from triage_ray.data.synth.probes import limb_image

GENERATED_COMMENT = f"{GENERATED_MARK}: a synthetic image, not a patient"
DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
CR_IMAGE = "1.2.840.10008.5.1.4.1.1.1"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
MPEG2_VIDEO = "1.2.840.10008.1.2.4.100"  # a video syntax: no decoder for a radiograph is installed
BITS = 12  # stored depth, as CR/DX detectors write


@dataclass(frozen=True)
class Encoding:
    """How one file stores its pixels; `VARIANTS` cycles over the combinations that matter."""

    photometric: str  # "MONOCHROME1" | "MONOCHROME2"
    voi: str | None  # "window" | "lut" | None
    syntax: str  # a transfer syntax UID
    modality: str = "DX"


def _variants() -> tuple[Encoding, ...]:
    from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, RLELossless

    return (Encoding("MONOCHROME2", "window", ExplicitVRLittleEndian),
            Encoding("MONOCHROME1", "lut", ExplicitVRLittleEndian, "CR"),
            Encoding("MONOCHROME2", None, JPEG2000Lossless),
            Encoding("MONOCHROME1", "window", RLELossless, "CR"),
            Encoding("MONOCHROME2", "lut", RLELossless))


def _uid(*parts: object) -> str:
    from pydicom.uid import generate_uid

    return generate_uid(entropy_srcs=[str(p) for p in parts])  # deterministic per study


def stored_values(pixels: np.ndarray, enc: Encoding) -> np.ndarray:
    """The 12-bit values whose presentation (LUTs, then MONOCHROME1 inversion) is `pixels`."""
    v = pixels.astype(np.uint16) * 16 + 8  # 0-255 -> the middle of each 16-value bin
    return (4095 - v) if enc.photometric == "MONOCHROME1" else v


def dicom_dataset(pixels: np.ndarray, meta: dict[str, object], enc: Encoding):
    """A pydicom Dataset of one radiograph; `meta` has study_id, patient_id, view, age, sex and
    optionally body_part, modality, sop_class (the out-of-scope probes override them)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    sid = str(meta["study_id"])
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = str(meta.get("sop_class") or (CR_IMAGE if enc.modality == "CR"
                                                    else DX_FOR_PRESENTATION))
    ds.SOPInstanceUID = _uid(sid, "image")
    ds.StudyInstanceUID, ds.SeriesInstanceUID = _uid(sid, "study"), _uid(sid, "series")
    ds.AccessionNumber = sid[:16]
    ds.PatientID, ds.PatientName = str(meta["patient_id"]), "GENERATED^STUDY"
    age = meta.get("age")
    ds.PatientAge = "" if age is None or pd.isna(age) else f"{int(age):03d}Y"
    ds.PatientSex = str(meta.get("sex") or "")
    ds.Modality = str(meta.get("modality") or enc.modality)
    ds.BodyPartExamined = str(meta.get("body_part", "CHEST"))
    ds.ViewPosition = str(meta.get("view") or "")
    ds.ImageComments = GENERATED_COMMENT
    ds.BurnedInAnnotation = "NO"
    # pydicom gives new pixels a new instance UID by default; ours is derived from the study
    ds.set_pixel_data(stored_values(pixels, enc), enc.photometric, BITS, generate_instance_uid=False)
    ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = 1, 0, "US"
    if enc.voi == "window":  # a linear window spanning the stored range (presents it unchanged)
        ds.WindowCenter, ds.WindowWidth = 2048, 4096
    elif enc.voi == "lut":  # 12 bits in, 16 bits out, identity up to scale
        item = Dataset()
        item.LUTDescriptor = [4096, 0, 16]
        item.add_new("LUTData", "US", [int(x) * 16 for x in range(4096)])  # VR "US or OW": say which
        item.LUTExplanation = "identity (generated)"
        ds.VOILUTSequence = [item]
    if enc.syntax != ExplicitVRLittleEndian:
        ds.compress(enc.syntax, generate_instance_uid=False)  # lossless: the same image
    return ds


def write_dicom(path: Path, pixels: np.ndarray, meta: dict[str, object], enc: Encoding) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    dicom_dataset(pixels, meta, enc).save_as(path, enforce_file_format=True)
    return path


HEADER_TAGS = ("BodyPartExamined", "ConversionType", "Modality", "PatientAge", "PatientID",
               "PatientSex", "ViewPosition", "SeriesNumber", "InstanceNumber")


def write_header_tree(headers: pd.DataFrame, out: str | Path, pixels: list[np.ndarray], *,
                      extra: dict[str, str] | None = None) -> list[Path]:
    """One DICOM file per row of a real header table (the RSNA challenge's, `data.reference`):
    its tags exactly as the table states them (PatientAge "43", blank where the table is blank),
    generated `pixels[i]`, and `extra` tags on every file (a test plants identifiers there).
    Files go to out/<PatientID>/<row's Filename>. Unlike `write_dicom_tree`'s files they carry
    no generated mark (the real table has no ImageComments): they stand in for a site's export in
    tests, which must see the pipeline treat them as real."""
    out = Path(out)
    enc = _variants()[0]
    written = []
    for (_, row), px in zip(headers.iterrows(), pixels, strict=True):
        meta = {"study_id": row["Filename"], "patient_id": row["PatientID"],
                "view": row["ViewPosition"], "age": None, "sex": row["PatientSex"],
                "body_part": row["BodyPartExamined"], "modality": row["Modality"]}
        ds = dicom_dataset(px, meta, enc)
        with warnings.catch_warnings():  # the real values break their VR ("43" is no AS): keep them
            warnings.simplefilter("ignore", UserWarning)
            for tag in HEADER_TAGS:
                if tag in row and str(row[tag]).strip():
                    setattr(ds, tag, str(row[tag]).strip().removesuffix(".0"))
            for tag, value in (extra or {}).items():
                setattr(ds, tag, value)
        del ds.ImageComments  # the real table's tags only: the files stand in for a site's export
        path = out / str(row["PatientID"]) / str(row["Filename"])
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
        written.append(path)
    return written


def out_of_scope_probes(template: pd.Series, pixels: np.ndarray, size: int,
                        seed: int) -> list[tuple[dict[str, object], np.ndarray, str]]:
    """(meta, pixels, why) for each study the gate must refuse, built from one in-scope study."""
    rng = np.random.default_rng(seed)
    base = {k: template[k] for k in ("patient_id", "age", "sex", "view")}
    probes = [
        ({"view": "LL"}, pixels, "lateral view"),
        ({"age": 7}, pixels, "child"),
        ({"body_part": "HAND"}, limb_image(size, rng), "non-chest body part"),
        ({"modality": "CT"}, pixels, "other modality"),
        ({}, np.full_like(pixels, 118), "blank image"),
    ]
    return [({**base, **over, "study_id": f"probe-{i}-{why.replace(' ', '-')}",
              "patient_id": f"probe-{i}"}, px, why) for i, (over, px, why) in enumerate(probes)]


def write_broken(out: Path, pixels: np.ndarray) -> list[tuple[Path, str]]:
    """Files a PACS export can hold that are not radiographs: (path, what the skip must say)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import ExplicitVRLittleEndian

    meta = {"study_id": "broken-nopixels", "patient_id": "broken-1", "view": "PA", "age": 50,
            "sex": "F"}
    enc = _variants()[0]
    no_pixels = dicom_dataset(pixels, meta, enc)
    del no_pixels.PixelData
    video = dicom_dataset(pixels, {**meta, "study_id": "broken-video"}, enc)
    video.file_meta.TransferSyntaxUID = MPEG2_VIDEO
    video.PixelData = encapsulate([b"\x00\x00\x01\xb3" + bytes(60)])  # a video syntax's framing
    video["PixelData"].VR, video["PixelData"].is_undefined_length = "OB", True
    sr = Dataset()
    sr.file_meta = FileMetaDataset()
    sr.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    sr.SOPClassUID, sr.SOPInstanceUID = BASIC_TEXT_SR, _uid("broken-sr")
    sr.PatientID, sr.Modality = "broken-3", "SR"
    written = []
    for name, ds, why in (("no-pixels.dcm", no_pixels, "no pixel data"),
                          ("video.dcm", video, "unsupported transfer syntax"),
                          ("report.dcm", sr, "non-image SOP class")):
        path = out / "broken" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
        written.append((path, why))
    notes = out / "broken" / "README.txt"
    notes.write_text("not a DICOM file: PACS exports carry notes like this one\n")
    written.append((notes, "not a DICOM Part-10 file"))
    return written


def write_dicom_tree(studies: pd.DataFrame, out: str | Path, *, out_of_scope: bool = False,
                     broken: bool = False, seed: int = 0) -> pd.DataFrame:
    """Write each study of an NIH-layout table (path, study_id, patient_id, view, age, sex) as a
    DICOM file under `out/<patient>/<study>.dcm`, cycling the encodings. Returns the manifest:
    study_id, file, encoding, expected ("in scope" or why the gate or ingest must refuse it)."""
    from PIL import Image

    out = Path(out)
    rows = []
    for (_, st), enc in zip(studies.iterrows(), itertools.cycle(_variants()), strict=False):
        px = np.asarray(Image.open(st["path"]).convert("L"))
        path = write_dicom(out / str(st["patient_id"]) / f"{st['study_id']}.dcm", px, st.to_dict(), enc)
        rows.append((st["study_id"], str(path), _describe(enc), "in scope"))
    if out_of_scope:  # each probe copies an in-scope adult's tags, then breaks one rule
        adults = studies[pd.to_numeric(studies["age"], errors="coerce").between(18, 100)]
        first = (adults if len(adults) else studies).iloc[0]
        px = np.asarray(Image.open(first["path"]).convert("L"))
        for k, (meta, probe, why) in enumerate(out_of_scope_probes(first, px, px.shape[0], seed)):
            enc = _variants()[k % len(_variants())]
            path = write_dicom(out / "probes" / f"{meta['study_id']}.dcm", probe, meta, enc)
            rows.append((meta["study_id"], str(path), _describe(enc), why))
    if broken:
        px = np.asarray(Image.open(studies.iloc[0]["path"]).convert("L"))
        rows += [("", str(p), "", f"skip: {why}") for p, why in write_broken(out, px)]
    manifest = pd.DataFrame(rows, columns=["study_id", "file", "encoding", "expected"])
    manifest.to_csv(out / "manifest.csv", index=False)
    (out / "GENERATED.md").write_text(
        "# Generated DICOM\n\nEvery file here was written by triage-ray from a generated "
        "radiograph; none is a patient's. manifest.csv lists each file and what the pipeline "
        "should do with it.\n")
    return manifest


def _describe(enc: Encoding) -> str:
    from pydicom.uid import UID

    return f"{enc.modality} {enc.photometric} voi={enc.voi or 'none'} {UID(enc.syntax).name}"


def main(argv: list[str] | None = None) -> None:
    """Generate N studies (the embedded generator) and write them as a DICOM pile."""
    import argparse

    from triage_ray.common.paths import data_dir
    from triage_ray.data.nih import load_nih
    from triage_ray.data.representativeness import add_nih_demographics
    from triage_ray.data.synth import generate_nih_tree

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=int, default=128, help="generated image size (px)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out-of-scope", action="store_true", help="add the gate's probe studies")
    ap.add_argument("--broken", action="store_true", help="add files ingest must skip")
    args = ap.parse_args(argv)
    root = data_dir("generated") / f"dicom-src-n{args.n}-px{args.size}-s{args.seed}"
    generate_nih_tree(root, args.n, image_size=args.size, seed=args.seed)
    studies = add_nih_demographics(load_nih(root, labels=False), root)
    m = write_dicom_tree(studies, args.out, out_of_scope=args.out_of_scope, broken=args.broken,
                         seed=args.seed)
    print(f"{len(m)} files written under {args.out} (GENERATED data; manifest.csv)")


if __name__ == "__main__":
    main()
