"""How far the model is from what the images hold: scores against labels beyond the written ones.

Only generated data has a truth; the ablation and the pipeline both report through these functions,
so a figure in the ablation table and one in a run's metrics.json mean the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

LOW_FRACTIONS = (0.01, 0.05, 0.10)  # the lowest-scored shares whose true abnormal rate we report


def auroc_against(p: np.ndarray, labels: Mapping[str, np.ndarray], *, groups: np.ndarray | None,
                  n_boot: int = 500, seed: int = 0) -> dict[str, dict[str, float]]:
    """{"auroc_<name>": value and 95% bootstrap CI (patients resampled when `groups` is given)}."""
    from triage_ray.calibrate.report import calibration_report

    return {f"auroc_{name}": calibration_report(y, p, n_boot=n_boot, seed=seed,
                                                groups=groups)["auroc"]
            for name, y in labels.items()}


def low_end_abnormal(p: np.ndarray, truth: np.ndarray) -> dict[str, dict[str, float]]:
    """The truly abnormal share among the lowest-scored 1/5/10% (Clopper-Pearson 95%): the studies
    an auto-normal bucket would clear first."""
    from triage_ray.common.stats import clopper_pearson

    order = np.argsort(p, kind="stable")
    out = {}
    for f in LOW_FRACTIONS:
        low = order[: max(1, round(f * len(order)))]
        k, n = int(np.asarray(truth)[low].sum()), len(low)
        lo, hi = clopper_pearson(k, n)
        out[f"abnormal_in_lowest_{round(f * 100)}pct"] = {"value": k / n, "ci_low": lo,
                                                         "ci_high": hi, "n": n}
    return out


def model_vs_truth(test_p: np.ndarray, test_labels: Mapping[str, np.ndarray],
                   test_groups: np.ndarray, pile_p: np.ndarray | None,
                   pile_truth: np.ndarray | None) -> dict[str, Any]:
    """The run's model against the generator's truth: held-out test AUROC against each label set,
    and on the pile (if its truth is known) AUROC and the low-end abnormal shares."""
    out: dict[str, Any] = {"test": {"n": int(len(test_p)),
                                    **auroc_against(test_p, test_labels, groups=test_groups)}}
    if pile_p is not None and pile_truth is not None:
        out["pile"] = {"n": int(len(pile_p)),
                       **auroc_against(pile_p, {"truth": pile_truth}, groups=None, n_boot=200),
                       **low_end_abnormal(pile_p, pile_truth)}
    return out


def run_model_vs_truth(studies, held, reference_labels, pile_logits, pile_truth) -> dict[str, Any]:
    """`model_vs_truth` from the pipeline's own objects: the labelled study table (with the
    generated `true_abnormal`), the chosen model's HeldOutLogits, the adjudicated reference labels
    (or None), the pile's logits (study_id, logit) and its truth (study_id -> bool, or None)."""
    from triage_ray.common.stats import sigmoid

    by_id = studies.set_index("study_id")
    ids = held.study_id["test"]
    p = sigmoid(held.logit["test"])
    labels = {"truth": by_id.loc[ids, "true_abnormal"].to_numpy().astype(int),
              "written": held.label["test"].astype(int)}
    groups = by_id.loc[ids, "patient_id"].astype(str).to_numpy()
    pile_p = pile_y = None
    if pile_truth is not None:
        pile_p = sigmoid(pile_logits["logit"].to_numpy())
        pile_y = pile_logits["study_id"].map(pile_truth).to_numpy().astype(int)
    out = model_vs_truth(p, labels, groups, pile_p, pile_y)
    if reference_labels is not None:
        adjudicated = np.isin(ids, reference_labels.index)
        if adjudicated.any():
            panel = reference_labels.reindex(ids[adjudicated]).to_numpy().astype(int)
            out["test"]["reference"] = {
                "n": int(adjudicated.sum()),
                **auroc_against(p[adjudicated], {"reference": panel}, groups=groups[adjudicated])}
    return out
