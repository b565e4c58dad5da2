"""Every figure a report prints with its interval must lie inside it: "x (95% CI a-b)" and
"x (range a to b)" with a <= x <= b. A point outside its own interval means the two came from
different computations (or a biased estimator's percentile interval), which a reader cannot tell."""

from __future__ import annotations

import html
import re
from pathlib import Path

NUM = r"-?\d[\d,]*(?:\.\d+)?"
# a figure is not the unit of the one before it ("16.5 per 1,000 (95% CI ...)")
FIGURE = re.compile(rf"(?<!per )(?<![\w.,])({NUM})(%?)\s*\((?:\d+% CI|range)\s+({NUM})%?\s*(?:-|to|–)\s*"
                    rf"({NUM})%?\)")
REPORTS = ("memo.md", "model_card.md", "summary.md", "dashboard.html", "review.html")


def _value(s: str) -> float:
    return float(s.replace(",", ""))


def interval_violations(text: str) -> list[str]:
    """Each 'x (95% CI a-b)' or 'x (range a to b)' in `text` whose x lies outside [a, b]."""
    flat = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text)))
    bad = []
    for m in FIGURE.finditer(flat):
        x, lo, hi = _value(m[1]), _value(m[3]), _value(m[4])
        # printed figures are rounded: allow half a unit of the last printed digit
        digits = max(len(g.split(".")[1]) if "." in g else 0 for g in (m[1], m[3], m[4]))
        slack = 0.5 * 10 ** -digits
        if not lo - slack <= x <= hi + slack:
            bad.append(m[0])
    return bad


def run_interval_violations(run_dir: Path) -> dict[str, list[str]]:
    """report file -> its figures outside their own interval (files the run did not write: none)."""
    out = {}
    for name in REPORTS:
        path = run_dir / name
        if path.is_file():
            bad = interval_violations(path.read_text())
            if bad:
                out[name] = bad
    return out
