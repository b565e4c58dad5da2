"""Pile scoring: the pipeline's Ray Data batch inference against a plain torch loop, same shards.

Why: the pile step scores every unlabeled study (30,000 by default) through `score_shards`
(Ray Data reads the shards, `LogitPredictor` actors run the model, logits are committed in chunks
so a killed run resumes). The baseline is what a notebook would do: read each shard file with
pyarrow, decode its images, run the same model on the same batches in this process with the same
torch threads. Both start from the same ingested shards and the same checkpoint (the pipeline's
format; an untrained resnet10t unless --checkpoint names a trained one: the cost of inference does
not depend on the weights). Wall time is charged in full to both: Ray Data's start-up (actor,
model load, planning) is part of what the pipeline pays per run. The plain loop runs before and
after, and its mean is the baseline (the two differ by how much the machine's load moved).

Target: Ray Data within 1.2x of the plain loop (time ratio <= 1.2). Writes
reports/benchmarks/pile_inference.json; prints the ratio last.

    .venv/bin/python benchmarks/pile_inference.py            # the default run's 30,000-study pile, 64 px
    .venv/bin/python benchmarks/pile_inference.py --smoke    # the smoke pile (2,000 studies)
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, not an install
from benchmark_io import save_and_report  # noqa: E402  (this folder)

from triage_ray.train.loop import untrained_checkpoint  # noqa: E402
from triage_ray.xray.config import XrayConfig  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "reports" / "benchmarks" / "pile_inference.json"
TARGET_RATIO = 1.2


def plain_scoring(shard_dir: Path, checkpoint: Path, batch_size: int, threads: int) -> dict[str, Any]:
    """The baseline: every shard file read with pyarrow, its images decoded and scored in order."""
    import pyarrow.parquet as pq
    import torch

    from triage_ray.data.stream import shard_files
    from triage_ray.xray.predict import LogitPredictor

    t0 = time.perf_counter()
    torch.set_num_threads(threads)
    predictor = LogitPredictor(str(checkpoint), torch_threads=threads)  # the same model load
    ids, logits = [], []
    for f in shard_files(shard_dir):
        for batch in pq.ParquetFile(f).iter_batches(batch_size=batch_size,
                                                    columns=["study_id", "image"]):
            cols = {"study_id": np.asarray(batch.column("study_id").to_pylist(), dtype=object),
                    "image": np.asarray(batch.column("image").to_pylist(), dtype=object)}
            out = predictor(cols)
            ids.append(out["study_id"])
            logits.append(out["logit"])
    seconds = time.perf_counter() - t0
    n = sum(len(i) for i in ids)
    return {"seconds": seconds, "n": n, "img_s": n / seconds,
            "logits": dict(zip(np.concatenate(ids), np.concatenate(logits), strict=True))}


def ray_scoring(shard_dir: Path, checkpoint: Path, chunk_dir: Path, batch_size: int,
                threads: int) -> dict[str, Any]:
    """The pipeline's pile step (score_shards): Ray Data batch inference, chunks committed."""
    from triage_ray.xray.predict import score_shards

    t0 = time.perf_counter()
    rows = score_shards(shard_dir, checkpoint, chunk_dir, batch_size=batch_size,
                        torch_threads=threads, log=lambda _: None)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "n": len(rows), "img_s": len(rows) / seconds,
            "logits": dict(zip(rows["study_id"], rows["logit"], strict=True))}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="the smoke pile (2,000 studies)")
    p.add_argument("--backbone", default="resnet10t")
    p.add_argument("--checkpoint", type=Path, help="a trial's checkpoint folder (default: untrained)")
    p.add_argument("--batch-size", type=int, default=256, help="the pipeline's (score_shards)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads, both")
    p.add_argument("--out", type=Path, default=OUT)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    import ray
    from ray.data import DataContext

    from triage_ray.data.ingest import ingest_to_shards
    from triage_ray.xray.sources import load_pile

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    cfg = XrayConfig.smoke_config() if args.smoke else XrayConfig()
    out: dict[str, Any] = {"benchmark": "pile_inference", "smoke": args.smoke,
                           "pile_size": cfg.pile_size, "image_size": cfg.image_size,
                           "backbone": args.backbone, "batch_size": args.batch_size,
                           "torch_threads": args.threads, "ray_num_cpus": 4,
                           "cpu_count": os.cpu_count(), "machine": platform.platform(),
                           "load_avg_start": os.getloadavg(),
                           "charged": "full wall time of each, Ray Data start-up included",
                           "order": "plain, Ray Data, plain; baseline = mean of the two plain runs"}
    pile, _, info = load_pile(cfg, print)  # the run's generated pile, cached under data/generated
    out["pile_root"] = info["root"]
    ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False)
    DataContext.get_current().enable_progress_bars = False
    with tempfile.TemporaryDirectory(prefix="triage_ray_pile_bench_") as tmp:
        t0 = time.perf_counter()
        ingest = ingest_to_shards(pile, Path(tmp) / "shards", image_size=cfg.image_size)
        out["ingest_s"] = time.perf_counter() - t0
        shards = Path(tmp) / "shards"
        ckpt = args.checkpoint or untrained_checkpoint(Path(tmp) / "checkpoint", args.backbone)
        before = plain_scoring(shards, ckpt, args.batch_size, args.threads)
        via_ray = ray_scoring(shards, ckpt, Path(tmp) / "chunks", args.batch_size, args.threads)
        after = plain_scoring(shards, ckpt, args.batch_size, args.threads)
    ray.shutdown()
    for run in (before, after, via_ray):
        if run["n"] != ingest.n_out:
            raise RuntimeError(f"scored {run['n']} of {ingest.n_out} studies")
    diff = max(abs(via_ray["logits"][k] - v) for k, v in before.pop("logits").items())
    after.pop("logits")
    via_ray.pop("logits")
    plain_s = (before["seconds"] + after["seconds"]) / 2
    out.update({"n_scored": ingest.n_out, "plain_before": before, "plain_after": after,
                "plain_spread": abs(before["seconds"] - after["seconds"]) / plain_s,
                "ray_data": via_ray, "max_abs_logit_difference": float(diff),
                "ratio": via_ray["seconds"] / plain_s, "target_ratio": TARGET_RATIO,
                "load_avg_end": os.getloadavg()})
    out["meets_target"] = bool(out["ratio"] <= TARGET_RATIO)
    return save_and_report(out, args.out, report)


def report(out: dict[str, Any], path: Path) -> None:
    """The figures, the headline ratio on the last line."""
    print(f"{out['n_scored']:,} studies at {out['image_size']} px, {out['backbone']}, batch "
          f"{out['batch_size']}, {out['torch_threads']} torch threads; ingest {out['ingest_s']:.1f} s")
    for name in ("plain_before", "ray_data", "plain_after"):
        run = out[name]
        print(f"{name:>12}: {run['seconds']:6.1f} s ({run['img_s']:,.0f} img/s)")
    print(f"plain runs differ by {out['plain_spread']:.0%}; largest logit difference "
          f"{out['max_abs_logit_difference']:.1e}")
    print(f"wrote {path}")
    print(f"Ray Data / plain loop time = {out['ratio']:.2f}x (target <= {TARGET_RATIO:.1f})")


if __name__ == "__main__":
    main()
