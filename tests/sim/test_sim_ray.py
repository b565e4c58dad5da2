"""Replications fanned out as Ray tasks give exactly the serial numbers."""

from __future__ import annotations

import pytest

from sim import simulate, synthetic_worklist


@pytest.mark.ray
def test_ray_tasks_match_serial(ray_local):
    wl = synthetic_worklist(2000, seed=6)
    serial = simulate(wl, "auto_clear", n_reps=4, seed=3)
    fanned = simulate(wl, "auto_clear", n_reps=4, seed=3, ray_tasks=True)
    assert fanned.to_dict() == serial.to_dict()
