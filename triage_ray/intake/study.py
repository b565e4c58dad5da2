"""The intake study end to end: data -> Ray Tune trials (Ray Train fits, Ray Data streaming) ->
evaluation -> transfer -> report. `sweeps/intake.py` parses arguments and calls `run_intake_study`.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any

from triage_ray.intake.collect import Runs, collect_runs
from triage_ray.intake.config import IntakeConfig
from triage_ray.intake.prepare import prepare_data
from triage_ray.intake.recommend import choose_option, recommendation
from triage_ray.intake.report import headline_table, write_figures, write_summary, write_tables
from triage_ray.intake.schema import GENERATED, TASKS
from triage_ray.intake.setups import study_setups
from triage_ray.intake.streams import build_dataset
from triage_ray.intake.tables import StudyTables, evaluate_study, task_predictions
from triage_ray.intake.trials import run_trials


def new_run_dir(cfg: IntakeConfig) -> Path:
    run_id = cfg.run_id or time.strftime("%Y%m%d-%H%M%S") + ("-smoke" if cfg.smoke else "")
    run_dir = Path(cfg.reports_dir) / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    return run_dir


def headline_calibration(cfg: IntakeConfig, t: StudyTables, runs: Runs
                         ) -> dict[tuple[str, str], dict[str, Any]]:
    """calibration_report (bootstrap CIs) of the recommended option, seed 0, after temperature
    scaling, at the largest training size; the full tables carry every setup's seed means."""
    from triage_ray.calibrate import TemperatureScaler, calibration_report

    size = max(cfg.train_sizes)
    out = {}
    for setting in sorted({s for s, _ in t.selected_mtl}):
        c = choose_option(t, setting, size, cfg.ci_level)
        for task in TASKS:
            option = c["choice"] or c["leader"][task]
            p = task_predictions(runs[(setting, c["options"][option][task], size)], task)
            ts = TemperatureScaler().fit(p.val_logits[0], p.val_y)
            out[(setting, task)] = calibration_report(
                p.y, ts.predict_proba(p.logits[0]), n_boot=min(cfg.n_boot, 200), seed=0,
                n_bins=cfg.ece_bins, level=cfg.ci_level)
    return out


def run_intake_study(cfg: IntakeConfig, run_dir: Path | None = None,
                     progress_bars: bool = False) -> Path:
    """Run the whole study; returns the run directory (config, data card, tables, figures, text)."""
    run_dir = run_dir or new_run_dir(cfg)
    cfg.save(run_dir / "config.json")
    source = "real" if cfg.data_path else GENERATED
    t0 = time.perf_counter()
    data_index, cards = prepare_data(cfg, run_dir)
    t_data = time.perf_counter() - t0
    write_summary(run_dir, {"data_source": source, "data_cards": cards})
    setups = study_setups(cfg)
    t1 = time.perf_counter()
    dataset = build_dataset(cfg, data_index)  # read + tokenise once, before the sweep
    t_stream = time.perf_counter() - t1
    grid = run_trials(cfg, data_index, dataset, run_dir, [s.key for s in setups], progress_bars)
    t_trials = time.perf_counter() - t1 - t_stream
    runs = collect_runs(grid)
    t2 = time.perf_counter()
    tables = evaluate_study(cfg, runs, setups)
    write_tables(run_dir, tables, source)
    figures = write_figures(run_dir, tables, source)
    text = recommendation(tables, cfg.train_sizes, cfg.ci_level, source,
                          headline_calibration(cfg, tables, runs))
    (run_dir / "recommendation.md").write_text(text)
    timing = {"data_s": t_data, "ray_data_materialize_s": t_stream, "trials_s": t_trials,
              "evaluate_report_s": time.perf_counter() - t2, "total_s": time.perf_counter() - t0}
    write_summary(run_dir, {
        "data_source": source, "data_cards": cards, "timing": timing,
        "selected_mtl": {f"{s}|n={z}": v for (s, z), v in tables.selected_mtl.items()},
        "figures": [str(p.relative_to(run_dir)) for p in figures],
        "machine": {"python": platform.python_version(), "processor": platform.processor(),
                    "platform": platform.platform()},
    })
    print(f"\nResults ({source} records), {run_dir}:\n{headline_table(tables)}\n")
    print(text)
    return run_dir
