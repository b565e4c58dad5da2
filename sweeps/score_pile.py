"""Triage a new pile with the model an earlier X-ray run chose: no training, the run's own
calibrator, thresholds, operating point and intended-use gate.

    python sweeps/score_pile.py --run reports/xray/<run-id> --pile-root /data/pacs-this-week \\
        --pile-source dicom
    python sweeps/score_pile.py --run reports/xray/<run-id>      # the run's own pile again

Writes reports/xray/<run-id>/piles/<pile-run-id>/ (or --out): worklist.parquet, pile.json,
summary.md. Rerun with the same --out to resume a pile that was killed part-way.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout or a job dir

from triage_ray.common.preflight import check_dependencies  # noqa: E402

check_dependencies()  # a clear message, not a ModuleNotFoundError, under the wrong Python

from triage_ray.common.ray_session import add_address_argument, start_ray  # noqa: E402
from triage_ray.xray.sources import PILE_SOURCES  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--run", type=Path, required=True, help="a finished run (reports/xray/<run-id>)")
    p.add_argument("--pile-root", help="the pile to triage (default: the run's own pile)")
    p.add_argument("--pile-source", choices=sorted(PILE_SOURCES),
                   help="the pile's layout: nih (label CSV + PNGs) or dicom (a PACS export); "
                        "default: the run's")
    p.add_argument("--out", type=Path, help="output folder (default <run>/piles/<timestamp>)")
    p.add_argument("--num-cpus", type=int, help="logical CPUs for a locally started Ray")
    add_address_argument(p)
    args = p.parse_args(argv)
    if args.pile_source and not args.pile_root:
        p.error("--pile-source names the layout of --pile-root; give --pile-root DIR too")
    return args


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    from triage_ray.xray.deployment import load_deployment
    from triage_ray.xray.rescore import pile_config, score_new_pile, startup_lines

    try:  # a clear error before Ray starts, not a traceback, for a folder with no deployment
        dep = load_deployment(args.run)
    except FileNotFoundError as e:
        sys.exit(f"score_pile: {e}")
    print("\n".join(startup_lines(dep, args.run, pile_config(dep, args.pile_root,
                                                              args.pile_source))), flush=True)
    start_ray(args.address, args.num_cpus or max(os.cpu_count() or 1, 4),
              {"RAY_DATA_DISABLE_PROGRESS_BARS": os.environ.get("RAY_DATA_DISABLE_PROGRESS_BARS",
                                                               "1")})
    out = score_new_pile(args.run, pile_root=args.pile_root, pile_source=args.pile_source,
                         out_dir=args.out, dep=dep)
    print(f"\nDone. Results: {out}")
    return out


if __name__ == "__main__":
    main()
