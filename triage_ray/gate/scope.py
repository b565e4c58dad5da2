"""The intended use, written once: what a study must be for the model's output to mean anything.

The memo's "must not be used for" list and the gate that enforces it both read `IntendedUse`, so
the two cannot drift apart. A study outside it is never triaged: it goes to the NOT_TRIAGED
bucket, "read as usual", with every reason it failed (`scope_reasons`, `image_reasons`).

A check needs its tag. A study table without a column (the NIH layout has no modality or body part
tags: it holds chest radiographs by definition) is checked by its layout, and the gate's report
says so; a column that is present but empty for a study fails that study ("not stated"): the gate
clears only what it can verify.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from triage_ray.gate.ood import stages_of

MAX_PLAUSIBLE_AGE = 120.0  # NIH's table holds ages of 400+ (entry errors): not a verified adult


@dataclass(frozen=True)
class IntendedUse:
    """Defaults: the population the model was validated on (adult frontal chest radiographs)."""

    modalities: tuple[str, ...] = ("CR", "DX")
    body_parts: tuple[str, ...] = ("CHEST", "THORAX")  # BodyPartExamined values meaning chest
    views: tuple[str, ...] = ("PA", "AP")
    min_age_years: float = 18.0
    min_image_px: int | None = None  # stored image's shorter side; None: the model's input size
    min_pixel_std: float = 2.0  # gray levels (8-bit, as ingested): below it the image is blank
    min_dynamic_range: float = 24.0  # gray levels between the 1st and 99th percentile
    ood_false_flag_rate: float = 0.01  # in-scope studies the feature check may flag (its threshold)
    feature_check: str = "stages"  # which features it compares (gate.ood.FEATURE_CHECKS)
    # Opt-in, never a default: the site states that an export whose age tags were stripped holds
    # adults only. Studies without an age then pass the age rule; a stated age is still checked,
    # and the memo prints the declaration as the site's, not as something the run verified.
    site_declares_adults: bool = False

    def __post_init__(self) -> None:
        for name in ("modalities", "body_parts", "views"):
            values = tuple(str(v).strip().upper() for v in getattr(self, name))
            if not values:
                raise ValueError(f"IntendedUse.{name} must name at least one value")
            object.__setattr__(self, name, values)
        if not 0.0 < self.ood_false_flag_rate < 0.5:
            raise ValueError(f"ood_false_flag_rate must be in (0, 0.5), got {self.ood_false_flag_rate}")
        stages_of(self.feature_check, [])  # an unknown name fails here, before any training
        if self.min_age_years < 0 or self.min_pixel_std < 0 or self.min_dynamic_range < 0:
            raise ValueError("IntendedUse minimums must be non-negative")

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> IntendedUse:
        d = dict(d or {})
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"intended_use: unknown key(s) {sorted(unknown)}")
        for name in ("modalities", "body_parts", "views"):
            if name in d:
                d[name] = tuple(d[name])
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def declaration(self) -> str | None:
        """The site's declaration in words (the memo prints it as the site's), None without one."""
        if not self.site_declares_adults:
            return None
        return (f"every patient in this export is {self.min_age_years:g} or older (declared by the "
                f"site because the export states no age; not verified per study)")

    def image_px(self, input_px: int) -> int:
        return int(self.min_image_px if self.min_image_px is not None else input_px)

    def describe(self, input_px: int) -> list[str]:
        """The scope in plain words, one line per rule (the memo and the review page print these)."""
        return [
            f"{' or '.join(self.modalities)} radiographs",
            f"body part: {' or '.join(self.body_parts).lower()}",
            f"views: {', '.join(self.views)} (not lateral)",
            f"patients aged {self.min_age_years:g} or older"
            + (" (ages the export does not state: the site's declaration)"
               if self.site_declares_adults else ""),
            f"images at least {self.image_px(input_px)} px on the shorter side, not blank, "
            f"with a usable range of gray levels",
            f"images that look like the training data (feature check on "
            f"{'backbone stages' if self.feature_check == 'stages' else 'pooled features'}, "
            f"{self.ood_false_flag_rate:.0%} of in-scope studies flagged by design)",
        ]


def _stated(values: pd.Series) -> pd.Series:
    return values.fillna("").astype(str).str.strip().str.upper()


def stored_side(studies: pd.DataFrame) -> np.ndarray:
    """Each study's stored image's shorter side in px: the DICOM Rows/Columns tags when the table
    has them, else the image file's header (PIL reads it without decoding); 0 when unreadable."""
    if {"rows", "columns"} <= set(studies.columns):
        return np.minimum(pd.to_numeric(studies["rows"], errors="coerce").fillna(0),
                          pd.to_numeric(studies["columns"], errors="coerce").fillna(0)).to_numpy()
    from PIL import Image

    out = np.zeros(len(studies))
    for i, path in enumerate(studies["path"].astype(str)):
        try:
            with Image.open(path) as im:
                out[i] = min(im.size)
        except (OSError, ValueError):
            out[i] = 0  # ingest names the file as a skip; the gate refuses it too
    return out


def scope_reasons(studies: pd.DataFrame, use: IntendedUse, *, input_px: int,
                  image_size: bool = True) -> tuple[list[list[str]], dict[str, str]]:
    """Per study (table order) the metadata rules it fails, and how each rule was checked
    ("per study" or "implied by the <source> layout"). image_size=False leaves out the one rule
    that opens every image file (a quick look at the tags before a long run)."""
    n = len(studies)
    reasons: list[list[str]] = [[] for _ in range(n)]
    checked: dict[str, str] = {}
    layout = ", ".join(sorted(set(studies.get("source", pd.Series(["?"])).astype(str))))

    def rule(name: str, column: str, fails: np.ndarray, why: list[str]) -> None:
        checked[name] = "per study"
        for i in np.flatnonzero(fails):
            reasons[i].append(why[i])

    for name, column, allowed in (("modality", "modality", use.modalities),
                                  ("body part", "body_part", use.body_parts),
                                  ("view", "view", use.views)):
        if column not in studies:
            checked[name] = f"implied by the {layout} layout (no {column} tag)"
            continue
        v = _stated(studies[column]).to_numpy()
        why = [f"{name} not stated" if not x else f"{name} {x} (validated: {', '.join(allowed)})"
               for x in v]
        rule(name, column, ~np.isin(v, allowed), why)
    if "age" in studies:
        age = pd.to_numeric(studies["age"], errors="coerce").to_numpy(dtype=float)
        text = (studies["age_text"].fillna("").astype(str).str.strip().tolist()
                if "age_text" in studies else [""] * n)
        why = [(f"age {t!r} not readable" if t else "age not stated") if np.isnan(a) else
               f"age {a:g} is not plausible" if a > MAX_PLAUSIBLE_AGE else
               f"age {a:.3g} (under {use.min_age_years:g})" for a, t in zip(age, text, strict=True)]
        fails = np.isnan(age) | (age < use.min_age_years) | (age > MAX_PLAUSIBLE_AGE)
        unstated = np.isnan(age) & (np.asarray(text) == "")
        if use.site_declares_adults:
            fails &= ~unstated  # the site's declaration stands in for an absent age, not a bad one
        rule("age", "age", fails, why)
        if use.site_declares_adults and unstated.any():
            checked["age"] = (f"per study where stated; {int(unstated.sum())} without an age "
                              f"admitted on the site's declaration: {use.declaration()}")
    elif use.site_declares_adults:
        checked["age"] = f"not checked per study: the site's declaration: {use.declaration()}"
    else:
        checked["age"] = "not checked: the source states no age"
        for r in reasons:
            r.append("age not stated")
    if not image_size:
        return reasons, checked
    side = stored_side(studies)
    need = use.image_px(input_px)
    rule("image size", "rows", side < need,
         ["image size unreadable" if s <= 0 else f"image {int(s)} px (under {need})" for s in side])
    return reasons, checked


def image_stats(shard_dir) -> pd.DataFrame:
    """study_id, pixel SD, 1st and 99th percentile of every ingested image (8-bit, as the model
    sees it), read shard by shard."""
    import pyarrow.parquet as pq

    from triage_ray.data.stream import shard_files

    parts = []
    for f in shard_files(shard_dir):
        t = pq.read_table(f, columns=["study_id", "image"])
        blobs = t.column("image").to_pylist()
        px = np.stack([np.frombuffer(b, np.uint8) for b in blobs]).astype(np.float32)
        p01, p99 = np.percentile(px, [1, 99], axis=1)
        parts.append(pd.DataFrame({"study_id": t.column("study_id").to_pylist(),
                                   "std": px.std(axis=1), "p01": p01, "p99": p99}))
    return pd.concat(parts, ignore_index=True)


def image_reasons(stats: pd.DataFrame, use: IntendedUse) -> dict[str, list[str]]:
    """study_id -> image rules failed, from `image_stats`."""
    out: dict[str, list[str]] = {}
    for row in stats.itertuples(index=False):
        if row.std < use.min_pixel_std:
            out[str(row.study_id)] = [f"blank image (pixel SD {row.std:.1f})"]
        elif row.p99 - row.p01 < use.min_dynamic_range:
            out[str(row.study_id)] = [f"low dynamic range ({row.p99 - row.p01:.0f} gray levels)"]
    return out
