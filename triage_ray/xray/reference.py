"""The reference standard the auto-normal bound is certified against, and the studies it covers.

A registry of reference sources (`XrayConfig.reference` chooses one):
- `panel`: the generated tree's simulated adjudication panel (triage_ray.data.synth.panel);
- `csv`: a user's file (`reference_labels`: study id -> 0/1), any data source;
- `google2019`: Google's 2019 radiologist relabels of NIH images (four findings only);
- `chexpert_valid`: CheXpert's radiologist-labelled validation studies (those that land in
  `select` / `test`: the patient split assigns them like any other study);
- `written`: no reference; the written (report-mined) labels, as before such a set existed.

Only `reference_size` studies of `select` and `reference_test_size` of `test` are adjudicated (a
seeded random subset of those the source labels): a reference costs radiologist reads, and the
bound's arithmetic says how many it needs (`triage_ray.data.reference_standard.min_reference_size`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from triage_ray.xray.config import XrayConfig

WRITTEN = "written labels (report-mined, NIH-style)"


@dataclass(frozen=True)
class ReferenceStandard:
    """study_id -> 0/1 reference label for the adjudicated studies, and what the labels are."""

    source: str  # the registry name
    labels: pd.Series  # index study_id; only adjudicated studies
    label_source: str  # in words, for every figure certified against it
    scope: str | None  # what "normal" promises (None: every finding)
    reads_per_study: float  # radiologist reads each adjudicated study cost
    report: dict[str, Any]  # the loader's count-in / count-out report

    def cost(self, staffing_reads_per_day: float) -> dict[str, float]:
        reads = float(self.reads_per_study * len(self.labels))
        return {"n_studies": len(self.labels), "reads_per_study": self.reads_per_study,
                "reads": reads, "reading_days": reads / staffing_reads_per_day}

    def arithmetic(self, alpha: float, delta: float) -> dict[str, Any]:
        """Can this many adjudicated `select` studies certify alpha at all? (Clopper-Pearson.)"""
        from triage_ray.data.reference_standard import min_auto_normal_count

        n_select = int(self.report.get("adjudicated", {}).get("select", len(self.labels)))
        need = {name: min_auto_normal_count(alpha, delta, k)
                for name, k in (("no_abnormal", 0), ("one_abnormal", 1), ("five_abnormal", 5))}
        return {"alpha": alpha, "confidence": 1 - delta, "n_select": n_select,
                "min_auto_normal": need, "too_small": n_select < need["no_abnormal"],
                "min_clearable_share": need["no_abnormal"] / n_select if n_select else None}

    def to_dict(self, reads_per_day: float, alpha: float, delta: float) -> dict[str, Any]:
        return {"source": self.source, "label_source": self.label_source, "scope": self.scope,
                "n_labelled": len(self.labels), "abnormal_rate": float(self.labels.mean())
                if len(self.labels) else None, "cost": self.cost(reads_per_day),
                "arithmetic": self.arithmetic(alpha, delta), "report": self.report}


Loader = Callable[[XrayConfig, pd.DataFrame], tuple[pd.Series, str, str | None, float]]
REFERENCES: dict[str, Loader] = {}


def register_reference(fn: Loader) -> Loader:
    """Register a reference source under its function's name."""
    REFERENCES[fn.__name__] = fn
    return fn


@register_reference
def panel(cfg: XrayConfig, studies: pd.DataFrame) -> tuple[pd.Series, str, str | None, float]:
    from triage_ray.data.reference_standard import REFERENCE_READS_PER_STUDY, generated_reference

    root = Path(studies["path"].iloc[0]).parent.parent  # <root>/images/<name>.png
    labels = generated_reference(root)
    reads = labels.attrs.get("reference_report", {}).get("reads")
    k = round(reads / len(labels)) if reads and len(labels) else REFERENCE_READS_PER_STUDY
    return labels, f"simulated radiologist panel (majority of {k} readers)", None, float(k)


@register_reference
def csv(cfg: XrayConfig, studies: pd.DataFrame) -> tuple[pd.Series, str, str | None, float]:
    from triage_ray.data.reference_standard import REFERENCE_READS_PER_STUDY, load_reference_labels

    labels = load_reference_labels(cfg.reference_labels, studies, unknown="skip")
    rep = labels.attrs.get("reference_report", {})
    reads = rep.get("reads") or REFERENCE_READS_PER_STUDY * len(labels)
    return (labels, f"reference labels from {cfg.reference_labels}", None,
            float(reads) / max(len(labels), 1))


@register_reference
def google2019(cfg: XrayConfig, studies: pd.DataFrame) -> tuple[pd.Series, str, str | None, float]:
    from triage_ray.data.reference_standard import GOOGLE_SCOPE, nih_google_reference

    labels = nih_google_reference(studies)
    return (labels, "Google 2019 radiologist panel relabels (four findings)", GOOGLE_SCOPE, 3.0)


@register_reference
def chexpert_valid(cfg: XrayConfig,
                   studies: pd.DataFrame) -> tuple[pd.Series, str, str | None, float]:
    from triage_ray.data.reference_standard import (
        CHEXPERT_SCOPE,
        CHEXPERT_VALID_READERS,
        chexpert_valid_reference,
    )

    labels = chexpert_valid_reference(cfg.data_root)
    return (labels, "CheXpert validation labels (3 radiologists)", CHEXPERT_SCOPE,
            float(CHEXPERT_VALID_READERS))


@register_reference
def written(cfg: XrayConfig, studies: pd.DataFrame) -> tuple[pd.Series, str, str | None, float]:
    labelled = studies[studies["label"] >= 0]
    return (pd.Series(labelled["label"].to_numpy().astype(np.int8),
                      index=labelled["study_id"].astype(str)), WRITTEN, None, 0.0)


def build_reference(cfg: XrayConfig, studies: pd.DataFrame) -> ReferenceStandard:
    """The configured reference, restricted to a seeded random subset of `select` and `test`."""
    labels, label_source, scope, reads = REFERENCES[cfg.reference_source](cfg, studies)
    report = dict(labels.attrs.get("reference_report", {}))
    split = studies.set_index(studies["study_id"].astype(str))["split"]
    labels = labels[labels.index.isin(split.index)]
    rng = np.random.default_rng(cfg.seed + 13)
    keep: list[str] = []
    for name, size in (("select", cfg.reference_size), ("test", cfg.reference_test_size)):
        ids = np.sort(labels.index[split.reindex(labels.index).to_numpy() == name].to_numpy())
        if cfg.reference_source != "written" and 0 < size < ids.size:
            ids = rng.choice(ids, size, replace=False)
        keep.extend(ids.tolist())
    labels = labels.loc[sorted(keep)]
    report.update(adjudicated={s: int((split.reindex(labels.index) == s).sum())
                               for s in ("select", "test")})
    # the loader's report (tuples of skipped rows included) is made plain by the strict JSON writer
    return ReferenceStandard(cfg.reference_source, labels, label_source, scope, reads, report)
