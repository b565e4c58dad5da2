"""The intended-use gate as a pipeline stage: fitted on the labelled data, applied to the pile.

fit: the feature check (`gate.ood`) is fitted on in-scope training studies' features and its
threshold set on in-scope `calib` studies at the intended use's false-flag rate; the rate seen on
in-scope `test` studies is reported with its interval, and so is the share of probe images
(`data.synth.probes`: broken files and realistic shifts) that the gate catches. Every feature check
(`gate.ood.FEATURE_CHECKS`) is fitted and measured on the same studies and probes, so
gate_check.json compares them; the intended use's is the one applied.
apply: every pile study gets its reasons (metadata rules, image checks, feature check); a study
with any goes to NOT_TRIAGED, "read as usual", never auto-cleared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from triage_ray.common.stats import clopper_pearson
from triage_ray.gate import FeatureDistance, IntendedUse, image_reasons, image_stats, scope_reasons
from triage_ray.gate.ood import DETECTOR_FILE, FEATURE_CHECKS, POOLED, stages_of

REASON_SEP = "; "
OOD_REASON = "unlike the training images (feature check)"
MAX_FIT, MAX_PROBE_SOURCE = 4000, 200  # training studies the Gaussian is fitted on; probe sources


@dataclass
class GateModel:
    use: IntendedUse
    input_px: int
    detector: FeatureDistance
    detector_file: Path
    check: dict[str, Any]  # false-flag rate on in-scope test studies, probe detection rates
    labelled_in_scope: set[str]  # labelled studies inside the intended use (metadata and images)


def _split_images(shard_dir: Path, keep: dict[str, set[str]], limit: dict[str, int], seed: int
                  ) -> dict[str, tuple[list[str], np.ndarray]]:
    """split -> (study ids, (N, H, W) uint8) for the studies in `keep[split]`, at most
    `limit[split]` of them (a seeded sample)."""
    import pyarrow.parquet as pq

    from triage_ray.data.stream import batch_to_images, shard_files

    ids: dict[str, list[str]] = {s: [] for s in keep}
    blobs: dict[str, list[bytes]] = {s: [] for s in keep}
    for f in shard_files(shard_dir):
        t = pq.read_table(f, columns=["study_id", "split", "image"]).to_pydict()
        for sid, split, blob in zip(t["study_id"], t["split"], t["image"], strict=True):
            if split in keep and sid in keep[split]:
                ids[split].append(sid)
                blobs[split].append(blob)
    rng = np.random.default_rng(seed)
    out = {}
    for split in keep:
        take = np.sort(rng.permutation(len(ids[split]))[:limit[split]])
        out[split] = ([ids[split][i] for i in take],
                      batch_to_images({"image": [blobs[split][i] for i in take]}))
    return out


def image_features(checkpoint_dir: str | Path, images: np.ndarray, batch: int = 256
                   ) -> dict[str, np.ndarray]:
    """stage -> (N, d) gate features of (N, H, W) uint8 images (`xray.predict.logits_and_features`),
    in this process."""
    from triage_ray.train.tensors import images_to_tensor
    from triage_ray.xray.predict import load_checkpoint_model, logits_and_features

    model, mean, std = load_checkpoint_model(checkpoint_dir)
    parts: dict[str, list[np.ndarray]] = {}
    for i in range(0, len(images), batch):
        chunk = images[i:i + batch]
        x = images_to_tensor({"image": [im.tobytes() for im in chunk]}, mean, std)
        for k, v in logits_and_features(model, x)[1].items():
            parts.setdefault(k, []).append(v.numpy())
    if not parts:
        raise ValueError("no images to compute features of")
    return {k: np.concatenate(v) for k, v in parts.items()}


def in_scope_ids(studies: pd.DataFrame, stats: pd.DataFrame, use: IntendedUse,
                 input_px: int) -> set[str]:
    """Studies passing the metadata rules and image checks (the feature check's population)."""
    reasons, _ = scope_reasons(studies, use, input_px=input_px)
    bad_image = image_reasons(stats, use)
    return {sid for sid, r in zip(studies["study_id"].astype(str), reasons, strict=True)
            if not r and sid not in bad_image}


def check_labelled_scope(use: IntendedUse, labelled: pd.DataFrame, input_px: int) -> int:
    """How many labelled studies pass the intended use's tag rules; raises before any training
    when none does (the feature check would have nothing to fit on after the whole sweep), naming
    the commonest reasons and what to change."""
    reasons, _ = scope_reasons(labelled, use, input_px=input_px, image_size=False)
    n_in = sum(not r for r in reasons)
    if n_in == 0 and len(labelled):
        common = pd.Series([x for r in reasons for x in r]).value_counts().head(TOP_REASONS)
        why = "; ".join(f"{k} for {v / len(labelled):.0%}" for k, v in common.items())
        raise ValueError(
            f"none of the {len(labelled):,} labelled studies is inside the intended use ({why}): "
            "the gate's feature check would have nothing to fit on. State the missing tags (e.g. "
            "an age column for the generic source), or change intended_use; an export that "
            "stripped age from adults only may set intended_use.site_declares_adults=true")
    return n_in


def fit_gate(use: IntendedUse, labelled: pd.DataFrame, shard_dir: Path, checkpoint_dir: str | Path,
             out_dir: Path, *, input_px: int, seed: int, generated: bool = False,
             log=print) -> GateModel:
    """Fit and check the feature detector on the labelled data (module doc); saves it to out_dir."""
    stats = image_stats(shard_dir)
    ok = in_scope_ids(labelled, stats, use, input_px)
    split = labelled.set_index(labelled["study_id"].astype(str))["split"]
    keep = {s: {sid for sid in ok if split.get(sid) == s} for s in ("train", "calib", "test")}
    data = _split_images(shard_dir, keep, {"train": MAX_FIT, "calib": len(keep["calib"]),
                                           "test": len(keep["test"])}, seed)
    fit_px = data["train"][1]
    feats = {s: image_features(checkpoint_dir, px) for s, (_, px) in data.items()}
    # every feature check is fitted and measured on the same studies; the intended use's is used
    detectors = {m: FeatureDistance.fit(feats["train"], stages_of(m, list(feats["train"])), seed)
                 .calibrate(feats["calib"], use.ood_false_flag_rate) for m in FEATURE_CHECKS}
    detector = detectors[use.feature_check]
    n_test = len(feats["test"][POOLED])
    false_flags = {m: _false_flags(int(d.flags(feats["test"]).sum()), n_test, use)
                   for m, d in detectors.items()}
    probes, by_method = probe_detection(detectors, use.feature_check, checkpoint_dir,
                                        data["test"][1][:MAX_PROBE_SOURCE], use, seed,
                                        generated=generated)
    ff = false_flags[use.feature_check]
    check = {"detector": detector.meta(), "in_scope_labelled": len(ok),
             "out_of_scope_labelled": int(len(labelled) - len(ok)),
             "false_flag_test": ff, "probes": probes, "not_tested": not_tested(generated),
             "compared": {m: {"description": FEATURE_CHECKS[m], "false_flag_test": false_flags[m],
                              "feature_check_alone": by_method[m]} for m in detectors}}
    path = detector.save(out_dir / DETECTOR_FILE)
    (out_dir / "gate_check.json").write_text(json.dumps(check, indent=2))
    log(f"gate: feature check ({use.feature_check}) fitted on {len(fit_px):,} in-scope training "
        f"studies, threshold on {detector.n_calibration:,} calib; flags {ff['flagged']}/{n_test} "
        f"in-scope test studies ({ff['flagged'] / max(n_test, 1):.1%}, target "
        f"{use.ood_false_flag_rate:.0%}); probes caught: "
        + ", ".join(f"{k} {v['caught']}/{v['n']}" for k, v in probes.items()))
    missed = [k for k, v in probes.items() if v["family"] == SHIFT and (v["rate"] or 0) < WEAK_CATCH]
    if missed:
        log("WARNING: the feature check catches fewer than half of: " + ", ".join(missed))
    return GateModel(use, input_px, detector, path, check, ok)


BROKEN, SHIFT = "broken image", "realistic shift"
WEAK_CATCH = 0.5  # below it, a shift is named as one the check does not guard against


def not_tested(generated: bool) -> list[str]:
    """Shifts no probe of this run stands for, in words (the memo and model card list them)."""
    out = ["another population's disease mix (needs that site's own studies)"]
    if not generated:
        drawn = ("a real-data run has no such probe: a generated one would differ from any real "
                 "film, so catching it would prove nothing")
        out[:0] = [f"children ({drawn})",
                   f"lateral films tagged as frontal ({drawn}; a lateral tagged as one is "
                   "refused by its view tag)",
                   f"portable AP films of a heavier habitus ({drawn})"]
    return out


def _false_flags(flagged: int, n: int, use: IntendedUse) -> dict[str, Any]:
    r = _rate(flagged, n)
    return {"flagged": r.pop("caught"), **r, "target": use.ood_false_flag_rate}


def _rate(caught: int, n: int) -> dict[str, Any]:
    lo, hi = clopper_pearson(caught, n)
    return {"caught": caught, "n": n, "rate": caught / n if n else None, "ci_low": lo, "ci_high": hi}


def probe_kinds(sources: np.ndarray, seed: int, generated: bool
                ) -> dict[str, tuple[str, np.ndarray]]:
    """kind -> (family, (N, H, W) uint8 probe films) for this run."""
    from triage_ray.data.synth import probes as P

    kinds = {k: (BROKEN, px) for k, px in P.probe_images(sources, seed).items()}
    kinds.update({k: (SHIFT, px) for k, px in P.shift_probes(sources, seed).items()})
    if generated and len(sources):
        n, size = len(sources), sources.shape[1]
        kinds.update({k: (SHIFT, px) for k, px in P.generated_shift_probes(n, size, seed).items()})
    return kinds


def probe_detection(detectors: dict[str, FeatureDistance], chosen: str,
                    checkpoint_dir: str | Path, sources: np.ndarray, use: IntendedUse, seed: int,
                    *, generated: bool = False
                    ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, dict[str, Any]]]]:
    """Per probe kind: its family, how many the image checks, the `chosen` feature check, and
    either caught (with the Clopper-Pearson interval of the catch rate); and per feature check,
    the share of each kind it flags alone (the comparison at the same false-flag target)."""
    out: dict[str, dict[str, Any]] = {}
    by_method: dict[str, dict[str, dict[str, Any]]] = {m: {} for m in detectors}
    for kind, (family, px) in probe_kinds(sources, seed, generated).items():
        ids = np.array([f"{i}" for i in range(len(px))])
        flat = px.reshape(len(px), -1).astype(np.float32)
        p01, p99 = np.percentile(flat, [1, 99], axis=1)
        stats = pd.DataFrame({"study_id": ids, "std": flat.std(axis=1), "p01": p01, "p99": p99})
        by_image = set(image_reasons(stats, use))
        feats = image_features(checkpoint_dir, px)
        flagged = {m: set(ids[d.flags(feats)]) for m, d in detectors.items()}
        for m, f in flagged.items():
            by_method[m][kind] = _rate(len(f), len(px))
        by_ood = flagged[chosen]
        out[kind] = {"family": family, "image_checks": len(by_image),
                     "feature_check": len(by_ood), **_rate(len(by_image | by_ood), len(px))}
    return out, by_method


def apply_gate(gate: GateModel, studies: pd.DataFrame, shard_dir: Path,
               ood_distance: pd.Series) -> tuple[pd.Series, dict[str, Any]]:
    """study_id -> reasons ("" when in scope) for every pile study, and the gate's report."""
    reasons, checked = scope_reasons(studies, gate.use, input_px=gate.input_px)
    bad_image = image_reasons(image_stats(shard_dir), gate.use)
    ids = studies["study_id"].astype(str).to_numpy()
    dist = ood_distance.reindex(ids).to_numpy(dtype=float)
    for i, sid in enumerate(ids):
        reasons[i] += bad_image.get(sid, [])
        if not reasons[i] and dist[i] > gate.detector.threshold:  # NaN (not ingested): not compared
            reasons[i].append(OOD_REASON)
    checked = {**checked, "image checks": "per study (ingested pixels)",
               "feature check": "per study (backbone features)"}
    return gate_report(gate.use, gate.input_px, ids, reasons, checked, gate.check)


def gate_report(use: IntendedUse, input_px: int, ids: np.ndarray, reasons: list[list[str]],
                checked: dict[str, str], check: dict[str, Any] | None
                ) -> tuple[pd.Series, dict[str, Any]]:
    """(study_id -> reasons joined, "" when in scope) and the report metrics.json keeps: the
    rules in words, how each was checked, and the count by each study's first reason."""
    joined = pd.Series([REASON_SEP.join(r) for r in reasons], index=ids)
    first = pd.Series([_reason_kind(r[0]) for r in reasons if r], dtype=str)
    every = pd.Series([_reason_kind(x) for r in reasons for x in r], dtype=str)
    n_out = int((joined != "").sum())
    common = pd.Series([x for r in reasons for x in r], dtype=str).value_counts().head(TOP_REASONS)
    report = {"intended_use": use.to_dict(), "rules": use.describe(input_px), "checked": checked,
              "n_not_triaged": n_out, "n_studies": len(ids),
              "nothing_in_scope": bool(len(ids) and n_out == len(ids)),
              "declaration": use.declaration(),
              "top_reasons": [{"reason": k, "n": int(v), "share": v / len(ids)}
                              for k, v in common.items()],
              "by_reason": {k: int(v) for k, v in first.value_counts().items()},
              "by_any_reason": {k: int(v) for k, v in every.value_counts().items()},
              "check": check}
    return joined, report


TOP_REASONS = 3  # the most common reasons, word for word, that the memo quotes when none is in scope
REASON_KINDS = ("modality", "body part", "view", "age", "image", "blank image", "low dynamic range",
                "unlike the training images")


def _reason_kind(reason: str) -> str:
    """A reason's kind for the count table: 'age 7 (under 18)' and 'age not stated' are 'age'."""
    return next((k for k in sorted(REASON_KINDS, key=len, reverse=True) if reason.startswith(k)),
                reason)
