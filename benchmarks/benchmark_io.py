"""What every benchmark does last: write its figures as JSON, then print them, headline last."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def save_and_report(out: dict[str, Any], path: Path,
                    report: Callable[[dict[str, Any], Path], None]) -> dict[str, Any]:
    """Write `out` to `path` (reports/benchmarks/<name>.json by default), print it with the
    benchmark's own `report`, and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    report(out, path)
    return out
