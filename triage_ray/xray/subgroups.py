"""Results by subgroup on the held-out test split: view, sex and age band.

Why: a reviewer's first question of a triage model is whether it works as well for AP films as
for PA, for women as for men, for the old as for the young. Each subgroup gets AUROC (against the
written labels, and the generator's truth where known) and calibration error with 95%
patient-bootstrap CIs, and its bucket shares at the chosen thresholds with Clopper-Pearson CIs.
A subgroup is flagged when its AUROC interval lies wholly below the overall AUROC. Groups with
fewer than MIN_STUDIES test studies, or without both classes, are listed as too small, not scored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

MIN_STUDIES = 50
AGE_BANDS = ((18, 40, "18-39"), (40, 60, "40-59"), (60, 200, "60+"))
BUCKETS = ("auto_normal", "uncertain", "priority")  # bucket codes 0, 1, 2


def _age_band(age: float) -> str:
    if not np.isfinite(age):
        return ""
    if age < AGE_BANDS[0][0]:
        return f"<{AGE_BANDS[0][0]}"
    return next(name for lo, hi, name in AGE_BANDS if lo <= age < hi)


GROUPERS: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    "view": lambda t: t["view"].astype(str),
    "sex": lambda t: t["sex"].astype(str) if "sex" in t else pd.Series("", index=t.index),
    "age": lambda t: (t["age"].astype(float).map(_age_band) if "age" in t
                      else pd.Series("", index=t.index)),
}


def _shares(bucket: np.ndarray) -> dict[str, dict[str, float]]:
    from triage_ray.common.stats import clopper_pearson

    out = {}
    for code, name in enumerate(BUCKETS):
        k, n = int((bucket == code).sum()), len(bucket)
        lo, hi = clopper_pearson(k, n)
        out[name] = {"value": k / n, "ci_low": lo, "ci_high": hi}
    return out


def _score(p: np.ndarray, labels: dict[str, np.ndarray], patients: np.ndarray,
           bucket: np.ndarray, n_boot: int, seed: int) -> dict[str, Any]:
    from triage_ray.calibrate.report import calibration_report

    written = calibration_report(labels["written"], p, n_boot=n_boot, seed=seed, groups=patients)
    row = {"auroc_written": written["auroc"], "ece": written["ece"],
           "abnormal_rate": float(labels["written"].mean()), "buckets": _shares(bucket)}
    if "truth" in labels:
        row["auroc_truth"] = calibration_report(labels["truth"], p, n_boot=n_boot, seed=seed,
                                                groups=patients)["auroc"]
    return row


def labels_of(t: pd.DataFrame) -> dict[str, np.ndarray]:
    """Written labels, and the generator's truth where the table has it."""
    out = {"written": t["label"].to_numpy().astype(int)}
    if "true_abnormal" in t:
        out["truth"] = t["true_abnormal"].to_numpy().astype(int)
    return out


def subgroup_results(test: pd.DataFrame, p: np.ndarray, bucket: np.ndarray, *,
                     n_boot: int = 500, seed: int = 0) -> dict[str, Any]:
    """`test`: the test split's rows (study_id, patient_id, label, view and, where known, sex,
    age, true_abnormal), aligned with calibrated `p` and `bucket` codes. Returns the overall row
    and, per grouping, one row per subgroup."""
    patients = test["patient_id"].astype(str).to_numpy()
    overall = {"n": len(test), **_score(p, labels_of(test), patients, bucket, n_boot, seed)}
    groups: dict[str, list[dict[str, Any]]] = {}
    for name, grouper in GROUPERS.items():
        keys = grouper(test).to_numpy()
        rows = []
        for key in sorted(set(keys) - {""}):
            m = keys == key
            sub = test[m]
            y = sub["label"].to_numpy()
            row: dict[str, Any] = {"group": str(key), "n": int(m.sum())}
            if m.sum() < MIN_STUDIES or len(set(y)) < 2:
                rows.append({**row, "too_small": True})
                continue
            row.update(_score(p[m], labels_of(sub), patients[m], bucket[m], n_boot, seed))
            row["below_overall"] = row["auroc_written"]["ci_high"] < overall["auroc_written"]["value"]
            rows.append(row)
        groups[name] = rows
    return {"split": "test", "min_studies": MIN_STUDIES, "n_boot": n_boot, "overall": overall,
            "groups": groups,
            "flagged": [f"{name} {r['group']}" for name, rows in groups.items() for r in rows
                        if r.get("below_overall")]}


def run_subgroups(studies: pd.DataFrame, held, scored, *, n_boot: int = 500,
                  seed: int = 0) -> dict[str, Any]:
    """The pipeline's call: the test split's calibrated p and buckets at the certified policy."""
    ids = held.study_id["test"].astype(str)
    test = studies.set_index(studies["study_id"].astype(str)).loc[ids].reset_index(drop=True)
    p = scored.calibrator.predict_proba(held.logit["test"])
    return subgroup_results(test, p, scored.policy.assign(p), n_boot=n_boot, seed=seed)
