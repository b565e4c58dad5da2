"""Worklist order: which study a radiologist should read next.

Value of a read (decision theory, expected value of information). Without a read the study is
handled on p alone by the cheaper of two actions: treat as normal (expected harm p * cost_miss) or
escalate as abnormal (expected harm (1 - p) * cost_false_alarm). A read by a radiologist with
sensitivity se and specificity sp leaves p (1 - se) cost_miss + (1 - p)(1 - sp) cost_false_alarm,
and costs cost_read. So

    read_value(p) = min(p C_miss, (1 - p) C_fa) - [p (1 - se) C_miss + (1 - p)(1 - sp) C_fa] - C_read

With a perfect reader this is the expected harm avoided, largest at p* = C_fa / (C_miss + C_fa)
(where acting on p alone is most likely to be wrong in a costly way) and falling toward p = 0 and
p = 1. Why this and not "most likely abnormal first" inside the uncertain bucket: when the room
cannot read the whole uncertain bucket in a shift, the reads that change a decision are worth most;
likely-abnormal studies are already near the priority bucket. The bucket order still puts priority
first, so time-critical studies are never ranked by this value.

Order: priority (p descending), then uncertain (read_value descending, ties by p descending),
then auto-normal (p descending: the most suspicious "normals" first, for audit reads).
"""

from __future__ import annotations

import numpy as np

from sim.buckets import Bucket
from triage_ray.calibrate.validation import as_probabilities

# Relative harm units, assumptions with no published source (a site's clinical lead sets them):
# a missed abnormal study (delayed diagnosis) is taken as 20x as harmful as a false alarm
# (an unnecessary escalation / early read), which puts the read-value peak at p* = 1/21 ~ 4.8%.
COST_MISS = 20.0  # harm units per abnormal study handled as normal without a read
COST_FALSE_ALARM = 1.0  # harm units per normal study escalated as abnormal without a read
COST_READ = 0.0  # harm units per read; equal for every study, so it does not change the order
READER_SENSITIVITY = 1.0  # 1.0 = the read is treated as ground truth (upper bound on its value)
READER_SPECIFICITY = 1.0

_BUCKET_RANK = {Bucket.PRIORITY: 0, Bucket.UNCERTAIN: 1, Bucket.AUTO_NORMAL: 2}


def read_value(p: object, *, cost_miss: float = COST_MISS,
               cost_false_alarm: float = COST_FALSE_ALARM, cost_read: float = COST_READ,
               reader_sensitivity: float = READER_SENSITIVITY,
               reader_specificity: float = READER_SPECIFICITY) -> np.ndarray:
    """Expected harm avoided by reading each study, minus the cost of the read (see module doc)."""
    pa = as_probabilities(p)
    if cost_miss < 0 or cost_false_alarm < 0 or cost_read < 0:
        raise ValueError("costs must be non-negative")
    for name, v in (("reader_sensitivity", reader_sensitivity),
                    ("reader_specificity", reader_specificity)):
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {v}")
    no_read = np.minimum(pa * cost_miss, (1.0 - pa) * cost_false_alarm)
    after_read = (pa * (1.0 - reader_sensitivity) * cost_miss
                  + (1.0 - pa) * (1.0 - reader_specificity) * cost_false_alarm)
    return no_read - after_read - cost_read


def worklist_order(p: object, buckets: object, **costs: float) -> np.ndarray:
    """Row indices in reading order (priority, uncertain by read value, auto-normal).

    `costs` are passed to `read_value`. Every row appears exactly once.
    """
    pa = as_probabilities(p)
    b = np.asarray(buckets)
    if b.shape != pa.shape:
        raise ValueError(f"buckets: shape {b.shape} does not match p {pa.shape}")
    valid = np.isin(b, [int(x) for x in Bucket])
    if not valid.all():
        i = int(np.flatnonzero(~valid)[0])
        raise ValueError(f"buckets: unknown bucket code {b[i]!r} at row {i}")
    rank = np.select([b == int(k) for k in _BUCKET_RANK], list(_BUCKET_RANK.values()))
    key = np.where(b == Bucket.UNCERTAIN, read_value(pa, **costs), pa)
    return np.lexsort((-pa, -key, rank))  # last key is primary; lexsort is stable
