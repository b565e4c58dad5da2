"""Monte-Carlo summaries: mean and a 95% Student-t interval over replications.

The interval itself is `triage_ray.common.stats.t_interval` (scipy's t quantile); this module only
says how replications that left a metric undefined (NaN) or infinite are treated.
"""

from __future__ import annotations

import math

import numpy as np

from triage_ray.common.stats import t_interval

CI_LEVEL = 0.95


def mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    """(mean, ci_low, ci_high) over replications. NaN replications (a metric undefined in that
    replication, e.g. no abnormal study read) are left out; the CI is NaN with < 2 values left;
    an infinite value makes the mean and both bounds infinite."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(np.mean(x))
    if not np.all(np.isfinite(x)):
        return mean, mean, mean
    lo, hi = t_interval(x, CI_LEVEL)
    return mean, lo, hi
