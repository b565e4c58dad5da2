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

from triage_ray.gate import IntendedUse
from triage_ray.xray.config import XrayConfig
from triage_ray.xray.gate import check_labelled_scope, fit_gate
from triage_ray.xray.provenance import provenance_of
from triage_ray.xray.sources import SOURCES, Log, finding_vocabulary, supervision_for


def new_run_id(cfg: XrayConfig) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{'smoke' if cfg.smoke else 'full'}"


def prepare_labelled(cfg: XrayConfig, log: Log) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The labelled study table from the configured source, with a patient-level `split` column,
    and how representative each split is of the pool (`triage_ray.data.representativeness`)."""
    from triage_ray.data.representativeness import split_representativeness
    from triage_ray.data.splits import patient_split

    studies, info = SOURCES[cfg.source].load(cfg, log)
    studies["split"] = patient_split(studies, cfg.splits, seed=cfg.seed).to_numpy()
    balance = split_representativeness(studies, seed=cfg.seed)
    if not balance["passed"]:
        log("WARNING: splits differ from the pooled data beyond sampling error: "
            + "; ".join(f"{f['split']} {f['covariate']} SMD {f['smd']:+.2f}" for f in balance["flagged"]))
    info = {"source": cfg.source, **info, "n_studies": len(studies),
            "splits": studies["split"].value_counts().to_dict(),
            "abnormal_rate": float((studies["label"] == 1).mean()),
            "representativeness": balance}
    return studies, info


def labelled_shard_dirs(cfg: XrayConfig, run_dir: Path) -> dict[int, Path]:
    """Input size -> where the labelled shards at that size live (image_size's: shards/labelled)."""
    return {px: run_dir / "shards" / ("labelled" if px == cfg.image_size else f"labelled-{px}px")
            for px in cfg.input_sizes()}


def check_resumed_splits(studies: pd.DataFrame, shard_dir: Path) -> None:
    """A resumed run must split the data as the run it resumes did: its finished trials were
    trained and scored on those splits. Compares with the shards the first run wrote."""
    import pyarrow.parquet as pq

    from triage_ray.data.stream import shard_files

    if not shard_dir.is_dir() or not list(shard_dir.glob("*.parquet")):
        return
    table = pd.concat([pq.read_table(f, columns=["study_id", "split"]).to_pandas()
                       for f in shard_files(shard_dir)])
    before = table.set_index("study_id")["split"]
    now = studies.set_index(studies["study_id"].astype(str))["split"].reindex(before.index)
    moved = int((now != before).sum())
    if moved or len(before) != len(studies):
        raise RuntimeError(f"resume: {moved} of {len(before)} studies would change split (and "
                           f"{len(studies)} studies now vs {len(before)} then); the run's finished "
                           "trials used the old splits, so it cannot be resumed consistently")


def pretrain_summary(pretrain: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """What metrics.json keeps of the pretrain stage: per backbone its weights, whether this run
    made them, their corpus, method, cost and final validation AUROC (from their card)."""
    if not pretrain:
        return None
    out = {}
    for backbone, entry in pretrain.items():
        card = entry["card"]
        last = (card.get("history") or [{}])[-1]
        out[backbone] = {"weights": entry["weights"], "made_by_this_run": not entry["cached"],
                         "method": card["method"], "corpus": card["corpus"],
                         "seconds": card["seconds"], "final_val_auroc": last.get("val_auroc"),
                         "epochs": card["params"]["epochs"]}
    return out


def run_uncertainty(cfg: XrayConfig, scored: Any, pile_result: Any, truth: pd.Series | None,
                    rows: list[Any], best: dict[str, Any], log: Log) -> dict[str, Any]:
    """Study-bootstrap intervals of the pile's and test split's figures (`xray.uncertainty`) and
    of every configuration's AUROC, with the paired comparison against the chosen one."""
    from triage_ray.xray.uncertainty import PileSample, study_bootstrap, trial_intervals

    wl = pile_result.worklist.sort_values("arrival_index")
    summary = pile_result.summary
    pile = PileSample(wl["p_calibrated"].to_numpy(), wl["p_adjusted"].to_numpy(),
                      None if truth is None else wl["study_id"].map(truth).to_numpy().astype(bool),
                      in_scope=(wl["gate_reason"] == "").to_numpy() if "gate_reason" in wl else None)
    pol = summary.policy
    points = {
        "pile": {k: v["mean"] for k, v in summary.simulation.to_dict()["metrics"].items()},
        "test": {k: v["mean"] for k, v in scored.simulation_dict()["metrics"].items()},
        "thresholds": {"t_low": pol["t_low"] if pol["feasible"] else None, "t_high": pol["t_high"]},
        "shares": {k: v / max(1, summary.n_scored) for k, v in summary.bucket_counts.items()},
    }
    cert = scored.certification
    out = study_bootstrap(cfg, cert["select"], cert["test"], pile,
                          tuple(summary.prevalence["deploy_prior_interval"]), points=points,
                          n_boot=cfg.uncertainty_boot, seed=cfg.seed, log=log)
    out["configurations"] = trial_intervals([r.to_dict() for r in rows], best["trial_id"],
                                            n_boot=cfg.uncertainty_boot, seed=cfg.seed)
    return out


def run_xray(cfg: XrayConfig, *, resume_dir: Path | None = None, log: Log = print) -> Path:
    """Run the whole study; returns the run directory."""
    from triage_ray.data.ingest import ingest_to_shards
    from triage_ray.report.build import write_reports
    from triage_ray.report.summary import write_summary
    from triage_ray.xray.brief import answer_brief
    from triage_ray.xray.budget import run_plan, workload
    from triage_ray.xray.deployment import (
        Deployment,
        deployable_studies,
        fitted,
        model_record,
        save_deployment,
        triage_pile,
    )
    from triage_ray.xray.learning_curve import run_learning_curve
    from triage_ray.xray.operating import point_config, run_operating_stage
    from triage_ray.xray.pretrain import pretrain_backbones
    from triage_ray.xray.reference import WRITTEN, build_reference
    from triage_ray.xray.results import assemble_metrics, write_metrics
    from triage_ray.xray.score import staffing_of
    from triage_ray.xray.select import SELECTION_RULE, select_best
    from triage_ray.xray.standards import run_standards, written_reads
    from triage_ray.xray.subgroups import run_subgroups
    from triage_ray.xray.sweep import METRIC, TUNE_DIR_NAME, run_sweep, trial_rows
    from triage_ray.xray.truth import run_model_vs_truth

    timings: dict[str, float] = {}
    t_start = time.time()
    run_dir = resume_dir or Path(cfg.reports_dir).resolve() / (cfg.run_id or new_run_id(cfg))
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg.save(run_dir / "config.json")
    log(f"run directory: {run_dir}")
    log(provenance_of(cfg, cfg.reference_source).opening(pile_read=False))

    t = time.time()
    studies, data_info = prepare_labelled(cfg, log)
    check_labelled_scope(IntendedUse.from_dict(cfg.intended_use), studies, cfg.image_size)
    resuming = resume_dir is not None  # shards are re-written identically (deterministic inputs)
    shard_dirs = labelled_shard_dirs(cfg, run_dir)
    if resuming:
        check_resumed_splits(studies, shard_dirs[cfg.image_size])
    for px, d in shard_dirs.items():  # one shard set per searched input size
        report = ingest_to_shards(studies, d, image_size=px, overwrite=resuming).to_dict()
        if px == cfg.image_size:
            data_info["ingest"] = report
        else:
            data_info.setdefault("ingest_other_sizes", {})[px] = report
    timings["data_s"] = time.time() - t
    log(f"labelled data: {data_info['n_studies']} studies, splits {data_info['splits']}")
    reference = build_reference(cfg, studies)
    ref_info = reference.to_dict(staffing_of(cfg).reads_per_day, cfg.alpha, cfg.delta)
    arith = ref_info["arithmetic"]
    if arith["too_small"]:
        log(f"WARNING: {arith['n_select']} adjudicated selection studies cannot certify "
            f"{cfg.alpha:.1%} at all (at least {arith['min_auto_normal']['no_abnormal']} auto-normal "
            "studies are needed); nothing will be auto-cleared")
    log(f"reference standard: {reference.label_source}; {ref_info['report'].get('adjudicated')} "
        f"adjudicated studies, {ref_info['cost']['reads']:,.0f} reads "
        f"({ref_info['cost']['reading_days']:.1f} reading days of the pool)")
    ref_labels = None if reference.source == "written" else reference.labels

    vocabulary = finding_vocabulary(cfg.source, studies)
    resolved = supervision_for(cfg, tuple(vocabulary), log)
    if resolved is not cfg:  # config.json holds the resolved values: what ran
        cfg = resolved
        cfg.save(run_dir / "config.json")
    t = time.time()
    plan = run_plan(cfg, shard_dirs, workload(cfg, studies), tuple(vocabulary), run_dir,
                    t - t_start, log)
    timings["plan_s"] = time.time() - t
    train_cfg = plan.apply(cfg)  # the trials and epochs that fit the time budget

    t = time.time()
    pretrain = pretrain_backbones(train_cfg, log)  # {} unless an init is "pretrain"; cached
    weights = {b: e["weights"] for b, e in pretrain.items()}
    timings["pretrain_s"] = time.time() - t

    t = time.time()
    rows = trial_rows(run_sweep(train_cfg, shard_dirs, run_dir, resume=resuming,
                                vocabulary=vocabulary, reference=ref_labels,
                                label_source=reference.label_source, pretrained=weights))
    best = select_best([r.to_dict() for r in rows])
    best_px = int(best.get("image_size") or cfg.image_size)  # the pile is ingested at its size
    timings["sweep_s"] = time.time() - t
    log(f"best trial: {best['backbone']} lr={best['lr']} throughput x{best[METRIC]:.2f}")

    held, scored = fitted(cfg, Path(best["checkpoint_path"]), ref_labels, reference.label_source)
    t = time.time()
    standards = run_standards(scored.certification["select"], scored.certification["test"],
                              written_reads(held), delta=cfg.delta, clinical_source=WRITTEN)
    timings["standards_s"] = time.time() - t
    subgroups = run_subgroups(studies, held, scored, seed=cfg.seed)
    if subgroups["flagged"]:
        log("WARNING: AUROC below the overall figure in " + ", ".join(subgroups["flagged"]))

    t = time.time()
    operating = run_operating_stage(cfg, scored.certification["select"],
                                    scored.certification["test"], run_dir, resume=resuming, log=log)
    timings["operating_s"] = time.time() - t
    # the pile is triaged at the recommended operating point (the configured one if none qualifies)
    deploy = point_config(cfg, operating.recommended) if operating.recommended else cfg

    t = time.time()
    gate = fit_gate(IntendedUse.from_dict(cfg.intended_use), studies, shard_dirs[best_px],
                    best["checkpoint_path"], run_dir, input_px=best_px, seed=cfg.seed,
                    generated=cfg.source == "generated", log=log)
    timings["gate_fit_s"] = time.time() - t

    dep = Deployment(cfg, deploy, Path(best["checkpoint_path"]), best_px, held, scored, ref_labels,
                     reference.label_source, deployable_studies(studies), gate,
                     operating.recommended, model_record(best, run_dir))
    save_deployment(run_dir, dep)  # what scoring a new pile with this model needs (xray.rescore)

    t = time.time()
    triaged = triage_pile(dep, cfg, run_dir, resuming=resuming, log=log)
    pile_result, truth, pile_info, logits, prov = (triaged.result, triaged.truth, triaged.info,
                                                  triaged.logits, triaged.provenance)
    timings["pile_s"] = time.time() - t
    vs_truth = (run_model_vs_truth(studies, held, ref_labels, logits, truth)
                if "true_abnormal" in studies else None)
    if vs_truth:
        log(f"model vs the generator's truth: test AUROC "
            f"{vs_truth['test']['auroc_truth']['value']:.3f} (written labels "
            f"{vs_truth['test']['auroc_written']['value']:.3f})")
    t = time.time()
    uncertainty = run_uncertainty(deploy, scored, pile_result, truth, rows, best, log)
    timings["uncertainty_s"] = time.time() - t
    t = time.time()
    curve = run_learning_curve(train_cfg, shard_dirs[best_px], run_dir, best=best, studies=studies,
                               vocabulary=vocabulary, pretrained=weights, log=log)
    timings["learning_curve_s"] = time.time() - t
    t = time.time()
    brief = answer_brief(cfg, deploy, scored.certification["select"], reference, pile_result.summary)
    timings["brief_s"] = time.time() - t
    log(brief["answer"])
    timings["total_s"] = time.time() - t_start

    metrics = assemble_metrics(
        run_id=run_dir.name, generated=prov.any_generated, data_note=prov.banner(),
        provenance=prov.to_dict(),
        data=data_info, rows=rows, selection_rule=SELECTION_RULE, metric=METRIC, best=best,
        scored=scored, pile_info=pile_info,
        pile_summary=pile_result.summary, reference=ref_info, operating=operating.to_dict(),
        brief=brief, timings=timings, experiment_dir=TUNE_DIR_NAME, model_vs_truth=vs_truth,
        pretrain=pretrain_summary(pretrain), learning_curve=curve, subgroups=subgroups,
        uncertainty=uncertainty, budget={**plan.to_dict(), "actual_s": timings["total_s"]},
        standards=standards,
    )
    write_metrics(run_dir, metrics)
    write_summary(metrics.to_dict(), run_dir / "summary.md")
    written = write_reports(run_dir)  # memo (PDF + Markdown), model card, Tune dashboard
    log(f"results: {run_dir} (metrics.json, worklist.parquet, summary.md, tune/)")
    log("reports: " + ", ".join(str(Path(p).relative_to(run_dir)) for p in written.values()))
    return run_dir
