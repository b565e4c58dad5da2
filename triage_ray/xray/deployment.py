"""A finished run's model as something a site can deploy: triage a new pile without retraining.

The study decides whether a model may order a reading list; a site that accepts it then triages
each new export with that same model, calibrator, thresholds, operating point and intended-use
gate. `save_deployment` writes, at the end of a run, what pile scoring needs besides the pile
itself (`deployment/`: the chosen checkpoint, the operating point, the reference labels the
thresholds were certified against, and the labelled studies' splits and covariates: no pixels, no
file paths). `load_deployment` rebuilds the same objects: the calibrator and the thresholds are
refitted from the checkpoint's held-out logits by the same seeded code, so they come out equal.
`triage_pile` is the pile stage itself, shared by the study (`xray.pipeline`) and by scoring a
new pile (`xray.rescore`), so both triage a pile the same way.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from triage_ray.common.strict_json import write_strict_json
from triage_ray.gate import IntendedUse
from triage_ray.train.heldout import HeldOutLogits
from triage_ray.xray.config import XrayConfig, resumed_config
from triage_ray.xray.gate import GateModel
from triage_ray.xray.provenance import Provenance, provenance_of
from triage_ray.xray.score import ScoredConfig, score_heldout
from triage_ray.xray.sources import Log

DEPLOYMENT_DIR = "deployment"
RECORD, LABELLED, REFERENCE = "deployment.json", "labelled.parquet", "reference.parquet"
# what the pile stage reads of the labelled studies: patients (resampling), splits, covariates
LABELLED_COLUMNS = ("study_id", "patient_id", "label", "split", "view", "age", "sex",
                    "true_abnormal")
HELD_OUT_BOOT = 1000  # bootstrap replicates of the held-out scoring (as the study runs it)


@dataclass
class Deployment:
    """What triaging a pile needs besides the pile: the chosen model and everything fitted on it."""

    cfg: XrayConfig  # the run's configuration
    deploy: XrayConfig  # the same at the recommended operating point (the pile is triaged at it)
    checkpoint: Path  # the chosen trial's checkpoint (weights and held-out logits)
    input_px: int  # the size the chosen model reads
    held: HeldOutLogits
    scored: ScoredConfig  # calibrator and thresholds, fitted on the held-out splits
    reference: pd.Series | None  # study_id -> 0/1 reference labels; None: written labels
    label_source: str
    labelled: pd.DataFrame  # the labelled studies as `deployable_studies` keeps them
    gate: GateModel
    operating_point: dict[str, Any] | None
    model: dict[str, Any]  # the chosen trial in words: backbone, lr, trial id, source run

    @property
    def labelled_in_scope(self) -> pd.DataFrame:
        return self.labelled[self.labelled["study_id"].astype(str).isin(self.gate.labelled_in_scope)]


def fitted(cfg: XrayConfig, checkpoint: Path, reference: pd.Series | None,
           label_source: str) -> tuple[HeldOutLogits, ScoredConfig]:
    """The checkpoint's held-out logits and the calibrator and thresholds fitted on them."""
    held = HeldOutLogits.load(checkpoint)
    return held, score_heldout(held, cfg, n_boot=HELD_OUT_BOOT, reference=reference,
                               label_source=label_source)


def deployable_studies(studies: pd.DataFrame) -> pd.DataFrame:
    """The labelled study table as a deployment keeps it: LABELLED_COLUMNS, study ids as text."""
    cols = [c for c in LABELLED_COLUMNS if c in studies]
    return studies[cols].assign(study_id=studies["study_id"].astype(str)).reset_index(drop=True)


def model_record(best: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """The chosen trial in words, for every pile scored with it."""
    keys = ("trial_id", "backbone", "lr", "init", "image_size", "test_auroc")
    return {"run_id": run_dir.name, **{k: best[k] for k in keys if k in best}}


def save_deployment(run_dir: Path, dep: Deployment) -> Path:
    """Write `run_dir/deployment/` (module doc); returns the folder."""
    out = run_dir / DEPLOYMENT_DIR
    out.mkdir(parents=True, exist_ok=True)
    table = dep.labelled.assign(in_scope=dep.labelled["study_id"].isin(dep.gate.labelled_in_scope))
    table.to_parquet(out / LABELLED, index=False)
    if dep.reference is not None:
        ref = dep.reference.rename_axis("study_id").rename("label").reset_index()
        ref.assign(study_id=ref["study_id"].astype(str)).to_parquet(out / REFERENCE, index=False)
    record = {"checkpoint": _relative(dep.checkpoint, run_dir), "input_px": dep.input_px,
              "label_source": dep.label_source, "operating_point": dep.operating_point,
              "detector_file": _relative(dep.gate.detector_file, run_dir),
              "model": dep.model, "files": {"labelled": LABELLED, "reference": REFERENCE
                                            if dep.reference is not None else None}}
    write_strict_json(out / RECORD, record)  # the operating point holds NaN where undefined
    return out


def _relative(path: Path | str, run_dir: Path) -> str:
    """Inside the run directory: relative to it, so a copied or moved run still loads."""
    path = Path(path).resolve()
    return os.path.relpath(path, run_dir.resolve()) if path.is_relative_to(run_dir.resolve()) \
        else str(path)


def load_deployment(run_dir: Path) -> Deployment:
    """The deployment a finished run saved; a clear error for a folder that holds none."""
    from triage_ray.gate.ood import FeatureDistance
    from triage_ray.xray.operating import point_config

    run_dir = Path(run_dir).resolve()
    folder = run_dir / DEPLOYMENT_DIR
    if not (folder / RECORD).is_file():
        raise FileNotFoundError(
            f"{run_dir} holds no {DEPLOYMENT_DIR}/{RECORD}: it is not a finished X-ray run, or it "
            "was made before runs saved their model for deployment. Point --run at a run "
            "directory (reports/xray/<run-id>) that finished, or rerun the study.")
    record = json.loads((folder / RECORD).read_text())
    cfg = resumed_config(run_dir / "config.json", {})
    checkpoint = run_dir / record["checkpoint"]
    if not checkpoint.is_dir():
        raise FileNotFoundError(f"{checkpoint}: the chosen model's checkpoint is missing from "
                                f"{run_dir} (was the run's tune/ folder removed or not copied?)")
    labelled = pd.read_parquet(folder / LABELLED)
    reference = None
    if record["files"]["reference"]:
        ref = pd.read_parquet(folder / record["files"]["reference"])
        reference = pd.Series(ref["label"].to_numpy(), index=ref["study_id"].astype(str))
    held, scored = fitted(cfg, checkpoint, reference, record["label_source"])
    detector_file = run_dir / record["detector_file"]
    gate = GateModel(IntendedUse.from_dict(cfg.intended_use), record["input_px"],
                     FeatureDistance.load(detector_file), detector_file,
                     json.loads((run_dir / "gate_check.json").read_text()),
                     set(labelled.loc[labelled["in_scope"], "study_id"]))
    op = record["operating_point"]
    return Deployment(cfg, point_config(cfg, op) if op else cfg, checkpoint, record["input_px"],
                      held, scored, reference, record["label_source"],
                      labelled.drop(columns="in_scope"), gate, op, record["model"])


@dataclass
class TriagedPile:
    """The pile stage's products: what `score_pile` returned and what the run records about it."""

    result: Any  # xray.pile.PileResult
    truth: pd.Series | None  # generated piles only
    info: dict[str, Any]  # load_pile's info with the ingest report added
    logits: pd.DataFrame
    provenance: Provenance


def triage_pile(dep: Deployment, pile_cfg: XrayConfig, out_dir: Path, *, resuming: bool,
                log: Log = print) -> TriagedPile:
    """Read, ingest, score, gate and bucket the pile `pile_cfg` names (its pile_root and
    pile_source, or the generated pile) with `dep`; writes shards/pile, pile_logits/ (committed
    in chunks: a killed run resumes with what was scored) and worklist.parquet under `out_dir`."""
    from triage_ray.data.ingest import ingest_to_shards
    from triage_ray.train.precision import StepPrecision
    from triage_ray.xray.gate import apply_gate
    from triage_ray.xray.pile import score_pile
    from triage_ray.xray.predict import score_shards
    from triage_ray.xray.sources import load_pile

    pile, truth, info = load_pile(pile_cfg, log)
    # every output's banner reads this record (the pile's origin is known once it is read)
    prov = provenance_of(pile_cfg, dep.label_source, info["generated"])
    shards = out_dir / "shards" / "pile"
    ingest = ingest_to_shards(pile, shards, image_size=dep.input_px, overwrite=resuming)
    logits = score_shards(shards, dep.checkpoint, out_dir / "pile_logits",
                          torch_threads=pile_cfg.torch_threads,
                          detector_file=dep.gate.detector_file, log=log,
                          use_gpu=pile_cfg.use_gpu,
                          step=StepPrecision(pile_cfg.precision, pile_cfg.channels_last),
                          concurrency=pile_cfg.num_workers if pile_cfg.use_gpu else 1)
    gated = apply_gate(dep.gate, pile, shards, logits.set_index("study_id")["ood_distance"])
    log(f"gate: {gated[1]['n_not_triaged']:,} of {len(pile):,} pile studies outside the intended "
        f"use (not triaged, read as usual): {gated[1]['by_reason']}")
    result = score_pile(pile, logits, dep.scored, dep.held, dep.deploy, out_dir, truth=truth,
                        skipped=ingest.skipped, labelled=dep.labelled,
                        not_studies=[(d["path"], d["reason"]) for d in info["skipped"]],
                        gate=gated, provenance=prov.to_dict(),
                        labelled_in_scope=dep.labelled_in_scope)
    return TriagedPile(result, truth, {**info, "ingest": ingest.to_dict(),
                                       "operating_point": dep.operating_point}, logits, prov)
