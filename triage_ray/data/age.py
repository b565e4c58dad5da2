"""Patient age as sources state it -> years, and what could not be read.

Sources spell age three ways: the DICOM age string (VR AS, "045Y", "006M", "003W", "010D"), a plain
number of years (NIH's and CheXpert's tables; the RSNA Pneumonia Challenge's DICOM headers store
PatientAge as "43"), or nothing (de-identified exports often strip it). A value that is present but
fits none of these is not guessed at: it reads as unknown, and the gate names it per study
("age '4 5' not readable") so that a site can see which of its tags to fix.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

AS_UNIT_PER_YEAR = {"Y": 1.0, "M": 12.0, "W": 52.1775, "D": 365.25}
_AS = re.compile(r"^(\d{1,3})\s*([YMWD])$")
_YEARS = re.compile(r"^\d{1,3}(\.\d+)?$")


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip().upper()


def age_years(value: object) -> float:
    """Age in years from a DICOM AS string or a plain number; NaN when absent or not readable."""
    v = _text(value)
    if m := _AS.match(v):
        return int(m.group(1)) / AS_UNIT_PER_YEAR[m.group(2)]
    if _YEARS.match(v):
        return float(v)
    return float("nan")


def unreadable(value: object) -> bool:
    """True for a stated age that `age_years` cannot read (not for an absent one)."""
    return bool(_text(value)) and math.isnan(age_years(value))


def parse_ages(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """(years per row, the distinct stated values that could not be read)."""
    raw = values.astype(object)
    years = np.array([age_years(v) for v in raw], dtype=np.float64)
    bad = sorted({str(v).strip() for v in raw if unreadable(v)})
    return years, bad


def normalise_sex(values: pd.Series) -> pd.Series:
    """"F" / "M" / "" from the spellings sources use (F, Female, M, Male, O, Unknown, blank)."""
    first = values.fillna("").astype(str).str.strip().str.upper().str[:1]
    return first.where(first.isin(["F", "M"]), "")
