"""Ingest and streaming at a published resolution (224 px), as the number of studies grows.

Why: the 2.5x-over-DataLoader streaming figure (`data_throughput.py`) and the flat-memory figure
(`memory_scaling.py`) were measured at 64 px. A team ingesting NIH ChestX-ray14 (112,120 images)
or CheXpert at 224 px needs to know what ingest costs per image, how large the shards get, whether
memory stays flat in the number of studies, and whether the shards stream faster than a plain
DataLoader decoding the same files. For each size, a fresh Python process (so no peak carries
over) generates that many studies at `--source-px` (not counted: it makes the input), then:
1. ingest: `ingest_to_shards` at `--px`: images/s, shard bytes per image, peak RSS of the driver
   and of Ray's workers (`memory_scaling.RssPoller`);
2. streaming: one pass over every shard through Ray Data (`read_shards(...).iter_batches`, the
   reader a Train worker's dataset shard runs) into uint8 tensors, against a torch DataLoader
   decoding and resizing the same PNGs (`data_throughput.PngDataset`, one loader worker per core);
   the rate of each pass after a first, untimed one.
The box cannot hold all of NIH at once in the time a benchmark has; the sizes show the trend, and
`real_resolution.py` measures what decoding a 1024 px NIH PNG adds per image. Targets: memory flat
(largest size's peak at most 1.3x the smallest's) and streaming at least as fast as the
DataLoader. Writes reports/benchmarks/ingest_scale.json; prints the headline (shards / DataLoader
images/s at the largest size) last.

    .venv/bin/python benchmarks/ingest_scale.py                     # 10k, 20k, 40k at 224 px (9 min)
    .venv/bin/python benchmarks/ingest_scale.py --sizes 2000 20000  # other sizes
    .venv/bin/python benchmarks/ingest_scale.py --smoke             # 150 and 300 studies at 64 px
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, not an install
from benchmark_io import save_and_report  # noqa: E402  (this folder)

OUT = Path(__file__).parents[1] / "reports" / "benchmarks" / "ingest_scale.json"
MEMORY_TARGET = 1.3
MB = 2**20


def shard_bytes(shard_dir: Path) -> int:
    return sum(f.stat().st_size for f in shard_dir.rglob("*.parquet"))


def stream_rates(shard_dir: Path, paths: list[str], px: int, batch: int,
                 workers: int) -> dict[str, float]:
    """Images/s of the second pass of each reader over every study (the first warms caches and
    starts the readers' processes)."""
    import torch
    from data_throughput import PngDataset, timed_epochs

    from triage_ray.data.stream import batch_to_images, read_shards

    shards = read_shards(shard_dir)

    def ray_shards():
        for b in shards.iter_batches(batch_size=batch, batch_format="numpy"):
            yield torch.from_numpy(batch_to_images(b))

    loader = torch.utils.data.DataLoader(PngDataset(paths, px), batch_size=batch,
                                         num_workers=workers, persistent_workers=True)
    n = len(paths)
    return {"shards_img_s": timed_epochs(ray_shards, n, 2)[1],
            "dataloader_img_s": timed_epochs(lambda: iter(loader), n, 2)[1]}


def measure_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    """The child's work at one size."""
    import ray
    from memory_scaling import RssPoller, make_studies
    from ray.data import DataContext

    from triage_ray.data.ingest import ingest_to_shards

    ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False)
    DataContext.get_current().enable_progress_bars = False
    poller = RssPoller(args.interval)
    with tempfile.TemporaryDirectory(prefix="triage_ray_ingest_scale_") as tmp:
        t0 = time.perf_counter()
        studies = make_studies(Path(tmp), n, args.source_px, seed=0)
        generate_s = time.perf_counter() - t0
        poller.stage = "ingest"
        poller.start()
        t0 = time.perf_counter()
        report = ingest_to_shards(studies, Path(tmp) / "shards", image_size=args.px)
        ingest_s = time.perf_counter() - t0
        poller.sample()
        poller.stage = "stream"
        rates = stream_rates(Path(tmp) / "shards", studies["path"].tolist(), args.px, args.batch,
                             args.workers)
        poller.stop()
        nbytes = shard_bytes(Path(tmp) / "shards")
    ray.shutdown()
    if report.n_out != n:
        raise RuntimeError(f"ingest wrote {report.n_out} of {n} studies ({report.skipped[:3]})")
    peaks = poller.peaks
    return {"n_studies": n, "generate_s": generate_s, "ingest_s": ingest_s,
            "ingest_img_s": n / ingest_s, "shard_bytes": nbytes, "shard_bytes_per_image": nbytes / n,
            **rates, "streaming_ratio": rates["shards_img_s"] / rates["dataloader_img_s"],
            "peak_mb": {stage: {"driver": p["driver"] / MB, "workers_sum": p["workers_sum"] / MB,
                                "worker_max": p["worker_max"] / MB} for stage, p in peaks.items()}}


def run_child(n: int, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """One size in a fresh interpreter, so the driver's peak is this size's alone."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(n), "--child-out", str(out),
           "--px", str(args.px), "--source-px", str(args.source_px), "--batch", str(args.batch),
           "--workers", str(args.workers), "--interval", str(args.interval)]
    subprocess.run(cmd, check=True)
    return json.loads(out.read_text())


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 20_000, 40_000])
    p.add_argument("--px", type=int, default=224, help="the shards' image size")
    p.add_argument("--source-px", type=int, help="the generated PNGs' size (default: --px)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="DataLoader workers")
    p.add_argument("--interval", type=float, default=0.25, help="seconds between RSS readings")
    p.add_argument("--smoke", action="store_true", help="150 and 300 studies at 64 px")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    p.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.smoke:
        args.sizes, args.px = [150, 300], 64
    args.source_px = args.source_px or args.px
    if len(args.sizes) < 2 and args.child is None:
        p.error("give at least two --sizes: the point is how the figures change with size")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    args = parse_args(argv)
    if args.child is not None:
        args.child_out.write_text(json.dumps(measure_size(args.child, args)))
        return None
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sorted(args.sizes):
            rows.append(run_child(n, args, Path(tmp) / f"{n}.json"))
            print(f"{n:,} studies: ingest {rows[-1]['ingest_img_s']:.0f} img/s", flush=True)

    def peak(row: dict[str, Any], key: str) -> float:
        return max(p[key] for p in row["peak_mb"].values())

    memory = {key: peak(rows[-1], key) / peak(rows[0], key) for key in ("driver", "workers_sum")}
    out = {"benchmark": "ingest_scale", "smoke": args.smoke, "px": args.px,
           "source_px": args.source_px, "batch": args.batch, "dataloader_workers": args.workers,
           "cpu_count": os.cpu_count(), "machine": platform.platform(), "sizes": rows,
           "memory_ratio_largest_over_smallest": memory, "memory_target": MEMORY_TARGET,
           "memory_flat": all(v <= MEMORY_TARGET for v in memory.values()),
           "ratio": rows[-1]["streaming_ratio"]}
    return save_and_report(out, args.out, report)


def report(out: dict[str, Any], path: Path) -> None:
    """One line per size, the memory ratio, the headline ratio last."""
    print(f"ingest at {out['px']} px (PNGs generated at {out['source_px']} px), "
          f"{out['cpu_count']} cores:")
    for r in out["sizes"]:
        print(f"  {r['n_studies']:>7,} studies: ingest {r['ingest_img_s']:.0f} img/s, "
              f"{r['shard_bytes_per_image'] / 1024:.1f} KiB/image in shards; streaming "
              f"{r['shards_img_s']:.0f} img/s vs DataLoader {r['dataloader_img_s']:.0f} img/s")
        for stage, peak in r["peak_mb"].items():
            print(f"           peak RSS while {stage:<6}: driver {peak['driver']:.0f} MB, Ray "
                  f"workers {peak['workers_sum']:.0f} MB (largest {peak['worker_max']:.0f} MB)")
    m = out["memory_ratio_largest_over_smallest"]
    print(f"peak memory, largest / smallest size: driver {m['driver']:.2f}x, Ray workers "
          f"{m['workers_sum']:.2f}x (flat if <= {out['memory_target']}x: "
          f"{'yes' if out['memory_flat'] else 'NO'})")
    print(f"written: {path}")
    print(f"Ray Data shards / DataLoader PNG at {out['sizes'][-1]['n_studies']:,} studies, "
          f"{out['px']} px = {out['ratio']:.2f}x")


if __name__ == "__main__":
    main()
