"""Intake-record triage study: one multi-task Transformer vs separate models.

    python sweeps/intake.py --smoke          # every stage on tiny generated data, a few minutes
    python sweeps/intake.py                  # default: full-scale headline, learning curve,
                                             # transfer map, controls (see docs/intake.md)
    python sweeps/intake.py --data my.csv --config map.json   # a real file (see docs/intake.md)
    ray job submit --working-dir . -- python sweeps/intake.py --smoke   # on a running cluster

Outputs go to reports/intake/<run-id>/ (config, data cards, tables, figures, and the
recommendation as recommendation.pdf with .md/.html twins).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout or a job dir

from triage_ray.common.preflight import check_dependencies  # noqa: E402

check_dependencies()  # a clear message, not a ModuleNotFoundError, under the wrong Python

from triage_ray.common.ray_session import add_address_argument, start_ray  # noqa: E402
from triage_ray.intake.config import IntakeConfig  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="tiny sizes: every stage in minutes")
    p.add_argument("--config", type=Path, help="JSON file of IntakeConfig overrides")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=JSON",
                   help="override config keys, e.g. --set seeds=5 'train_sizes=[500, 2000]'")
    p.add_argument("--data", help="a real CSV/Parquet file instead of generated records")
    p.add_argument("--seeds", type=int)
    p.add_argument("--run-id")
    p.add_argument("--reports-dir", help="where <run-id>/ goes (default reports/intake)")
    p.add_argument("--num-cpus", type=int, default=None,
                   help="logical CPUs for a locally started Ray (default: 2x the cores, so Ray "
                        "Data tasks fit beside two training workers)")
    add_address_argument(p)
    return p.parse_args(argv)


def build_config(args: argparse.Namespace) -> IntakeConfig:
    overrides = json.loads(args.config.read_text()) if args.config else {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value)
    for key, attr in (("data_path", "data"), ("seeds", "seeds"), ("run_id", "run_id"),
                      ("reports_dir", "reports_dir")):
        if getattr(args, attr) is not None:
            overrides[key] = getattr(args, attr)
    return IntakeConfig.smoke_config(**overrides) if args.smoke else IntakeConfig.from_dict(overrides)


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    cfg = build_config(args)
    from ray.data import DataContext

    from triage_ray.intake.study import run_intake_study

    # Inside `ray job submit` RAY_ADDRESS points at the cluster; a test may have started Ray.
    start_ray(args.address, args.num_cpus or 2 * (os.cpu_count() or 1),
              {"RAY_USAGE_STATS_ENABLED": "0"}, include_dashboard=False)
    bars = sys.stderr.isatty()  # Ray Data bars flood non-interactive logs
    DataContext.get_current().enable_progress_bars = bars
    run_dir = run_intake_study(cfg, progress_bars=bars)
    print(f"\nDone. Results: {run_dir}")
    return run_dir


if __name__ == "__main__":
    main()
