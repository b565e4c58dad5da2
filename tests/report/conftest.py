"""Run directories for the report tests, produced by the real scoring code on synthetic logits.

Training is the only stage skipped: logits are drawn per class (abnormal studies score higher,
deliberately over-confident so temperature scaling has work to do). Everything after that is the
pipeline's own code: `score_heldout` (temperature, abstention bound, SimPy judge), `score_pile`
(prevalence estimate, re-chosen thresholds, worklist Parquet, SimPy on the pile), and
`assemble_metrics` / `write_metrics`, the functions `run_xray` writes metrics.json with.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from triage_ray.xray.config import XrayConfig

SPLIT_SIZES = {"calib": 400, "select": 1500, "test": 800}
PILE_SIZE = 1500


def _logits(rng: np.random.Generator, y: np.ndarray, separation: float) -> np.ndarray:
    # (n,) over-confident logits: class means +-separation, unit noise, then x1.8
    return 1.8 * (separation * (2 * y - 1) + rng.normal(0.0, 1.0, y.size))


def _cfg(generated: bool, tmp: Path) -> XrayConfig:
    over = dict(pile_size=PILE_SIZE, sim_reps=3, alpha=0.02, seed=3, reports_dir=str(tmp),
                op_alphas=[0.02, 0.05])
    if not generated:
        over.update(source="nih", data_root=str(tmp / "nih"))
    return XrayConfig.smoke_config(**over)


def build_run(run_dir: Path, *, generated: bool = True, pile_truth: bool = True,
              separation: float = 2.2, seed: int = 3, refuse_all: bool = False) -> Path:
    """Write config.json, metrics.json and worklist.parquet into `run_dir`; returns it."""
    from triage_ray.common.stats import sigmoid
    from triage_ray.data.representativeness import split_representativeness
    from triage_ray.train.heldout import HeldOutLogits
    from triage_ray.xray.brief import answer_brief
    from triage_ray.xray.operating import point_config
    from triage_ray.xray.pile import score_pile
    from triage_ray.xray.pipeline import run_uncertainty
    from triage_ray.xray.provenance import Provenance
    from triage_ray.xray.results import TrialRow, assemble_metrics, write_metrics
    from triage_ray.xray.score import score_heldout
    from triage_ray.xray.select import SELECTION_RULE, select_best
    from triage_ray.xray.standards import run_standards, written_reads
    from triage_ray.xray.subgroups import run_subgroups
    from triage_ray.xray.truth import model_vs_truth

    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = _cfg(generated, run_dir.parent)
    cfg.save(run_dir / "config.json")
    rng = np.random.default_rng(seed)
    ys = {s: (rng.random(n) < 0.45).astype(np.int64) for s, n in SPLIT_SIZES.items()}
    held = HeldOutLogits(
        study_id={s: np.array([f"{s}{i}" for i in range(n)]) for s, n in SPLIT_SIZES.items()},
        label=ys, logit={s: _logits(rng, y, separation) for s, y in ys.items()},
    )
    reference = _reference(held, rng)
    rows, scored_by_id = [], {}
    for i, sep in enumerate((separation, separation * 0.6)):  # a good and a weaker configuration
        h = held if i == 0 else HeldOutLogits(
            held.study_id, held.label, {s: _logits(rng, y, sep) for s, y in ys.items()})
        sc = score_heldout(h, cfg, n_boot=200, reference=reference.labels,
                           label_source=reference.label_source)
        ckpt = run_dir / "ckpt" / f"t{i}"  # the held-out logits, as a trial's checkpoint has them
        ckpt.mkdir(parents=True, exist_ok=True)
        np.savez(ckpt / "heldout.npz", **{f"{s}_{k}": getattr(h, attr)[s] for s in SPLIT_SIZES
                                          for k, attr in (("study_id", "study_id"),
                                                          ("label", "label"), ("logit", "logit"))})
        rows.append(TrialRow(trial_id=f"t{i}", backbone=cfg.backbones[i], lr=cfg.lrs[i],
                             augment=0.25, init="scratch", status="done", error=None,
                             epochs_run=cfg.epochs, val_auroc=0.8 - 0.1 * i, train_seconds=10.0 + i,
                             checkpoint_path=str(ckpt), metrics=sc.trial_metrics(),
                             image_size=cfg.image_size))
        scored_by_id[f"t{i}"] = (sc, h)
    best = select_best([r.to_dict() for r in rows])
    scored, held = scored_by_id[best["trial_id"]]
    y_pile = (rng.random(PILE_SIZE) < 0.40).astype(np.int64)
    ids = [f"pile{i}" for i in range(PILE_SIZE)]
    studies = pd.DataFrame({"study_id": ids, "patient_id": [f"p{i // 2}" for i in range(PILE_SIZE)],
                            "view": np.where(rng.random(PILE_SIZE) < 0.6, "PA", "AP")})
    logits = pd.DataFrame({"study_id": ids, "logit": _logits(rng, y_pile, separation)})
    truth = pd.Series(y_pile.astype(bool), index=ids) if pile_truth else None
    skipped = [("/data/pile/broken.png", "cannot decode image")]
    studies_in = pd.concat([studies, pd.DataFrame({"study_id": ["broken"], "patient_id": ["px"],
                                                   "view": ["PA"]})], ignore_index=True)
    labelled = _labelled_table(held, rng)
    prov = Provenance.of(source=cfg.source, data_root=cfg.data_root, reference_source="csv",
                         label_source=reference.label_source,
                         pile_root=None if generated else "/data/pile", pile_layout="nih")
    operating = _operating(cfg, scored, run_dir, (seed, separation))
    deploy = point_config(cfg, operating.recommended) if operating.recommended else cfg
    pile = score_pile(studies_in, logits, scored, held, deploy, run_dir, truth=truth,
                      skipped=skipped, labelled=labelled, gate=_gate(ids, rng, refuse_all),
                      provenance=prov.to_dict())
    brief = answer_brief(cfg, deploy, scored.certification["select"], reference, pile.summary)
    uncertainty = run_uncertainty(deploy, scored, pile, truth, rows, best, lambda *_: None)
    pile_info = {"root": "/data/pile", "generated": generated, "ingest": {},
                 **({"true_prevalence": float(y_pile.mean()),
                     "written_prevalence": float(y_pile.mean())} if pile_truth else {})}
    data = {"source": cfg.source, "n_studies": len(labelled),
            "splits": labelled["split"].value_counts().to_dict(),
            "abnormal_rate": float(labelled["label"].mean()),
            "representativeness": split_representativeness(labelled, seed=seed)}
    metrics = assemble_metrics(
        run_id=run_dir.name, created="2026-01-01T00:00:00+00:00", generated=prov.any_generated,
        data_note=prov.banner(), provenance=prov.to_dict(), data=data,
        rows=rows, selection_rule=SELECTION_RULE, metric="throughput_multiplier", best=best,
        scored=scored, pile_info={**pile_info, "operating_point": operating.recommended},
        pile_summary=pile.summary, reference=reference.to_dict(1080.0, cfg.alpha, cfg.delta),
        operating=operating.to_dict(), brief=brief, timings={"total_s": 123.0},
        model_vs_truth=(model_vs_truth(
            sigmoid(held.logit["test"]), {"truth": held.label["test"].astype(int),
                                          "written": held.label["test"].astype(int)},
            np.arange(len(held.logit["test"])), sigmoid(logits["logit"].to_numpy()),
            y_pile if pile_truth else None) if generated else None),
        subgroups=run_subgroups(labelled, held, scored, n_boot=100, seed=seed),
        uncertainty=uncertainty,
        standards=run_standards(scored.certification["select"], scored.certification["test"],
                                written_reads(held), delta=cfg.delta,
                                clinical_source="written labels"))
    write_metrics(run_dir, metrics)
    return run_dir


_OPERATING: dict[tuple[int, float], object] = {}


def _operating(cfg: XrayConfig, scored, run_dir: Path, key: tuple[int, float]):
    """The operating-point stage (a real Tune sweep), run once per (seed, separation): the
    generated and the real-source runs score the same held-out logits under the same settings,
    so the second reuses the first's result instead of paying Tune's start-up again."""
    from triage_ray.xray.operating import run_operating_stage

    if key not in _OPERATING:
        _OPERATING[key] = run_operating_stage(cfg, scored.certification["select"],
                                              scored.certification["test"], run_dir,
                                              log=lambda *_: None)
    return _OPERATING[key]


def _gate(ids: list[str], rng: np.random.Generator, refuse_all: bool = False):
    """The gate's output for the synthetic pile: a few children and laterals refused (with
    `refuse_all`, an export that states no age: every study refused, a few for a lateral too)."""
    from triage_ray.gate import IntendedUse
    from triage_ray.xray.gate import gate_report

    u = rng.random(len(ids))
    reasons = [["age 9 (under 18)"] if x < 0.03 else ["view LATERAL (validated: PA, AP)"]
               if x < 0.04 else [] for x in u]
    if refuse_all:
        reasons = [[*r[1:], "age not stated"] if r else ["age not stated"] for r in reasons]
    check = {"false_flag_test": {"flagged": 9, "n": 1000, "rate": 0.009, "ci_low": 0.004,
                                 "ci_high": 0.017, "target": 0.01},
             "probes": {"blank": {"family": "broken image", "n": 50, "caught": 50, "rate": 1.0,
                                  "ci_low": 0.93, "ci_high": 1.0},
                        "site LUT: gamma 0.6": {"family": "realistic shift", "n": 50, "caught": 41,
                                                "rate": 0.82, "ci_low": 0.69, "ci_high": 0.91},
                        "children aged 2-8 (generated)": {
                            "family": "realistic shift", "n": 50, "caught": 6, "rate": 0.12,
                            "ci_low": 0.05, "ci_high": 0.24}},
             "not_tested": ["lateral views (no probe in this fixture)"],
             "detector": {"feature_check": "stages"},
             "compared": {m: {"false_flag_test": {"flagged": f, "n": 1000, "rate": f / 1000},
                              "feature_check_alone": {
                                  "blank": {"caught": 0, "n": 50, "rate": 0.0},
                                  "site LUT: gamma 0.6": {"caught": c, "n": 50, "rate": c / 50},
                                  "children aged 2-8 (generated)": {"caught": 6, "n": 50,
                                                                    "rate": 0.12}}}
                          for m, f, c in (("stages", 9, 41), ("pooled", 10, 1))}}
    return gate_report(IntendedUse(), 64, np.asarray(ids), reasons,
                       {"modality": "implied by the nih layout (no modality tag)"}, check)


def _reference(held, rng: np.random.Generator):
    """A reference panel over select and test that reads 1 in 1,000 studies otherwise than the
    written label (the synthetic written labels here are noise-free)."""
    from triage_ray.xray.reference import ReferenceStandard

    ids = np.concatenate([held.study_id[s] for s in ("select", "test")])
    y = np.concatenate([held.label[s] for s in ("select", "test")])
    flip = rng.random(y.size) < 0.001
    labels = pd.Series(np.where(flip, 1 - y, y).astype(np.int8), index=ids)
    return ReferenceStandard("csv", labels, "test reference panel (majority of 3)", None, 3.0,
                             {"adjudicated": {"select": SPLIT_SIZES["select"],
                                              "test": SPLIT_SIZES["test"]}})


def _labelled_table(held, rng: np.random.Generator) -> pd.DataFrame:
    """The labelled study table the held-out logits came from (two studies per patient)."""
    rows = pd.concat([pd.DataFrame({"study_id": held.study_id[s], "label": held.label[s],
                                    "split": s}) for s in held.study_id], ignore_index=True)
    n = len(rows)
    return rows.assign(patient_id=[f"{s}-{i // 2}" for s, i in zip(rows["split"], rows.index,
                                                                      strict=True)],
                       view=np.where(rng.random(n) < 0.6, "PA", "AP"),
                       age=rng.integers(18, 90, n).astype(float),
                       sex=np.where(rng.random(n) < 0.45, "F", "M"))


@pytest.fixture(scope="package")
def generated_run(ray_local, tmp_path_factory) -> Path:
    """A run on generated data whose pile truth is known (the smoke-run situation)."""
    return build_run(tmp_path_factory.mktemp("runs") / "gen-run")


@pytest.fixture(scope="package")
def real_data_run(ray_local, tmp_path_factory) -> Path:
    """A run on a (nominally) real source with an unlabeled pile: truth-based pile metrics n/a."""
    return build_run(tmp_path_factory.mktemp("runs") / "nih-run", generated=False,
                     pile_truth=False)


@pytest.fixture(scope="package")
def nothing_in_scope_run(ray_local, tmp_path_factory) -> Path:
    """A real-source pile the gate refuses entirely (its export states no age)."""
    return build_run(tmp_path_factory.mktemp("runs") / "no-scope-run", generated=False,
                     pile_truth=False, refuse_all=True)


# ----------------------------------------------------------------------------- a real Tune sweep
def _make_trial():
    """A Tune function trial shaped like triage_ray.xray.sweep.xray_trial's reports: per-epoch rows,
    then one final row of operational metrics. The (b, 0.01) configuration fails on purpose.
    Built in a closure so Ray pickles it by value (workers cannot import this conftest)."""

    def sweep_trial(config: dict) -> None:
        import ray.tune

        lr, backbone = config["lr"], config["backbone"]
        for epoch in range(2):
            ray.tune.report({"train_loss": 1.0 / (epoch + 1 + 100 * lr),
                             "val_loss": 0.9 - 0.1 * epoch,
                             "val_auroc": 0.7 + 0.05 * epoch + 0.05 * (backbone == "a")})
        if backbone == "b" and lr > 0.005:
            raise RuntimeError("deliberate failure for the dashboard's error path")
        ray.tune.report({"final": 1, "throughput_multiplier": 1.2 + 40 * lr,
                         "missed_per_1000_auto_cleared": 3.0 + 200 * lr + (backbone == "b"),
                         "feasible": float(lr < 0.005), "bound": 0.009, "test_auroc": 0.8})

    return sweep_trial


@pytest.fixture(scope="package")
def tune_experiment(ray_local, tmp_path_factory) -> Path:
    """A real Ray Tune experiment directory: 4 trials (backbone x lr), one of which errors."""
    from ray import tune

    storage = tmp_path_factory.mktemp("tune")
    tuner = tune.Tuner(
        tune.with_resources(_make_trial(), {"cpu": 0.5}),
        param_space={"cfg": {"epochs": 2, "splits": {"train": 0.6}},
                     "backbone": tune.grid_search(["a", "b"]),
                     "lr": tune.grid_search([1e-3, 1e-2])},
        run_config=tune.RunConfig(name="tune", storage_path=str(storage), verbose=0),
    )
    results = tuner.fit()
    assert len(results.errors) == 1, results.errors
    return storage / "tune"
