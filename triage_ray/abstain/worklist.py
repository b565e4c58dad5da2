"""Worklist order: which study a radiologist should read next.

Inside the uncertain bucket studies are ranked by the expected value of reading them *now*. What
that value is depends on what happens to a study that is not read now, so two registered rules
(`UNCERTAIN_ORDERS`, chosen by `XrayConfig.uncertain_order`):

- `expected_wait_harm` (default). Every uncertain study is read eventually (that is the policy the
  SimPy model runs), so a read changes *when* an abnormal study is reported, not *whether*. If an
  abnormal study's harm grows with its wait (cost_miss per unit of delay) and reads take equal
  time, the expected harm avoided per read-minute by reading study i next is p_i * cost_miss, and
  ordering by it minimises the expected total wait of abnormal studies (Smith's rule, the c-mu
  rule of queueing). So: most likely abnormal first.
- `harm_if_unread`. For a room that cannot read the whole bucket, where unread studies are
  dispositioned on p alone by the cheaper action (treat as normal: p C_miss; escalate:
  (1 - p) C_fa). A read by a reader with sensitivity se and specificity sp leaves
  p (1 - se) C_miss + (1 - p)(1 - sp) C_fa and costs C_read:

      read_value(p) = min(p C_miss, (1 - p) C_fa) - [p (1 - se) C_miss + (1 - p)(1 - sp) C_fa] - C_read

  It peaks at p* = C_fa / (C_miss + C_fa) (1/21 with 20:1) and falls toward p = 1, so when the whole
  bucket *is* read it reads likely-abnormal studies last. Measured on the smoke run (everything
  uncertain): abnormal median time-to-read 4.6x that of first-in-first-out. Hence not the default.

Order: the priority bucket and the gate's not-triaged studies first, in arrival order; then the
uncertain bucket by the rule (ties by arrival); then auto-normal, in arrival order. Arrival order
inside the first rank keeps a per-study promise the simulator's tests check on every sample path:
on a static pile no priority (or not-triaged) study is read later than first-come-first-served
would read it (ordering by p instead would break that for early arrivals with lower p, for little
gain: nearly all of the priority bucket is abnormal at its PPV target). Audit reads of the
auto-normal bucket are a random sample, so their order is arrival.

`read_priority` is that order as sort keys and is the only definition of it: `worklist_order` (what
`worklist.parquet` records) and the simulator's reading policies (`sim.policies`) both sort by it,
so the order radiologists are handed is the order whose times-to-read are simulated.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from triage_ray.abstain.buckets import Bucket
from triage_ray.calibrate.validation import as_probabilities

# Relative harm units, assumptions with no published source (a site's clinical lead sets them):
# a missed abnormal study (delayed diagnosis) is taken as 20x as harmful as a false alarm
# (an unnecessary escalation / early read), which puts the read-value peak at p* = 1/21 ~ 4.8%.
COST_MISS = 20.0  # harm units per abnormal study handled as normal without a read
COST_FALSE_ALARM = 1.0  # harm units per normal study escalated as abnormal without a read
COST_READ = 0.0  # harm units per read; equal for every study, so it does not change the order
READER_SENSITIVITY = 1.0  # 1.0 = the read is treated as ground truth (upper bound on its value)
READER_SPECIFICITY = 1.0
DEFAULT_UNCERTAIN_ORDER = "expected_wait_harm"

# bucket code -> place in the reading order: priority first, uncertain next, auto-normal last.
# Not-triaged studies share the first rank in arrival order: the model says nothing about them,
# so they are read as they would be without it, and its ordering never pushes them back.
_BUCKET_RANK = np.zeros(len(Bucket), dtype=np.int8)
_BUCKET_RANK[[Bucket.PRIORITY, Bucket.NOT_TRIAGED, Bucket.UNCERTAIN, Bucket.AUTO_NORMAL]] = [0, 0, 1, 2]

OrderRule = Callable[[np.ndarray], np.ndarray]  # calibrated p -> value of reading now (higher first)
UNCERTAIN_ORDERS: dict[str, OrderRule] = {}


def register_uncertain_order(fn: OrderRule) -> OrderRule:
    """Register an uncertain-bucket order under its function name (timm-style registry)."""
    UNCERTAIN_ORDERS[fn.__name__] = fn
    return fn


def read_value(p: object, *, cost_miss: float = COST_MISS,
               cost_false_alarm: float = COST_FALSE_ALARM, cost_read: float = COST_READ,
               reader_sensitivity: float = READER_SENSITIVITY,
               reader_specificity: float = READER_SPECIFICITY) -> np.ndarray:
    """Expected harm avoided by reading a study that would otherwise go unread (module doc)."""
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


@register_uncertain_order
def expected_wait_harm(p: np.ndarray) -> np.ndarray:
    """Harm avoided per read-minute by reading now when every study is read eventually: p C_miss."""
    return as_probabilities(p) * COST_MISS


@register_uncertain_order
def harm_if_unread(p: np.ndarray) -> np.ndarray:
    """`read_value` with the module's costs: for a bucket the room cannot read in full."""
    return read_value(p)


def uncertain_order_key(p: object, rule: str = DEFAULT_UNCERTAIN_ORDER) -> np.ndarray:
    """Value of reading each study now under `rule` (higher = sooner): the simulator's
    `Worklist.order_key`, which `read_priority` applies inside the uncertain bucket."""
    if rule not in UNCERTAIN_ORDERS:
        raise ValueError(f"unknown uncertain order {rule!r}; choose from {sorted(UNCERTAIN_ORDERS)}")
    return UNCERTAIN_ORDERS[rule](as_probabilities(p))


def _codes(buckets: object, n: int) -> np.ndarray:
    b = np.asarray(buckets)
    if b.shape != (n,):
        raise ValueError(f"buckets: shape {b.shape} does not match ({n},)")
    valid = np.isin(b, [int(x) for x in Bucket])
    if not valid.all():
        i = int(np.flatnonzero(~valid)[0])
        raise ValueError(f"buckets: unknown bucket code {b[i]!r} at row {i}")
    return b.astype(np.int64)


def read_priority(buckets: np.ndarray, key: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The reading order as sort keys (rank, within-rank key), lower reads sooner, ties by arrival.

    `key` (higher = sooner: `uncertain_order_key`'s output) orders the uncertain bucket only; None reads it
    in arrival order too.
    """
    b = np.asarray(buckets, dtype=np.int64)
    within = np.zeros(b.size)
    if key is not None:
        unc = b == Bucket.UNCERTAIN
        within[unc] = -np.asarray(key, dtype=float)[unc]
    return _BUCKET_RANK[b], within


def worklist_order(p: object, buckets: object, rule: str = DEFAULT_UNCERTAIN_ORDER) -> np.ndarray:
    """Row indices in reading order, rows given in arrival order; every row appears exactly once."""
    pa = as_probabilities(p)
    b = _codes(buckets, pa.size)
    rank, within = read_priority(b, uncertain_order_key(pa, rule))
    return np.lexsort((np.arange(pa.size), within, rank))  # last key is primary
