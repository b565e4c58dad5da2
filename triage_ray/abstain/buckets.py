"""The worklist buckets: the three an abstention policy assigns, and the intended-use gate's fourth.
Codes stored in worklists and read by the simulator.

They belong to abstention (it defines them); `sim` imports them from here. Kept free of every
import but `enum` so the simulator's import stays light.
"""

from enum import IntEnum


class Bucket(IntEnum):
    """Integer codes stored in worklists (int8 arrays / Parquet columns)."""

    AUTO_NORMAL = 0  # calibrated p(abnormal) < t_low: may be auto-cleared (with audit) or read last
    UNCERTAIN = 1  # t_low <= p < t_high: the model abstains; a radiologist's read is worth most here
    PRIORITY = 2  # p >= t_high: read first
    # outside the intended use (triage_ray.gate): never triaged, read as usual in arrival order
    NOT_TRIAGED = 3


BUCKET_NAMES: dict[int, str] = {b.value: b.name.lower() for b in Bucket}
