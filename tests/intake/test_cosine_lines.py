"""The gradient-cosine lines of the intake recommendation."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from triage_ray.intake.recommend import _cosine_lines


def test_cosine_interval_stays_inside_minus_one_to_one():
    # two seeds far apart: the t-interval of their mean is wider than a cosine can be
    g = pd.DataFrame({"setting": "rel0.8", "size": 300, "setup": "mtl", "seed": [0, 1],
                      "cosine": [0.9, -0.8]})
    (line,) = _cosine_lines(SimpleNamespace(grad_cosine=g, selected_mtl={("rel0.8", 300): "mtl"}),
                            0.95)
    lo, hi = (float(v) for v in line.split("[")[1].split("]")[0].split(","))
    assert -1.0 <= lo < hi <= 1.0 and "neither aligned nor opposed" in line
