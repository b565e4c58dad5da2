"""Chest X-ray triage study: train, calibrate, abstain, simulate, sweep, score the pile, report.

    python sweeps/xray.py --smoke                 # < 5 min on a laptop, generated data
    python sweeps/xray.py                         # default, < 30 min on 2 cores, generated data
    python sweeps/xray.py --source nih --data-root /data/nih   # your local NIH ChestX-ray14 copy
    python sweeps/xray.py --pile-source dicom --pile-root /data/pacs-export   # a DICOM pile
    ray job submit --working-dir . -- python sweeps/xray.py --smoke   # on a running cluster
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
from triage_ray.models import BACKBONES  # noqa: E402
from triage_ray.xray.config import XrayConfig, resumed_config  # noqa: E402
from triage_ray.xray.profiles import PROFILES, profile_values  # noqa: E402
from triage_ray.xray.sources import PILE_SOURCES, SOURCES  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="tiny sizes: every stage in < 5 min")
    p.add_argument("--profile", choices=sorted(PROFILES),
                   help="a named preset: gpu = 224 px DenseNet-121, mixed precision, one Train "
                        "worker per GPU (docs/performance.md); --set overrides any of it")
    p.add_argument("--config", type=Path, help="JSON file of XrayConfig overrides")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=JSON",
                   help="override config keys, e.g. --set epochs=2 'lrs=[0.001]'")
    p.add_argument("--backbones", nargs="+", choices=sorted(BACKBONES))
    p.add_argument("--source", choices=sorted(SOURCES))
    p.add_argument("--data-root")
    p.add_argument("--pile-root", help="a real unlabeled pile to score instead of a generated one")
    p.add_argument("--pile-source", choices=sorted(PILE_SOURCES),
                   help="the pile's layout: nih (label CSV + PNGs, default) or dicom (a PACS export)")
    p.add_argument("--reports-dir", help="where reports/xray/<run-id>/ goes (default reports/xray)")
    p.add_argument("--resume", type=Path, help="a run directory to resume (Tune restore)")
    p.add_argument("--num-cpus", type=int, help="logical CPUs for a locally started Ray")
    add_address_argument(p)
    return p.parse_args(argv)


def build_config(args: argparse.Namespace) -> XrayConfig:
    # a resumed run keeps its saved config, the profile's values included
    overrides = profile_values(args.profile) if args.profile and not args.resume else {}
    overrides.update(json.loads(args.config.read_text()) if args.config else {})
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value)
    for key in ("backbones", "source", "data_root", "reports_dir", "pile_root", "pile_source"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    if args.resume:
        return resumed_config(args.resume / "config.json", overrides, smoke=args.smoke)
    return XrayConfig.smoke_config(**overrides) if args.smoke else XrayConfig.from_dict(overrides)


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    cfg = build_config(args)
    import ray

    from triage_ray.xray.pipeline import run_xray
    from triage_ray.xray.profiles import fit_to_cluster
    from triage_ray.xray.sources import startup_notes

    print("\n".join(startup_notes(cfg)), flush=True)  # before Ray starts: what this run will do

    # Inside `ray job submit` RAY_ADDRESS points at the cluster; otherwise a fresh local Ray with at
    # least 4 logical CPUs so Ray Data tasks always find room beside the trial and its worker.
    # Tune's trial table is the progress display; Ray Data's per-epoch bars from inside Train workers
    # would interleave with it in the log (set RAY_DATA_DISABLE_PROGRESS_BARS=0 to see them).
    bars = os.environ.get("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
    start_ray(args.address, args.num_cpus or max(os.cpu_count() or 1, 4),
              {"RAY_DATA_DISABLE_PROGRESS_BARS": bars})
    try:  # GPUs asked for and none in the cluster: a clear error now, not a wait for a GPU
        cfg = fit_to_cluster(cfg, ray.nodes())
    except RuntimeError as e:
        sys.exit(f"xray: {e}")
    run_dir = run_xray(cfg, resume_dir=args.resume.resolve() if args.resume else None)
    print(f"\nDone. Results: {run_dir}")
    return run_dir


if __name__ == "__main__":
    main()
