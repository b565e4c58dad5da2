"""Number formatting shared by the memo, model card and dashboard.

Every figure a reader sees passes through these functions, so a value and its interval are always
written the same way ("1.52 (95% CI 1.48-1.57)") and a missing value is said out loud ("n/a")
instead of printing "nan".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

NA = "n/a"


def is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def num(x: Any, digits: int = 2) -> str:
    """A finite number with thousands separators; anything else -> "n/a"."""
    if not is_number(x):
        return NA
    if isinstance(x, int) or (digits == 0):
        return f"{round(x):,}"
    return f"{x:,.{digits}f}"


def pct(x: Any, digits: int = 1) -> str:
    """A fraction as a percentage: 0.1234 -> "12.3%"."""
    return f"{100 * x:.{digits}f}%" if is_number(x) else NA


def point(m: Mapping[str, Any]) -> Any:
    """The point value of a summary dict: score reports use "value", simulation metrics "mean"."""
    return m.get("value", m.get("mean"))


def ci(m: Mapping[str, Any] | None, digits: int = 2, scale: float = 1.0,
       label: str = "95% CI ") -> str:
    """"v (95% CI lo-hi)" from a {"value"|"mean", "ci_low", "ci_high"} dict; scale e.g. 1000."""
    if m is None:
        return NA
    v, lo, hi = point(m), m.get("ci_low"), m.get("ci_high")
    if not is_number(v):
        return NA
    text = num(v * scale, digits)
    if is_number(lo) and is_number(hi):
        text += f" ({label}{_span(num(lo * scale, digits), num(hi * scale, digits))})"
    return text


def cci(m: Mapping[str, Any] | None, digits: int = 2) -> str:
    """Compact "v (lo-hi)" for table cells whose header already says "95% CI"."""
    return ci(m, digits, label="")


def ci_pct(m: Mapping[str, Any] | None, digits: int = 1) -> str:
    """A proportion and its interval as percentages: "41.2% (95% CI 39.1%-44.0%)"."""
    if m is None or not is_number(point(m)):
        return NA
    text = pct(point(m), digits)
    if is_number(m.get("ci_low")) and is_number(m.get("ci_high")):
        text += f" (95% CI {pct(m['ci_low'], digits)}-{pct(m['ci_high'], digits)})"
    return text


def _span(lo: str, hi: str) -> str:
    """"lo-hi", or "lo to hi" when a bound is negative ("-14.0-37.9" would misread)."""
    return f"{lo} to {hi}" if lo.startswith("-") or hi.startswith("-") else f"{lo}-{hi}"


def interval(m: Mapping[str, Any] | None, digits: int = 2) -> str:
    """Only the interval: "1.48-1.57" (or "n/a")."""
    if m is None or not (is_number(m.get("ci_low")) and is_number(m.get("ci_high"))):
        return NA
    return _span(num(m["ci_low"], digits), num(m["ci_high"], digits))


def calibrated_as(cal: Mapping[str, Any], digits: int = 2) -> str:
    """How the probabilities were calibrated, for prose: "temperature-scaled (T = 1.29)"."""
    if cal.get("method") == "temperature" and is_number(cal.get("temperature")):
        return f"temperature-scaled (T = {num(cal['temperature'], digits)})"
    return f"calibrated ({cal.get('method', NA)})"
