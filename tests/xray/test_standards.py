"""The chosen model under every guarantee standard: each family at each level certified on the
select reference studies, checked on test, beside today's reading against the same reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from triage_ray.xray.operating import ScoredSet
from triage_ray.xray.standards import LEVELS, run_standards

PANEL = "simulated panel"


def _split(rng, name: str, n: int) -> tuple[ScoredSet, pd.Series]:
    """Reference labels, a calibrated score, and a written label that misses 20% of the abnormal
    studies the reference finds and calls 5% of its normal ones abnormal."""
    y = (rng.random(n) < 0.4).astype(np.int64)
    p = expit(rng.normal(np.where(y == 1, 1.5, -1.5), 1.2) * 1.6 + np.log(0.4 / 0.6))
    written = (rng.random(n) < np.where(y == 1, 0.8, 0.05)).astype(np.int64)
    ids = np.array([f"{name}{i}" for i in range(n)])
    return ScoredSet(p, y, PANEL, ids), pd.Series(written, index=ids)


def test_every_family_and_level_is_certified_checked_and_beside_todays_reading():
    rng = np.random.default_rng(0)
    (sel, w_sel), (test, w_test) = _split(rng, "s", 6000), _split(rng, "t", 3000)
    res = run_standards(sel, test, pd.concat([w_sel, w_test]), delta=0.05,
                        clinical_source="written labels")
    assert [(r.family, r.level) for r in res.rows] == [
        (f, lv) for f, levels in LEVELS.items() for lv in levels]
    by = {(r.family, r.level): r for r in res.rows}
    for r in res.rows:
        assert r.threshold is None or r.bound <= r.level, r
        assert r.cleared_test.n == test.p.size and 0 <= r.cleared_select <= 1
        assert r.risk_test.n == (r.cleared_test.k if r.family == "npv" else test.y.sum())
        if r.risk_test.rate is not None:
            assert r.risk_test.ci_low <= r.risk_test.rate <= r.risk_test.ci_high
    # a looser level clears at least as much; non-inferiority (a subset of sensitivity's misses)
    # at 2% clears at least as much as sensitivity at 2%
    assert by[("npv", 0.04)].cleared_select >= by[("npv", 0.005)].cleared_select
    assert by[("non_inferior", 0.02)].cleared_select >= by[("sensitivity", 0.02)].cleared_select
    today = res.todays_reading
    assert today.called_normal.n == test.p.size
    assert today.abnormal_called_normal.n == test.y.sum()
    assert today.abnormal_called_normal.rate == pytest.approx(
        ((w_test.to_numpy() == 0) & (test.y == 1)).sum() / test.y.sum())
    assert not res.clinical_is_reference and res.reference == PANEL
    assert res.to_dict()["rows"][0]["cleared_test"]["n"] == test.p.size


def test_a_reference_study_without_a_clinical_read_is_named():
    rng = np.random.default_rng(1)
    (sel, w_sel), (test, _) = _split(rng, "s", 300), _split(rng, "t", 100)
    with pytest.raises(ValueError, match="100 reference studies have no clinical read"):
        run_standards(sel, test, w_sel, delta=0.05, clinical_source="written labels")
