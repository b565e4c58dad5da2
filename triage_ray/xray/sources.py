"""Where the X-ray study's labelled studies and unlabeled pile come from: one registry of sources.

A source is a function `(cfg, log) -> (studies, info)` registered by name (`XrayConfig.source`
chooses one; the CLI lists them from `SOURCES`). `studies` has the schema of
`triage_ray.data.schema` (study_id, patient_id, path, label, view, ...); `info` is what the run
reports about where the data came from. To add a source, write the function and decorate it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from triage_ray.common.paths import data_dir
from triage_ray.data.chexpert import PATHOLOGIES as CHEXPERT_PATHOLOGIES
from triage_ray.data.chexpert import SUPPORT_DEVICES as CHEXPERT_SUPPORT_DEVICES
from triage_ray.data.representativeness import add_nih_demographics
from triage_ray.data.schema import NIH_FINDINGS

if TYPE_CHECKING:
    from triage_ray.xray.config import XrayConfig

Log = Callable[[str], None]
SourceFn = Callable[["XrayConfig", Log], tuple[pd.DataFrame, dict[str, Any]]]


@dataclass(frozen=True)
class Source:
    name: str
    load: SourceFn
    needs_data_root: bool
    doc: str
    findings: tuple[str, ...] | None  # the source's finding names; None: those in its table


SOURCES: dict[str, Source] = {}


def register_source(*, needs_data_root: bool = True,
                    findings: tuple[str, ...] | None = None) -> Callable[[SourceFn], SourceFn]:
    """Register a labelled-study source under its function's name; its docstring describes it.
    `findings`: the finding names its labels can hold (per-finding supervision's outputs)."""

    def deco(fn: SourceFn) -> SourceFn:
        SOURCES[fn.__name__] = Source(fn.__name__, fn, needs_data_root,
                                      (fn.__doc__ or "").strip().splitlines()[0], findings)
        return fn

    return deco


def finding_vocabulary(source: str, studies: pd.DataFrame) -> tuple[str, ...]:
    """The finding names per-finding supervision predicts: the source's declared list, or (for a
    source without one) the names its table holds. A name outside the declared list is an error
    naming a study that has it, never a silently dropped target."""
    cells = studies["findings"].fillna("").astype(str) if "findings" in studies else pd.Series([])
    present = sorted({n for cell in cells for n in cell.split("|") if n})
    declared = SOURCES[source].findings
    if declared is None:
        return tuple(present)
    unknown = sorted(set(present) - set(declared))
    if unknown:
        first = studies.loc[cells.str.contains(unknown[0], regex=False), "study_id"].iloc[0]
        raise ValueError(f"{source}: finding(s) {unknown} are not among its labels "
                         f"{list(declared)} (e.g. study {first})")
    return declared


def supervision_for(cfg: XrayConfig, vocabulary: tuple[str, ...], log: Log) -> XrayConfig:
    """`cfg`, with binary supervision when per-finding supervision was asked for but the labelled
    table names no finding (a generic CSV of 0/1 labels): every trial would otherwise fail in its
    first step. Said in the log; the run's config.json then records what ran."""
    if cfg.supervision != "multilabel" or vocabulary:
        return cfg
    log("WARNING: the labelled studies name no findings (no findings column), so per-finding "
        "supervision has nothing to predict: training on the abnormal label alone "
        "(supervision=binary). Add a findings column ('|'-separated names) to train per finding.")
    return replace(cfg, supervision="binary")


@register_source(needs_data_root=False, findings=NIH_FINDINGS)
def generated(cfg: XrayConfig, log: Log) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Synthesised radiographs in the NIH layout, cached by their parameters under data/generated/."""
    from triage_ray.data.nih import load_nih

    root = generated_root(cfg, "labelled", cfg.n_studies, None, cfg.seed)
    gen = generate_tree(root, cfg.n_studies, None, cfg.seed, cfg, log)
    studies = add_nih_demographics(load_nih(root), root)
    truth = ground_truth(root)
    studies["true_abnormal"] = studies["study_id"].map(truth).to_numpy()
    return studies, {"root": str(root), "bayes_ceiling_auroc": gen.bayes_ceiling_auroc}


@register_source(findings=NIH_FINDINGS)
def nih(cfg: XrayConfig, log: Log) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A local NIH ChestX-ray14 copy at data_root (Data_Entry_2017*.csv, images/ or images_0XX/)."""
    from triage_ray.data.nih import load_nih

    root = Path(cfg.data_root)
    return add_nih_demographics(load_nih(root), root), {"root": cfg.data_root}


@register_source(findings=(*CHEXPERT_PATHOLOGIES, CHEXPERT_SUPPORT_DEVICES))
def chexpert(cfg: XrayConfig, log: Log) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A local CheXpert copy at data_root (train.csv / valid.csv and the image folders)."""
    from triage_ray.data.chexpert import load_chexpert

    return load_chexpert(Path(cfg.data_root), uncertain=cfg.uncertain_labels), {
        "root": cfg.data_root, "uncertain_labels": cfg.uncertain_labels}


@register_source(findings=(*CHEXPERT_PATHOLOGIES, CHEXPERT_SUPPORT_DEVICES))
def mimic(cfg: XrayConfig, log: Log) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A local MIMIC-CXR-JPG copy at data_root (mimic-cxr-2.0.0-*.csv[.gz], files/; MIMIC-IV's
    patients.csv for age)."""
    from triage_ray.data.mimic import PATIENTS, find_table, load_mimic

    studies = load_mimic(Path(cfg.data_root), labeler=cfg.mimic_labeler,
                         uncertain=cfg.uncertain_labels)
    if "age" not in studies:
        log(f"WARNING: no {PATIENTS}[.gz] (MIMIC-IV) in {cfg.data_root}: MIMIC-CXR states no age, "
            "so no study is a verified adult. Copy MIMIC-IV's hosp/patients.csv.gz there, or set "
            "intended_use.site_declares_adults=true.")
    return studies, {"root": cfg.data_root, "labeler": cfg.mimic_labeler,
                     "uncertain_labels": cfg.uncertain_labels,
                     "patients_file": str(find_table(Path(cfg.data_root), PATIENTS) or "")}


@register_source()
def generic(cfg: XrayConfig, log: Log) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Any CSV of image paths, patients and 0/1 labels (labels_csv) over an image folder (data_root)."""
    from triage_ray.data.generic import load_generic

    csv = Path(cfg.labels_csv) if cfg.labels_csv else Path(cfg.data_root) / "labels.csv"
    if not csv.is_file():
        raise FileNotFoundError(f"generic source: label file {csv} not found (set labels_csv)")
    header = set(pd.read_csv(csv, nrows=0).columns)
    optional = {kw: col for kw, col in (("study_col", "study_id"), ("view_col", "view"),
                                        ("findings_col", "findings"), ("age_col", "age"),
                                        ("sex_col", "sex")) if col in header}
    studies = load_generic(csv, cfg.data_root, **optional)
    return studies, {"root": cfg.data_root, "labels_csv": str(csv)}


PUBLISHED_INPUT_PX = 224  # CheXNet, torchxrayvision's DenseNet-121 and ResNet-50 train at 224 px


def _compute(cfg: XrayConfig) -> str:
    """Where and how the run computes, e.g. "profile gpu: 1 Train worker per GPU of a node, bf16,
    channels-last"."""
    workers = ("1 Train worker per GPU of a node" if cfg.num_workers == 0
               else f"{cfg.num_workers} Train worker{'s' if cfg.num_workers != 1 else ''}")
    where = f"{workers} on {'GPUs' if cfg.use_gpu else 'CPUs'}, {cfg.precision}"
    where += ", channels-last" if cfg.channels_last else ""
    return f"profile {cfg.profile}: {where}" if cfg.profile else where


def startup_notes(cfg: XrayConfig) -> list[str]:
    """What the run will do with its inputs, said before Ray starts: a real source's effective
    choices (input size, initialisation, pile, reference), with a warning naming the flag for
    each default that quietly keeps a generated or toy piece."""
    sizes = "/".join(str(px) for px in cfg.input_sizes())
    pile = (f"{cfg.pile_source} export at {cfg.pile_root}" if cfg.pile_root
            else f"GENERATED ({cfg.pile_size:,} studies from triage-ray's generator)")
    lines = [f"source {cfg.source}" + (f" at {cfg.data_root}" if cfg.data_root else "")
             + f"; input size {sizes} px; init {', '.join(cfg.init_choices())}; pile {pile}; "
             f"reference {cfg.reference_source}; {_compute(cfg)}"]
    if cfg.source == "generated":
        if cfg.pile_root:
            lines.append("WARNING: the model trains on GENERATED images but triages the files at "
                         f"{cfg.pile_root} (a real pile unless every file is marked as made by "
                         "triage-ray's generator; decided when they are read): the run tests the "
                         "pipeline on your files, and no decision about "
                         "patients follows from it. Pass --source (nih, chexpert, mimic, generic) "
                         "and --data-root to train on your labelled studies.")
        return lines
    if not cfg.pile_root:
        lines.append("WARNING: a real source with a GENERATED pile: the worklist, throughput and "
                     "waits will describe generated studies, not your backlog. Pass --pile-root "
                     "DIR (and --pile-source dicom for a PACS export) to triage your own pile.")
    if max(cfg.input_sizes()) < PUBLISHED_INPUT_PX:
        lines.append(f"WARNING: training at {sizes} px, the laptop default; published chest X-ray "
                     f"classifiers train at {PUBLISHED_INPUT_PX} px or more. Pass --profile gpu "
                     f"(DenseNet-121 at {PUBLISHED_INPUT_PX} px, mixed precision, on GPUs) or "
                     f"--set image_size={PUBLISHED_INPUT_PX} (slower; a GPU helps).")
    if cfg.init_choices() == ["scratch"]:
        lines.append("WARNING: training from scratch (no weights are reachable offline, and "
                     "pretraining on generated images suits generated data only). Pass --set "
                     "pretrained=true weights_file='\"/path/weights.pt\"' (timm or "
                     "torchxrayvision) to start from pretrained weights.")
    if cfg.reference_source == "written":
        lines.append("WARNING: no reference standard: the miss-rate bound is certified against the "
                     "source's own written labels. Pass --set reference='\"csv\"' "
                     "reference_labels='\"/path/reads.csv\"' to certify against reference reads.")
    return lines


def generated_root(cfg: XrayConfig, kind: str, n: int, prevalence: float | None, seed: int) -> Path:
    """Generated trees are cached by their parameters under data/generated/ (reused by reruns)."""
    tag = f"{kind}-n{n}-px{cfg.source_image_size}-d{cfg.difficulty}-p{prevalence}-s{seed}"
    return data_dir("generated") / tag


def generate_tree(root: Path, n: int, prevalence: float | None, seed: int, cfg: XrayConfig, log: Log):
    from triage_ray.data.synth import generate_nih_tree

    t0 = time.time()
    log(f"generating {n} radiographs ({cfg.source_image_size}px) -> {root}")
    gen = generate_nih_tree(root, n, image_size=cfg.source_image_size, seed=seed,
                            prevalence=prevalence,
                            difficulty=cfg.difficulty)
    log(f"  generated in {time.time() - t0:.0f}s")
    return gen


def ground_truth(root: Path) -> pd.Series:
    """study_id -> true abnormal (the generator's ground truth, not the noisy NIH-style label)."""
    gt = pd.read_csv(root / "ground_truth.csv")
    ids = gt["Image Index"].astype(str).str.removesuffix(".png")  # study_id as load_nih builds it
    return pd.Series(gt["true_abnormal"].astype(bool).to_numpy(), index=ids)


def _nih_pile(root: Path, log: Log) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """An NIH-layout folder without labels (Data_Entry CSV + PNGs)."""
    from triage_ray.data.nih import load_nih

    return add_nih_demographics(load_nih(root, labels=False), root), []


def _dicom_pile(root: Path, log: Log) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """A PACS export: a folder tree of DICOM files (`data.dicom`); non-studies are named skips."""
    from triage_ray.data.dicom import load_dicom_tree

    t0 = time.time()
    studies, skipped = load_dicom_tree(root)
    log(f"DICOM pile: {len(studies):,} images read from {root} in {time.time() - t0:.1f}s, "
        f"{len(skipped)} file(s) skipped" + (f", e.g. {skipped[0][0]}: {skipped[0][1]}" if skipped
                                            else ""))
    return studies, skipped


# pile_root's layouts (XrayConfig.pile_source): root -> (study table, files skipped before ingest)
PILE_SOURCES: dict[str, Callable[[Path, Log], tuple[pd.DataFrame, list[tuple[str, str]]]]] = {
    "nih": _nih_pile, "dicom": _dicom_pile,
}


def load_pile(cfg: XrayConfig, log: Log) -> tuple[pd.DataFrame, pd.Series | None, dict[str, Any]]:
    """The unlabeled pile (labels dropped) and, for a generated pile only, its hidden truth.
    info["skipped"]: files the pile's layout names but that are no study (counted in, never dropped)."""
    from triage_ray.data.nih import load_nih

    if cfg.pile_root:
        root = Path(cfg.pile_root)
        pile, skipped = PILE_SOURCES[cfg.pile_source](root, log)
        # a folder of files triage-ray's own writer made (each says so in its tags) is generated
        marked = bool(len(pile)) and bool(pile.get("generated", pd.Series(False)).all())
        if marked:
            log(f"pile: every file in {root} is marked as made by triage-ray's generator: the pile "
                "is GENERATED data")
        return pile, None, {"root": str(root), "generated": marked, "layout": cfg.pile_source,
                            "skipped": [{"path": p, "reason": r} for p, r in skipped]}
    root = generated_root(cfg, "pile", cfg.pile_size, cfg.pile_prevalence, cfg.seed + 1)
    gen = generate_tree(root, cfg.pile_size, cfg.pile_prevalence, cfg.seed + 1, cfg, log)
    studies = add_nih_demographics(load_nih(root, labels=False), root)
    truth = ground_truth(root)
    # the share the written labels call abnormal: what EM and BBSE estimate (both are fitted on
    # written labels), so that is the figure to check them against, not the generator's truth
    written = float(load_nih(root)["label"].mean())
    return studies, truth, {"root": str(root), "generated": True, "layout": "generated", "skipped": [],
                            "true_prevalence": float(truth.mean()),
                            "written_prevalence": written, "seed": gen.seed}
