"""read_value formula and the worklist order built on it."""

from __future__ import annotations

import numpy as np
import pytest

from sim.buckets import Bucket
from triage_ray.abstain import read_value, worklist_order


def test_read_value_matches_the_documented_formula() -> None:
    p = np.array([0.0, 0.02, 0.2, 0.5, 1.0])
    v = read_value(p, cost_miss=10.0, cost_false_alarm=2.0, cost_read=0.1,
                   reader_sensitivity=0.9, reader_specificity=0.8)
    expect = (np.minimum(10 * p, 2 * (1 - p)) - (p * 0.1 * 10 + (1 - p) * 0.2 * 2) - 0.1)
    np.testing.assert_allclose(v, expect)


def test_perfect_read_value_peaks_at_the_decision_boundary() -> None:
    p = np.linspace(0, 1, 100_001)
    v = read_value(p, cost_miss=20.0, cost_false_alarm=1.0)
    assert p[np.argmax(v)] == pytest.approx(1 / 21, abs=1e-4)
    assert v[0] == 0.0 and v[-1] == 0.0 and (v >= 0).all()


def test_worklist_reads_priority_then_uncertain_by_value_then_auto_normal() -> None:
    p = np.array([0.01, 0.9, 0.05, 0.5, 0.002, 0.95, 0.2])
    b = np.array([Bucket.AUTO_NORMAL, Bucket.PRIORITY, Bucket.UNCERTAIN, Bucket.UNCERTAIN,
                  Bucket.AUTO_NORMAL, Bucket.PRIORITY, Bucket.UNCERTAIN], dtype=np.int8)
    order = worklist_order(p, b, cost_miss=20.0, cost_false_alarm=1.0)
    assert sorted(order.tolist()) == list(range(p.size))  # every study exactly once
    # priority by p desc (5, 1); uncertain by min(20p, 1 - p): p 0.05 -> 0.95, 0.2 -> 0.8,
    # 0.5 -> 0.5, so (2, 6, 3); auto-normal by p desc (0, 4)
    assert order.tolist() == [5, 1, 2, 6, 3, 0, 4]


def test_worklist_rejects_unknown_bucket_codes() -> None:
    with pytest.raises(ValueError, match="row 1"):
        worklist_order([0.1, 0.2], [0, 7])
    with pytest.raises(ValueError, match="shape"):
        worklist_order([0.1, 0.2], [0])


def test_read_value_rejects_bad_costs() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        read_value([0.1], cost_miss=-1.0)
    with pytest.raises(ValueError, match="reader_sensitivity"):
        read_value([0.1], reader_sensitivity=1.5)
