"""Wall time of the smoke sweep with 1 and with 2 concurrent trials: what does a second trial buy?

Why: `max_concurrent_trials` is the knob a site turns first to make the sweep faster; on a small
machine two trials share the same cores, so the gain is an empirical question. For each level N the
whole smoke pipeline runs once as a subprocess (its own fresh local Ray):

    sweeps/xray.py --smoke --set max_concurrent_trials=N run_id="concurrent-N" --reports-dir <tmp>

and the figure compared is that run's own metrics.json `timings["sweep_s"]` (the Tune sweep alone:
data preparation, pretraining and the later stages excluded), with the subprocess's total wall time
beside it. Everything else is the same config (`cpus_per_trial`, `cpus_per_worker`, `torch_threads`
as XrayConfig sets them, recorded in the JSON). Optuna proposes trials from the results it has
seen, and with 2 running it has seen fewer, and ASHA may stop trials at other points; so the trials
and their epochs are reported per level, and a speed-up per trial-epoch beside the plain one.
Generated data and pretrained weights are cached under data/ (or TRIAGE_RAY_DATA_DIR) and shared:
the first level may pay for them, which shows in its total wall time, not in sweep_s.

Speed-up = sweep_s(1) / sweep_s(2). Writes reports/benchmarks/sweep_scaling.json; prints the
speed-up last.

    .venv/bin/python benchmarks/sweep_scaling.py            # the smoke sweep (its 4 trials) at 1 and 2
    .venv/bin/python benchmarks/sweep_scaling.py --smoke    # 2 trials and no learning curve
    .venv/bin/python benchmarks/sweep_scaling.py --set n_trials=3   # any XrayConfig override, both runs
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports" / "benchmarks" / "sweep_scaling.json"
SWEEP = ROOT / "sweeps" / "xray.py"
SMOKE_SETS = ["n_trials=2", "learning_curve_sizes=[]"]  # fewer trials; skip a stage not measured
RECORDED = ("n_trials", "search", "epochs", "backbones", "image_sizes", "cpus_per_trial",
            "cpus_per_worker", "num_workers", "torch_threads", "max_concurrent_trials", "n_studies")
LOG_TAIL = 40
SEARCHED = ("backbone", "image_size", "lr", "augment", "init")  # what a trial's row says it tried


def sweep_command(n: int, reports_dir: Path, sets: Sequence[str]) -> list[str]:
    """The pipeline's own command line for concurrency level n (one run, its own run id)."""
    return [sys.executable, str(SWEEP), "--smoke", "--reports-dir", str(reports_dir), "--set",
            f"max_concurrent_trials={n}", f'run_id="concurrent-{n}"', *sets]


def run_level(n: int, reports_dir: Path, sets: Sequence[str]) -> dict[str, Any]:
    """Run the smoke pipeline at concurrency n; its timings, trials and config from its run dir."""
    cmd = sweep_command(n, reports_dir, sets)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # always a fresh local Ray
    env.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    log = reports_dir / f"concurrent-{n}.log"
    load, t0 = os.getloadavg(), time.time()
    with log.open("w") as f:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT, check=False)
    wall = time.time() - t0
    if proc.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-LOG_TAIL:])
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}; last lines:\n{tail}")
    run_dir = reports_dir / f"concurrent-{n}"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    if config["max_concurrent_trials"] != n:
        raise RuntimeError(f"the run's config has max_concurrent_trials="
                           f"{config['max_concurrent_trials']}, asked {n}")
    return {"level": n, "command": cmd, "wall_s": wall, "load_avg_before": load,
            "timings": metrics["timings"], "sweep_s": metrics["timings"]["sweep_s"],
            "trials": trial_summary(metrics["sweep"]["trials"]),
            "config": {k: config.get(k) for k in RECORDED}}


def trial_summary(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """How much work the sweep did: trials by status, trial-epochs, summed training seconds."""
    statuses: dict[str, int] = {}
    for t in trials:
        statuses[t.get("status") or "unknown"] = statuses.get(t.get("status") or "unknown", 0) + 1
    return {"n": len(trials), "by_status": statuses,
            "trial_epochs": sum(int(t.get("epochs_run") or 0) for t in trials),
            "train_seconds": sum(float(t.get("train_seconds") or 0.0) for t in trials),
            "each": [{k: t.get(k) for k in ("trial_id", *SEARCHED, "status", "epochs_run",
                                           "train_seconds")} for t in trials]}


def same_trials(runs: list[dict[str, Any]]) -> bool:
    """Whether every level tried the same configurations (Optuna need not propose the same ones
    when it sees fewer finished trials)."""
    def configs(run: dict[str, Any]) -> list[tuple]:
        return sorted(tuple(str(t.get(k)) for k in SEARCHED) for t in run["trials"]["each"])

    return all(configs(r) == configs(runs[0]) for r in runs[1:])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--levels", type=int, nargs="+", default=[1, 2],
                   help="max_concurrent_trials values; the speed-up is first / last")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=JSON",
                   help="extra XrayConfig overrides for every run (as sweeps/xray.py --set)")
    p.add_argument("--smoke", action="store_true", help="--set " + " ".join(SMOKE_SETS))
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    if args.smoke:
        args.set = [*SMOKE_SETS, *args.set]
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    out: dict[str, Any] = {"benchmark": "sweep_scaling", "smoke": args.smoke, "levels": args.levels,
                           "extra_sets": args.set, "measured": "metrics.json timings.sweep_s",
                           "cpu_count": os.cpu_count(), "machine": platform.platform(),
                           "load_avg_start": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="triage_ray_sweep_scaling_") as tmp:
        out["runs"] = runs = [run_level(n, Path(tmp), args.set) for n in args.levels]
    first, last = runs[0], runs[-1]
    out["speedup"] = first["sweep_s"] / last["sweep_s"]
    out["speedup_total_wall"] = first["wall_s"] / last["wall_s"]
    per_epoch = [r["sweep_s"] / max(r["trials"]["trial_epochs"], 1) for r in runs]
    out["speedup_per_trial_epoch"] = per_epoch[0] / per_epoch[-1]
    out["same_trial_configs"] = same_trials(runs)
    out["load_avg_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    report(out, args.out)
    return out


def report(out: dict[str, Any], path: Path) -> None:
    """One line per level, the speed-up last."""
    for r in out["runs"]:
        t = r["trials"]
        print(f"max_concurrent_trials={r['level']}: sweep {r['sweep_s']:.0f} s, whole run "
              f"{r['wall_s']:.0f} s; {t['n']} trials {t['by_status']}, {t['trial_epochs']} "
              f"trial-epochs, {t['train_seconds']:.0f} s of training summed")
    print(f"speed-up per trial-epoch {out['speedup_per_trial_epoch']:.2f}x; whole run "
          f"{out['speedup_total_wall']:.2f}x; same trial configurations at every level: "
          f"{out['same_trial_configs']}")
    print(f"wrote {path}")
    levels = out["levels"]
    print(f"sweep wall time, {levels[0]} vs {levels[-1]} concurrent trials: "
          f"speed-up {out['speedup']:.2f}x")


if __name__ == "__main__":
    main()
