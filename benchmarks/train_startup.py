"""Where a Ray Train run's start-up goes, against the same one epoch in a plain PyTorch loop.

Why: every sweep trial and every pretraining run pays Ray Train's start-up once. In the smoke sweep
that is most of a trial (a few seconds of training in a trial of about 20 s), and in
train_overhead.py it is the 17-18 s that the steady ratio leaves out. The project's worker function
(`train_loop_per_worker`) runs inside a wrapper that writes time stamps to a file; the driver adds
its own around `fit()`. Phases of one Ray Train run:

    ray_setup    fit() called -> the worker function starts (controller actor, placement group,
                 worker actor, process group, dataset iterators)
    first_batch  the worker function starts -> its first training batch (the model is built,
                 Ray Data's first execution starts)
    epoch        first batch -> the worker function returns (training, validation, checkpoint,
                 held-out pass)
    teardown     the worker function returns -> fit() returns (the controller's next poll of its
                 workers, then shutdown)

The baseline is `train_overhead.plain_loop` on the same shards and settings for one epoch (its
shards read into memory first, untimed). Headline: fit() wall time / the plain loop's wall time.
Writes reports/benchmarks/train_startup.json; prints the ratio last.

    .venv/bin/python benchmarks/train_startup.py           # 1,200 studies at 32 px, 2 Ray runs
    .venv/bin/python benchmarks/train_startup.py --smoke   # 400 studies, 1 Ray run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ray

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, not an install
from benchmark_io import save_and_report  # noqa: E402  (this folder)
from train_overhead import make_shards, plain_loop, settle  # noqa: E402  (this folder)

from triage_ray.common.ray_session import train_env  # noqa: E402
from triage_ray.data.schema import NIH_FINDINGS  # noqa: E402
from triage_ray.xray.config import XrayConfig  # noqa: E402

OUT = Path(__file__).parents[1] / "reports" / "benchmarks" / "train_startup.json"
PHASES = (("ray_setup", "fit_called", "worker_started"),
          ("first_batch", "worker_started", "first_batch"),
          ("epoch", "first_batch", "worker_returned"),
          ("teardown", "worker_returned", "fit_returned"))


def timed_worker(cfg: dict[str, Any]) -> None:
    """The project's worker function, with time stamps appended to cfg["stamps_file"]. Defined in
    the script, so Ray ships it by value: the worker needs nothing of this folder."""
    import json as _json
    import time as _time

    import triage_ray.train.loop as loop

    path = cfg["stamps_file"]

    def stamp(name: str) -> None:
        with open(path, "a") as f:
            f.write(_json.dumps({"event": name, "t": _time.time()}) + "\n")

    stamp("worker_started")
    batches = loop._train_batches

    def first_stamped(*args, **kwargs):
        for i, batch in enumerate(batches(*args, **kwargs)):
            if i == 0:
                stamp("first_batch")
            yield batch

    loop._train_batches = first_stamped  # this worker process only; put back below
    try:
        loop.train_loop_per_worker(cfg)
    finally:
        loop._train_batches = batches
    stamp("worker_returned")


def first_of(rows: list[dict[str, Any]], event: str) -> float | None:
    times = [r["t"] for r in rows if r["event"] == event]
    return times[0] if times else None


def ray_run(cfg: XrayConfig, params: dict[str, Any], shard_dir: Path, storage: Path,
            name: str) -> dict[str, Any]:
    """One Ray Train run of the project's trainer (build_trainer) with the stamped worker."""
    from ray.train.torch import TorchTrainer

    from triage_ray.train.fit import build_trainer

    stamps = storage / f"{name}_stamps.jsonl"
    base = build_trainer(cfg, params, str(shard_dir), vocabulary=NIH_FINDINGS,
                         storage_path=str(storage / "runs"), name=name)
    trainer = TorchTrainer(timed_worker,
                           train_loop_config={**base.train_loop_config, "stamps_file": str(stamps)},
                           scaling_config=base.scaling_config, datasets=base.datasets,
                           dataset_config=base.data_config, run_config=base.run_config)
    t0 = time.time()
    result = trainer.fit()
    t1 = time.time()
    rows = [{"event": "fit_called", "t": t0}, *map(json.loads, stamps.read_text().splitlines()),
            {"event": "fit_returned", "t": t1}]
    phases = {}
    for phase, start, end in PHASES:
        a, b = first_of(rows, start), first_of(rows, end)
        phases[phase] = None if a is None or b is None else b - a
    worker = {k: v for k, v in result.metrics.items() if k.startswith("seconds_")}
    return {"wall_s": t1 - t0, "phases_s": phases, "worker_seconds": worker}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n-studies", type=int, default=1200)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--backbone", default="resnet10t")
    p.add_argument("--repeats", type=int, default=2, help="Ray Train runs (the first may warm caches)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads, both loops")
    p.add_argument("--smoke", action="store_true", help="400 studies, 1 Ray Train run")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    if args.smoke:
        args.n_studies, args.repeats = 400, 1
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    from ray.data import DataContext

    from triage_ray.train.fit import train_loop_config

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    cfg = XrayConfig.from_dict({"epochs": 1, "torch_threads": args.threads,
                                "image_size": args.size})
    params = {"backbone": args.backbone, "lr": 1e-3, "init": "scratch"}
    out: dict[str, Any] = {"benchmark": "train_startup", "smoke": args.smoke,
                           "n_studies": args.n_studies, "image_size": args.size, "epochs": 1,
                           "params": params, "batch_size": cfg.batch_size,
                           "torch_threads": args.threads, "cpus_per_worker": cfg.cpus_per_worker,
                           "ray_num_cpus": 4, "cpu_count": os.cpu_count(),
                           "machine": platform.platform(), "phases": [p[0] for p in PHASES]}
    ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": train_env()})  # the Train settings the project runs with
    DataContext.get_current().enable_progress_bars = False
    with tempfile.TemporaryDirectory(prefix="triage_ray_train_startup_") as tmp:
        shard_dir, splits = make_shards(Path(tmp), args.n_studies, args.size, cfg.seed)
        out["splits"] = splits
        settle()
        plain = plain_loop(train_loop_config(cfg, params, NIH_FINDINGS, splits["train"]), shard_dir)
        out["plain_wall_s"] = plain["marks"][-1] - plain["start"]
        out["ray_train"] = []
        for i in range(args.repeats):
            settle()
            out["ray_train"].append(ray_run(cfg, params, shard_dir, Path(tmp), f"startup_{i}"))
    ray.shutdown()
    out["ray_wall_s_median"] = statistics.median(r["wall_s"] for r in out["ray_train"])
    out["ratio"] = out["ray_wall_s_median"] / out["plain_wall_s"]
    return save_and_report(out, args.out, report)


def report(out: dict[str, Any], path: Path) -> None:
    """Each run's phases, then the headline ratio on the last line."""
    print(f"splits: {out['splits']}; {out['params']['backbone']} at {out['image_size']} px, "
          f"{out['torch_threads']} torch threads, 1 epoch")
    print(f"plain loop, one epoch (train, validation, checkpoint, held-out): "
          f"{out['plain_wall_s']:.1f} s")
    for i, run in enumerate(out["ray_train"]):
        parts = ", ".join(f"{k} {v:.1f} s" if v is not None else f"{k} n/a"
                          for k, v in run["phases_s"].items())
        print(f"Ray Train run {i + 1}: fit() {run['wall_s']:.1f} s = {parts}")
    print(f"wrote {path}")
    print(f"Ray Train fit() / plain loop, one epoch = {out['ratio']:.1f}x "
          f"(median of {len(out['ray_train'])})")


if __name__ == "__main__":
    main()
