"""Results by subgroup: a subgroup the model serves worse is flagged, small ones are listed
unscored, and every test study lands in exactly one group per grouping that knows it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from triage_ray.xray.subgroups import MIN_STUDIES, subgroup_results


def _test_split(n: int = 1200, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    view = np.where(rng.random(n) < 0.5, "AP", "PA")
    y = (rng.random(n) < 0.4).astype(int)
    sep = np.where(view == "AP", 2.5, 0.4)  # the model separates AP films far better than PA
    p = 1 / (1 + np.exp(-(sep * (2 * y - 1) + rng.normal(0, 1, n))))
    age = rng.integers(18, 90, n).astype(float)
    age[:10] = np.nan  # unknown ages are left out of the age bands, not guessed
    sex = np.where(rng.random(n) < 0.5, "F", "M")
    sex[:30] = "X"  # a group too small to score
    t = pd.DataFrame({"study_id": [f"s{i}" for i in range(n)],
                      "patient_id": [f"p{i // 2}" for i in range(n)], "label": y, "view": view,
                      "sex": sex, "age": age, "true_abnormal": y})
    return t, p


def test_worse_subgroup_is_flagged_and_groups_partition_the_split():
    t, p = _test_split()
    bucket = np.digitize(p, [0.1, 0.9])  # 0 auto-normal, 1 uncertain, 2 priority
    out = subgroup_results(t, p, bucket, n_boot=200, seed=1)
    views = {r["group"]: r for r in out["groups"]["view"]}
    assert views["PA"]["below_overall"] and not views["AP"]["below_overall"]
    assert out["flagged"] == ["view PA"]
    assert views["AP"]["auroc_written"]["ci_low"] > views["PA"]["auroc_written"]["ci_high"]
    assert sum(r["n"] for r in out["groups"]["view"]) == len(t)
    assert sum(r["n"] for r in out["groups"]["age"]) == len(t) - 10
    small = {r["group"]: r for r in out["groups"]["sex"]}["X"]
    assert small["too_small"] and small["n"] == 30 < MIN_STUDIES
    shares = views["AP"]["buckets"]
    assert abs(sum(s["value"] for s in shares.values()) - 1) < 1e-9
    assert all(s["ci_low"] <= s["value"] <= s["ci_high"] for s in shares.values())
    assert "auroc_truth" in out["overall"]
