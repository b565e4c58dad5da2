"""The three worklist buckets an abstention policy assigns; shared by `triage_ray.abstain` and `sim`.

Kept here (numpy-free, simpy-free) because `sim` is the lowest layer: it must not import the ML side.
"""

from enum import IntEnum


class Bucket(IntEnum):
    """Integer codes stored in worklists (int8 arrays / Parquet columns)."""

    AUTO_NORMAL = 0  # calibrated p(abnormal) < t_low: may be auto-cleared (with audit) or read last
    UNCERTAIN = 1  # t_low <= p < t_high: the model abstains; a radiologist's read is worth most here
    PRIORITY = 2  # p >= t_high: read first


BUCKET_NAMES: dict[int, str] = {b.value: b.name.lower() for b in Bucket}
