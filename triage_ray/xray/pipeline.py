"""The X-ray study end to end: data -> shards -> Tune sweep -> best model -> pile -> report.

Each step is a library call with plain inputs and outputs; this module only wires them and writes
`reports/xray/<run-id>/` (config.json, metrics.json, worklist.parquet, summary.md, tune/).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from triage_ray.common.strict_json import write_strict_json
from triage_ray.xray.config import XrayConfig

GENERATED_NOTE = (
    "GENERATED DATA: every image in this run was synthesised by triage-ray's generator "
    "(metadata drawn from the real NIH ChestX-ray14 label table). No patient images were used; "
    "the figures describe the pipeline, not clinical performance."
)


def new_run_id(cfg: XrayConfig) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{'smoke' if cfg.smoke else 'full'}"


def _generated_root(cfg: XrayConfig, kind: str, n: int, prevalence: float | None, seed: int) -> Path:
    """Generated trees are cached by their parameters under data/generated/ (reused by reruns)."""
    tag = f"{kind}-n{n}-px{cfg.image_size}-d{cfg.difficulty}-p{prevalence}-s{seed}"
    return Path("data/generated").resolve() / tag


def prepare_labelled(cfg: XrayConfig, log) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The labelled study table with a patient-level `split` column."""
    from triage_ray.data.splits import patient_split

    info: dict[str, Any] = {"source": cfg.source}
    if cfg.source == "generated":
        from triage_ray.data.nih import load_nih

        root = _generated_root(cfg, "labelled", cfg.n_studies, None, cfg.seed)
        gen = _generate(root, cfg.n_studies, None, cfg.seed, cfg, log)
        studies = load_nih(root)
        info.update(root=str(root), bayes_ceiling_auroc=gen.bayes_ceiling_auroc)
    elif cfg.source == "nih":
        from triage_ray.data.nih import load_nih

        studies = load_nih(Path(cfg.data_root))
    else:
        from triage_ray.data.chexpert import load_chexpert

        studies = load_chexpert(Path(cfg.data_root))
    studies["split"] = patient_split(studies, cfg.splits, seed=cfg.seed).to_numpy()
    info["n_studies"] = len(studies)
    info["splits"] = studies["split"].value_counts().to_dict()
    info["abnormal_rate"] = float((studies["label"] == 1).mean())
    return studies, info


def _generate(root: Path, n: int, prevalence: float | None, seed: int, cfg: XrayConfig, log):
    from triage_ray.data.synth import generate_nih_tree

    t0 = time.time()
    log(f"generating {n} radiographs ({cfg.image_size}px) -> {root}")
    gen = generate_nih_tree(root, n, image_size=cfg.image_size, seed=seed, prevalence=prevalence,
                            difficulty=cfg.difficulty)
    log(f"  generated in {time.time() - t0:.0f}s")
    return gen


def prepare_pile(cfg: XrayConfig, log) -> tuple[pd.DataFrame, pd.Series | None, dict[str, Any]]:
    """The unlabeled pile (labels dropped) and, for a generated pile only, its hidden truth."""
    from triage_ray.data.nih import load_nih

    if cfg.pile_root:
        root = Path(cfg.pile_root)
        return load_nih(root, labels=False), None, {"root": str(root), "generated": False}
    root = _generated_root(cfg, "pile", cfg.pile_size, cfg.pile_prevalence, cfg.seed + 1)
    gen = _generate(root, cfg.pile_size, cfg.pile_prevalence, cfg.seed + 1, cfg, log)
    studies = load_nih(root, labels=False)
    truth = _pile_truth(root)
    return studies, truth, {"root": str(root), "generated": True,
                            "true_prevalence": float(truth.mean()), "seed": gen.seed}


def _pile_truth(root: Path) -> pd.Series:
    """study_id -> true abnormal (the generator's ground truth, not the noisy NIH-style label)."""
    gt = pd.read_csv(root / "ground_truth.csv")
    ids = gt["Image Index"].astype(str).str.removesuffix(".png")  # study_id as load_nih builds it
    return pd.Series(gt["true_abnormal"].astype(bool).to_numpy(), index=ids)


def run_xray(cfg: XrayConfig, *, resume_dir: Path | None = None, log=print) -> Path:
    """Run the whole study; returns the run directory."""
    from triage_ray.data.ingest import ingest_to_shards
    from triage_ray.data.stream import read_shards
    from triage_ray.report.build import write_reports
    from triage_ray.report.summary import write_summary
    from triage_ray.train.heldout import HeldOutLogits
    from triage_ray.xray.pile import score_pile
    from triage_ray.xray.predict import predict_logits
    from triage_ray.xray.score import score_heldout
    from triage_ray.xray.sweep import SELECTION_RULE, run_sweep, select_best, trial_table

    timings: dict[str, float] = {}
    t_start = time.time()
    run_dir = resume_dir or Path(cfg.reports_dir).resolve() / (cfg.run_id or new_run_id(cfg))
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg.save(run_dir / "config.json")
    log(f"run directory: {run_dir}")
    generated = cfg.source == "generated"
    if generated:
        log(GENERATED_NOTE)

    t = time.time()
    studies, data_info = prepare_labelled(cfg, log)
    shard_dir = run_dir / "shards" / "labelled"
    resuming = resume_dir is not None  # shards are re-written identically (deterministic inputs)
    data_info["ingest"] = ingest_to_shards(
        studies, shard_dir, image_size=cfg.image_size, overwrite=resuming
    ).to_dict()
    timings["data_s"] = time.time() - t
    log(f"labelled data: {data_info['n_studies']} studies, splits {data_info['splits']}")

    t = time.time()
    results = run_sweep(cfg, shard_dir, run_dir, resume=resuming)
    rows = trial_table(results)
    best = select_best(rows)
    timings["sweep_s"] = time.time() - t
    log(f"best trial: {best['backbone']} lr={best['lr']} throughput x{best['throughput_multiplier']:.2f}")

    held = HeldOutLogits.load(best["checkpoint_path"])
    scored = score_heldout(held, cfg, n_boot=1000)

    t = time.time()
    pile, truth, pile_info = prepare_pile(cfg, log)
    pile_shards = run_dir / "shards" / "pile"
    ingest = ingest_to_shards(pile, pile_shards, image_size=cfg.image_size, overwrite=resuming)
    logits = predict_logits(read_shards(pile_shards), best["checkpoint_path"],
                            torch_threads=cfg.torch_threads)
    pile_result = score_pile(pile, logits, scored, held, cfg, run_dir, truth=truth,
                             skipped=ingest.skipped)
    timings["pile_s"] = time.time() - t
    timings["total_s"] = time.time() - t_start

    metrics = {
        "run_id": run_dir.name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "generated_data": generated,
        "data_note": GENERATED_NOTE if generated else f"data source: {cfg.source}",
        "data": data_info,
        "sweep": {"experiment_dir": "tune", "metric": "throughput_multiplier", "mode": "max",
                  "selection_rule": SELECTION_RULE, "n_trials": len(rows), "trials": rows},
        "best": {k: best[k] for k in ("trial_id", "backbone", "lr", "checkpoint_path")},
        "calibration": scored.calibration,
        "abstention": scored.abstention,
        "simulation": scored.simulation,
        "pile": {**pile_info, "ingest": ingest.to_dict(), **pile_result.summary},
        "timings": timings,
        "config": "config.json",
    }
    write_strict_json(run_dir / "metrics.json", metrics)
    write_summary(metrics, run_dir / "summary.md")
    written = write_reports(run_dir)  # memo (PDF + Markdown), model card, Tune dashboard
    log(f"results: {run_dir} (metrics.json, worklist.parquet, summary.md, tune/)")
    log("reports: " + ", ".join(str(Path(p).relative_to(run_dir)) for p in written.values()))
    return run_dir
