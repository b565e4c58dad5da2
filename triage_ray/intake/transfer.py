"""Transfer = F1(multi-task) - F1(single-task Transformer), per task, with a paired bootstrap CI.

Both F1s come from the same bootstrap replicates (same resampled test records and seeds), so the
CI is of the paired difference. The sign is stated only when the CI excludes 0.
"""

from __future__ import annotations

import numpy as np

from triage_ray.common.stats import percentile_interval

POSITIVE, NEGATIVE, INCONCLUSIVE = "positive", "negative", "inconclusive"


def verdict(ci_low: float, ci_high: float) -> str:
    """"positive" / "negative" only when the interval excludes 0, else "inconclusive"."""
    if ci_low > 0:
        return POSITIVE
    if ci_high < 0:
        return NEGATIVE
    return INCONCLUSIVE


def paired_difference(f1_a: float, f1_b: float, reps_a: np.ndarray, reps_b: np.ndarray,
                      level: float) -> dict[str, float | str]:
    """a - b: point estimate (seed means), percentile CI of the replicate differences, verdict."""
    if reps_a.shape != reps_b.shape:
        raise ValueError(f"replicates differ in shape: {reps_a.shape} vs {reps_b.shape}; "
                         "both must come from the same BootstrapPlan")
    lo, hi = percentile_interval(reps_a - reps_b, level)
    return {"delta": f1_a - f1_b, "ci_low": lo, "ci_high": hi, "verdict": verdict(lo, hi),
            "p_gt_0": float(np.mean(reps_a - reps_b > 0))}
