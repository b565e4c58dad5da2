"""Strict JSON for run artifacts: every number finite or null, numpy and paths made plain.

One place for it because every artifact a report reads (metrics.json, sensitivity.json) must parse
in any JSON reader: NaN/inf (an undefined metric) become null, never a non-standard token.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np


def finite(o: Any) -> Any:
    """`o` with numpy scalars made plain and NaN/inf replaced by None, recursively."""
    if isinstance(o, np.generic):
        o = o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: finite(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [finite(v) for v in o]
    return o


def json_default(o: Any) -> Any:
    """`json.dumps(default=...)` for what `finite` leaves: arrays and paths."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return finite(o.tolist())
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


def write_strict_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(finite(data), indent=2, default=json_default, allow_nan=False))
