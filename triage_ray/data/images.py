"""Decode one radiograph file to a square 8-bit grayscale array (ingest and the benchmark share it).

Centre-crop to square then resize (the usual CXR preprocessing, e.g. torchxrayvision's
XRayCenterCrop): CheXpert's small images are not square and stretching them would distort the
heart. 16-bit PNGs are scaled by their own maximum, not clipped at 255. DICOM files (a PACS
export, `data.dicom`) are presented through their LUTs first, then cropped and resized the same way.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image, UnidentifiedImageError

from triage_ray.data.dicom import DECODE_ERRORS as DICOM_DECODE_ERRORS
from triage_ray.data.dicom import is_dicom, load_dicom_gray

# what a broken or unreadable image file raises inside PIL or pydicom
DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
                 *DICOM_DECODE_ERRORS)
PIL_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"})


def load_gray(path: str | os.PathLike, size: int) -> np.ndarray:
    """(size, size) uint8. Raises FileNotFoundError or one of DECODE_ERRORS on a bad file."""
    if os.path.splitext(path)[1].lower() not in PIL_SUFFIXES and is_dicom(path):
        return load_dicom_gray(path, size)
    with Image.open(path) as im:
        im.draft("L", (size, size))  # JPEG: decode at reduced scale when possible
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            a = np.asarray(im, dtype=np.float32)
            im = Image.fromarray((a * (255.0 / max(float(a.max()), 1.0))).astype(np.uint8), "L")
        elif im.mode != "L":
            im = im.convert("L")
        return square_resize(im, size)


def square_resize(im: Image.Image, size: int) -> np.ndarray:
    """An 8-bit grayscale image centre-cropped to square and resized to (size, size) uint8."""
    w, h = im.size
    if w != h:
        s = min(w, h)
        left, top = (w - s) // 2, (h - s) // 2
        im = im.crop((left, top, left + s, top + s))
    if im.size != (size, size):
        im = im.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.array(im, dtype=np.uint8)  # a writable copy


def describe_failure(exc: BaseException) -> str:
    """Short, stable reason text for a skipped image."""
    if isinstance(exc, FileNotFoundError):
        return "missing file"
    return f"cannot decode: {type(exc).__name__}: {exc}"
