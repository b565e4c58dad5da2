"""The intake study end to end: data -> Ray Data -> tuning (Ray Tune) -> fits (Ray
Tune trials of Ray Train runs) -> evaluation -> transfer map -> recommendation document.
`sweeps/intake.py` parses arguments and calls `run_intake_study`.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any

import pandas as pd

from triage_ray.intake.brief import write_recommendation
from triage_ray.intake.collect import Runs, collect_runs
from triage_ray.intake.config import IntakeConfig
from triage_ray.intake.evaluate import class_calibration
from triage_ray.intake.prepare import headline_key, prepare_data
from triage_ray.intake.recommend import (
    choose_option,
    controls_summary,
    map_summary,
    probe_summary,
    shipped_setups,
)
from triage_ray.intake.report import headline_table, write_figures, write_summary, write_tables
from triage_ray.intake.schema import GENERATED, TASKS
from triage_ray.intake.setups import headline_setups, map_setups, tuned_setups
from triage_ray.intake.streams import build_dataset
from triage_ray.intake.tables import StudyTables, evaluate_study, task_predictions
from triage_ray.intake.trials import TrialSpec, pack_lanes, run_trials
from triage_ray.intake.tuning import select_weighting, tune_all, tuning_data


def new_run_dir(cfg: IntakeConfig) -> Path:
    run_id = cfg.run_id or time.strftime("%Y%m%d-%H%M%S") + ("-smoke" if cfg.smoke else "")
    run_dir = Path(cfg.reports_dir) / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    return run_dir


def plan_trials(cfg: IntakeConfig, data_index: dict[str, Any], hypers: dict[str, Any],
                selected: str) -> list[TrialSpec]:
    """One spec per setup (`trials.pack_lanes` then puts them into Train runs): every setup trains
    on the headline setting; the chosen multi-task setup and the single-task pair also train on
    every other setting and control (the transfer map); the parameter-matched model trains at the
    headline's largest size only (the one matched comparison). Longest first."""
    from dataclasses import asdict

    head = headline_key(data_index)
    everywhere = {s.key for s in map_setups(selected)}
    largest = (max(data_index[head]["sizes"]),)
    specs = []
    for setup in headline_setups(cfg.weightings, selected, cfg.matched_params):
        settings = tuple(data_index) if setup.key in everywhere else (head,)
        hyper = None if setup.kind == "xgb" else asdict(hypers[setup.tuned_as])
        specs.append(TrialSpec(setup.key, settings, hyper, largest if setup.matched else None))
    return sorted(specs, key=lambda s: -_work(cfg, s, data_index))


# relative cost per training example (measured on 2 cores: a matched model is ~2x as wide in
# FLOPs, PCGrad runs one backward pass per task, XGBoost is far cheaper than a Transformer)
_COST = {"matched": 2.0, "pcgrad": 1.6, "xgb": 0.3}


def _work(cfg: IntakeConfig, spec: TrialSpec, data_index: dict[str, Any]) -> float:
    """Training examples a trial will see at most (epochs x size, summed), times its cost."""
    from triage_ray.intake.setups import Setup
    from triage_ray.intake.train import epochs_for

    setup = Setup.from_key(spec.setup)
    factor = (_COST["xgb"] if setup.kind == "xgb" else _COST["matched"] if setup.matched
              else _COST["pcgrad"] if setup.weighting == "pcgrad" else 1.0)
    sizes = [z for k in spec.settings for z in spec.sizes(data_index, k)]
    return factor * sum(z * epochs_for(z, cfg.samples_per_run, cfg.min_epochs, cfg.max_epochs)
                        for z in sizes)


def headline_calibration(cfg: IntakeConfig, t: StudyTables, runs: Runs, c: dict[str, Any]
                         ) -> tuple[dict[str, Any], pd.DataFrame]:
    """For what the recommendation ships (seed 0, temperature fitted on validation): top-label
    calibration with CIs per task, and per-class rows (with the rare "immediate" tier)."""
    from triage_ray.calibrate import TemperatureScaler, calibration_report

    out, rows = {}, []
    n_boot = min(cfg.n_boot, 300)
    for task, setup in shipped_setups(c).items():
        p = task_predictions(runs[(c["setting"], setup, c["size"])], task)
        ts = TemperatureScaler().fit(p.val_logits[0], p.val_y)
        P = ts.predict_proba(p.logits[0])
        out[task] = {"setup": setup, "temperature": float(ts.temperature_),
                     **calibration_report(p.y, P, n_boot=n_boot, seed=0, n_bins=cfg.ece_bins,
                                          level=cfg.ci_level)}
        if task == "urgency":
            immediate = p.y == 0
            out[task]["immediate_to_lowest_two"] = float((P[immediate].argmax(1) >= 2).mean())
        rows += [{"task": task, "setup": setup, **r} for r in class_calibration(
            p.y, P, TASKS[task], n_boot=n_boot, level=cfg.ci_level, n_bins=cfg.ece_bins)]
    return out, pd.DataFrame(rows)


def decide(cfg: IntakeConfig, t: StudyTables, runs: Runs, cards: dict[str, Any], source: str,
           run_id: str) -> tuple[dict[str, Any], pd.DataFrame]:
    """Every number the recommendation states, read from the tables (saved as JSON)."""
    head = t.headline()
    size = max(t.settings[head]["sizes"])
    c = choose_option(t, head, size, cfg.ci_level)
    cal, by_class = headline_calibration(cfg, t, runs, c)
    costs = t.costs[(t.costs.setting == head) & (t.costs["size"] == size)].set_index("setup")
    res = t.results[(t.results.setting == head) & (t.results["size"] == size)]
    probes = probe_summary(t, cfg.ci_level)
    return {
        "source": source, "run_id": run_id, "setting": head, "size": size, "seeds": cfg.seeds,
        "relatedness": t.settings[head]["relatedness"], "level": cfg.ci_level,
        "choice": c["choice"], "leader": c["leader"], "not_worse": c["not_worse"],
        "mtl_setup": t.selected_mtl, "shipped": shipped_setups(c),
        "results": res[["setup", "task", "f1", "f1_ci_low", "f1_ci_high"]].to_dict("records"),
        "vs_leader": [{"option": o, "task": task, **d} for (o, task), d in c["vs_leader"].items()],
        "costs": costs.reset_index().to_dict("records"),
        "calibration": cal, "map": map_summary(t), "controls": controls_summary(t),
        "weightings": t.weightings.to_dict("records"),
        "matched": t.transfer[t.transfer.mtl_setup.str.endswith("_matched")].to_dict("records"),
        "probes": probes.to_dict("records"), "data_card": cards.get(head, {}),
    }, by_class


def run_intake_study(cfg: IntakeConfig, run_dir: Path | None = None,
                     progress_bars: bool = False) -> Path:
    """Run the whole study; returns the run directory (config, data cards, tables, figures,
    recommendation)."""
    run_dir = run_dir or new_run_dir(cfg)
    cfg.save(run_dir / "config.json")
    source = "real" if cfg.data_path else GENERATED
    clock = {"start": time.perf_counter()}
    data_index, cards = prepare_data(cfg, run_dir)
    clock["data"] = time.perf_counter()
    write_summary(run_dir, {"data_source": source, "data_cards": cards})
    dataset = build_dataset(cfg, data_index)  # read + tokenise once, before any trial
    clock["ray_data_materialize"] = time.perf_counter()
    storage = (run_dir / "ray").resolve()
    hypers, tuning = tune_all(tuned_setups(cfg.weightings), cfg,
                              tuning_data(cfg, data_index[headline_key(data_index)]), storage)
    selected = select_weighting(tuning, cfg.weightings)
    clock["tuning"] = time.perf_counter()
    specs = plan_trials(cfg, data_index, hypers, selected)
    lanes = pack_lanes(specs, cfg.max_concurrent_trials, lambda s: _work(cfg, s, data_index))
    runs = collect_runs(run_trials(cfg, data_index, dataset, run_dir, lanes, progress_bars))
    clock["trials"] = time.perf_counter()
    settings = {k: {"role": v["role"], "relatedness": v["relatedness"], "sizes": v["sizes"]}
                for k, v in data_index.items()}
    tables = evaluate_study(cfg, runs, settings, f"mtl_{selected}")
    decisions, by_class = decide(cfg, tables, runs, cards, source, run_dir.name)
    write_tables(run_dir, tables, source, {"tuning": tuning, "calibration_by_class": by_class,
                                           "probe_summary": probe_summary(tables, cfg.ci_level)})
    figures = write_figures(run_dir, tables, tuning, source, cfg.ci_level)
    pdf = write_recommendation(run_dir, decisions, figures)
    clock["evaluate_report"] = time.perf_counter()
    stages = list(clock)
    timing = {f"{b}_s": clock[b] - clock[a] for a, b in zip(stages, stages[1:], strict=False)}
    timing["total_s"] = clock[stages[-1]] - clock["start"]
    write_summary(run_dir, {
        "data_source": source, "data_cards": cards, "timing": timing,
        "selected_mtl": f"mtl_{selected}", "tuned": {k: vars(h) for k, h in hypers.items()},
        "figures": [str(p.relative_to(run_dir)) for p in figures.values()],
        "recommendation": str(pdf.relative_to(run_dir)),
        "machine": {"python": platform.python_version(), "processor": platform.processor(),
                    "platform": platform.platform(), "cpus": _cpus()},
    })
    print(f"\nResults ({source} records), {run_dir}:\n{headline_table(tables)}\n")
    print((run_dir / "recommendation.md").read_text())
    return run_dir


def _cpus() -> int:
    import os

    return os.cpu_count() or 1
