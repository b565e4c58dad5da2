"""Images/s of the project's Ray Train loop against a plain PyTorch loop, same model and data.

Why: every sweep trial trains through Ray Train (`triage_ray.train.fit.build_trainer`, one
TorchTrainer worker running `train_loop_per_worker`); what Ray costs there is paid by every trial.
The baseline is the same training step (`triage_ray.train.steps`) in a plain loop in this process,
on the same shards (read into memory), with the same settings (`train_loop_config`: backbone, init,
lr, schedule, supervision, batch size, torch threads). Both loops do the Train loop's whole epoch:
train, score the calib split, save a checkpoint, and after the last epoch predict the other held-out
splits. An epoch ends at its report: for Ray Train the worker-side time stamp in the checkpoint's
directory name (`checkpoint_<date>_<time>.<microseconds>`, made on the worker inside
`ray.train.report`), for the plain loop the clock at the same point. Steady = every epoch after the
first (the first pays start-up: worker, model, pipeline warm-up). Ray Train's start-up is reported
beside it but not counted. The runs alternate, plain first and last (plain, Ray Train, plain, Ray
Train, plain for --repeats 2): each Ray Train run is compared with the mean of the plain runs on
either side of it, and the headline is the median of those ratios. Why: on a shared (virtual)
machine the speed moves by 10-30% within minutes (measured: one pair gave 0.70x, another 0.95x on
the same code), so one pair says little; the spread of the ratios is printed and kept.

Also: this CPU's dense float32 matmul peak (GFLOP/s, best of a few, same thread count) and the plain
loop's achieved training GFLOP/s (forward + backward FLOPs per image from
torch.utils.flop_counter.FlopCounterMode, times the plain loop's training-only images/s).

Target: Ray Train within 10% of the plain loop (ratio >= 0.90). Writes
reports/benchmarks/train_overhead.json; prints the ratio last.

    .venv/bin/python benchmarks/train_overhead.py          # 2,000 training studies, 64 px, 4 epochs, 2 pairs
    .venv/bin/python benchmarks/train_overhead.py --smoke  # 300 training studies, 32 px, 2 epochs, 1 pair
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import ray.train

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, not an install
from benchmark_io import save_and_report  # noqa: E402  (this folder)

from triage_ray.common.ray_session import train_env  # noqa: E402
from triage_ray.data.schema import NIH_FINDINGS  # noqa: E402
from triage_ray.xray.config import XrayConfig  # noqa: E402

OUT = Path(__file__).parents[1] / "reports" / "benchmarks" / "train_overhead.json"
TARGET_RATIO = 0.90
# what the Train worker reports of each epoch's time (train.loop.epoch_seconds, validation)
WORKER_SECONDS = ("seconds_train", "seconds_data_wait", "seconds_validation",
                  "seconds_previous_report")
CHECKPOINT_PREFIX = "checkpoint_"
CHECKPOINT_TIME = "%Y-%m-%d_%H-%M-%S.%f"  # ray.train.v2 storage: date_str(include_ms=True)


class ReportTimes(ray.train.UserCallback):
    """Runs on the Train controller: appends one JSON line per report (the checkpoint path, the
    controller's clock, rank 0's metrics) to a file the driver reads after fit()."""

    def __init__(self, path: str):
        self.path = path

    def after_report(self, run_context, metrics: list[dict[str, Any]], checkpoint) -> None:
        rank0 = metrics[0] if metrics else {}
        row = {"controller_time": time.time(), "checkpoint": checkpoint.path if checkpoint else None,
               "epoch": rank0.get("epoch"), "n_train": rank0.get("n_train")}
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")


def worker_report_time(checkpoint_path: str | None) -> float | None:
    """Worker-side Unix time of a report, from its checkpoint's directory name (None: no stamp).

    Why not the controller's clock: the controller polls workers every 2 s
    (RAY_TRAIN_HEALTH_CHECK_INTERVAL_S), which would put up to 2 s of jitter on each epoch."""
    if not checkpoint_path:
        return None
    name = Path(checkpoint_path).name
    if not name.startswith(CHECKPOINT_PREFIX):
        return None
    try:
        return datetime.strptime(name[len(CHECKPOINT_PREFIX):], CHECKPOINT_TIME).timestamp()
    except ValueError:
        return None


def settle(max_s: float = 30.0, busy_cpu_s: float = 0.1) -> float:
    """Wait until this process's Ray descendants are idle (< busy_cpu_s CPU-seconds in a second),
    at most max_s; returns the seconds waited. Why: after ray.init or a Ray Data job Ray is still
    starting or reaping workers, and a loop timed then measures that, not itself (seen: the first
    plain loop at 40 img/s, the same loop a minute later at 600)."""
    import ray  # noqa: F401  (Ray ships psutil in ray/thirdparty_files and puts it first on sys.path)

    psutil = importlib.import_module("psutil")
    me, t0 = psutil.Process(), time.time()

    def children_cpu() -> float:
        total = 0.0
        for p in me.children(recursive=True):
            try:
                c = p.cpu_times()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            total += c.user + c.system
        return total

    before = children_cpu()
    while time.time() - t0 < max_s:
        time.sleep(1.0)
        now = children_cpu()
        if now - before < busy_cpu_s:
            break
        before = now
    return time.time() - t0


def make_shards(root: Path, n_studies: int, size: int, seed: int) -> tuple[Path, dict[str, int]]:
    """Generated studies, split by patient as the pipeline splits them, ingested into shards."""
    from triage_ray.data.ingest import ingest_to_shards
    from triage_ray.data.nih import load_nih
    from triage_ray.data.splits import patient_split
    from triage_ray.data.synth import generate_nih_tree

    generate_nih_tree(root / "tree", n_studies, image_size=size, seed=seed, ceiling_sample=0)
    studies = load_nih(root / "tree")
    studies["split"] = patient_split(studies, XrayConfig().splits, seed=seed).to_numpy()
    ingest_to_shards(studies, root / "shards", image_size=size)
    return root / "shards", studies["split"].value_counts().to_dict()


def matmul_peak_gflops(n: int, repeats: int, threads: int) -> float:
    """Best-of-`repeats` float32 n x n matmul rate: the ceiling a dense CPU kernel reaches here."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)  # warm-up: thread pool, page faults
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def train_flops_per_image(backbone: str, n_outputs: int, size: int, batch: int) -> dict[str, float]:
    """Forward and forward+backward FLOPs per image of one training batch (FlopCounterMode counts
    2 FLOPs per multiply-add of the convolutions and matmuls; elementwise ops are not counted)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from triage_ray.models import create_backbone

    model = create_backbone(backbone, num_outputs=n_outputs).train()
    x = torch.rand(batch, 1, size, size)
    with FlopCounterMode(display=False) as counter:
        out = model(x)
        forward = counter.get_total_flops()
        out.sum().backward()
        total = counter.get_total_flops()
    return {"forward": forward / batch, "train": total / batch}


def held_out_images(shard_dir: Path) -> np.ndarray:
    """The held-out images the Train loop's last-epoch pass reads: all but the validation split,
    whose logits that epoch's validation pass already has."""
    from triage_ray.train.heldout import HELDOUT_SPLITS, VALIDATION_SPLIT
    from triage_ray.xray.learning_curve import read_split

    return np.concatenate([read_split(str(shard_dir), s)[1] for s in HELDOUT_SPLITS
                           if s != VALIDATION_SPLIT])


def plain_loop(loop_cfg: dict[str, Any], shard_dir: Path) -> dict[str, Any]:
    """The baseline: the Train worker's epoch (train_epoch, calib scoring, checkpoint, held-out
    pass after the last epoch) on in-memory arrays, no Ray. Returns per-epoch times and counts."""
    import torch

    from triage_ray.models import create_backbone, grayscale_normalisation
    from triage_ray.train.loop import PREDICT_BATCH, save_checkpoint
    from triage_ray.train.schedules import build_optimizer
    from triage_ray.train.steps import array_batches, array_chunks, predict, train_epoch, validation_metrics
    from triage_ray.train.supervision import get_supervision
    from triage_ray.xray.learning_curve import read_split

    c = loop_cfg
    torch.manual_seed(c["seed"])
    torch.set_num_threads(int(c["torch_threads"]))
    train, x_train = read_split(str(shard_dir), "train")
    val, x_val = read_split(str(shard_dir), "calib")
    x_held = held_out_images(shard_dir)
    sup = get_supervision(c["supervision"], c["findings"])
    y = sup.targets(train["label"].to_numpy(), train["findings"].to_numpy())
    model = create_backbone(c["backbone"], pretrained=False, num_outputs=sup.n_outputs)
    mean, std = grayscale_normalisation(model)
    optimizer, schedule = build_optimizer(model, lr=c["lr"], weight_decay=c["weight_decay"],
                                          epochs=c["epochs"], schedule=c["schedule"],
                                          steps_per_epoch=c["steps_per_epoch"])
    rng, gen = np.random.default_rng(c["seed"]), torch.Generator()
    marks, train_s, n_train, val_s, checkpoint_s = [], [], [], [], []
    load, start = os.getloadavg(), time.time()
    for epoch in range(c["epochs"]):
        gen.manual_seed((c["seed"] * 1000 + epoch) * 1000)
        t0 = time.perf_counter()
        _, n = train_epoch(model, array_batches(x_train, y, c["batch_size"], rng), optimizer, sup,
                           mean=mean, std=std, augment=c["augment"], generator=gen, schedule=schedule)
        schedule.after_epoch()
        train_s.append(time.perf_counter() - t0)
        n_train.append(n)
        t1 = time.perf_counter()
        logit = predict(model, array_chunks(x_val, PREDICT_BATCH), mean=mean, std=std)[:, 0]
        validation_metrics(logit, val["label"].to_numpy())
        val_s.append(time.perf_counter() - t1)
        t1 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            save_checkpoint(Path(tmp), model, optimizer, schedule.scheduler, epoch, {"epoch": epoch})
            if epoch == c["epochs"] - 1:
                held = predict(model, array_chunks(x_held, PREDICT_BATCH), mean=mean, std=std)[:, 0]
                np.savez(Path(tmp) / "heldout.npz", logit=held)
        checkpoint_s.append(time.perf_counter() - t1)
        marks.append(time.time())
    return {"start": start, "marks": marks, "n_train": n_train, "train_only_s": train_s,
            "validation_s": val_s, "checkpoint_s": checkpoint_s, "load_avg_before": load}


def ray_train_loop(cfg: XrayConfig, params: dict[str, Any], shard_dir: Path, storage: Path,
                   name: str) -> dict[str, Any]:
    """The project's TorchTrainer (build_trainer) with a report-timing callback; per-epoch marks
    are the worker's report times (controller times where a checkpoint name has no stamp). Each
    run has its own `name`: the same name under the same storage would resume the last run."""
    from triage_ray.train.fit import build_trainer

    times_file = storage / f"{name}_report_times.jsonl"
    trainer = build_trainer(cfg, params, str(shard_dir), vocabulary=NIH_FINDINGS,
                            storage_path=str(storage / "runs"), name=name,
                            callbacks=[ReportTimes(str(times_file))])
    load, start = os.getloadavg(), time.time()
    result = trainer.fit()
    wall = time.time() - start
    history = json.loads((Path(result.checkpoint.path) / "meta.json").read_text())["history"]
    rows = [json.loads(line) for line in times_file.read_text().splitlines()]
    stamps = [worker_report_time(r["checkpoint"]) for r in rows]
    source = "worker checkpoint stamp" if all(s is not None for s in stamps) else "controller clock"
    marks = stamps if source.startswith("worker") else [r["controller_time"] for r in rows]
    return {"start": start, "marks": marks, "n_train": [r["n_train"] for r in rows],
            "controller_marks": [r["controller_time"] for r in rows], "mark_source": source,
            "fit_wall_s": wall, "load_avg_before": load,
            "worker_seconds": [{k: h.get(k) for k in WORKER_SECONDS} for h in history]}


def steady(run: dict[str, Any]) -> dict[str, Any]:
    """Per-epoch seconds (epoch 0 from the loop's start) and images/s over epochs 1.. (steady)."""
    marks, n = run["marks"], run["n_train"]
    if len(marks) < 2:
        raise ValueError("need at least 2 epochs: the first is start-up and is not counted")
    epoch_s = [marks[0] - run["start"]] + [b - a for a, b in zip(marks, marks[1:], strict=False)]
    return {"epoch_s": epoch_s, "steady_img_s": sum(n[1:]) / (marks[-1] - marks[0]),
            "per_epoch_img_s": [k / s for k, s in zip(n, epoch_s, strict=True)]}


def baseline(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The plain loop runs (before, between and after the Ray Train runs): their mean, and their
    spread, which says how much the machine's speed moved during the benchmark."""
    for run in runs:
        run.update(steady(run))
        run["train_only_img_s"] = sum(run["n_train"][1:]) / sum(run["train_only_s"][1:])
    rates = [r["steady_img_s"] for r in runs]
    mean = sum(rates) / len(rates)
    return {"runs": runs, "steady_img_s": mean, "spread": (max(rates) - min(rates)) / mean,
            "train_only_img_s": sum(r["train_only_img_s"] for r in runs) / len(runs),
            "first_epoch_s": sum(r["epoch_s"][0] for r in runs) / len(runs)}


def paired_ratios(plain_runs: list[dict[str, Any]], ray_runs: list[dict[str, Any]]) -> list[float]:
    """Ray Train run i against the mean of plain runs i and i + 1 (the ones either side of it)."""
    out = []
    for i, rt in enumerate(ray_runs):
        around = (plain_runs[i]["steady_img_s"] + plain_runs[i + 1]["steady_img_s"]) / 2
        out.append(rt["steady_img_s"] / around)
    return out


def breakdown(plain_runs: list[dict[str, Any]],
              ray_runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean seconds per steady epoch (epochs 1..) by part, plain loop against the Train worker:
    computing the training pass, waiting for its batches, validation, checkpoint (+ report), and
    what the epoch's wall time leaves over (Ray: the report's round trip through the controller)."""
    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs) if xs else float("nan")

    runs = plain_runs
    p_epoch = mean([s for r in runs for s in r["epoch_s"][1:]])
    p_train = mean([s for r in runs for s in r["train_only_s"][1:]])
    p_val = mean([s for r in runs for s in r["validation_s"][1:]])
    p_ckpt = mean([s for r in runs for s in r["checkpoint_s"][:-1]])  # the last adds held-out
    w = [e for rt in ray_runs for e in rt["worker_seconds"][1:]]
    r_train = mean([e["seconds_train"] for e in w])
    r_wait = mean([e["seconds_data_wait"] for e in w])
    r_val = mean([e["seconds_validation"] for e in w])
    # the last epoch's own report is not measured by the worker (nothing follows it)
    r_report = mean([e["seconds_previous_report"] for e in w
                     if e.get("seconds_previous_report") is not None])
    r_epoch = mean([s for rt in ray_runs for s in rt["epoch_s"][1:]])
    return {
        "plain": {"epoch": p_epoch, "compute": p_train, "data_wait": 0.0, "validation": p_val,
                  "checkpoint": p_ckpt, "other": p_epoch - p_train - p_val - p_ckpt},
        "ray_train": {"epoch": r_epoch, "compute": r_train - r_wait, "data_wait": r_wait,
                      "validation": r_val, "checkpoint": r_report,
                      "other": r_epoch - r_train - r_val - r_report},
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n-train", type=int, default=2000, help="training studies (about half the set)")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--repeats", type=int, default=2,
                   help="Ray Train runs, each between two plain runs (plain runs: repeats + 1)")
    p.add_argument("--backbone", default="resnet10t")
    p.add_argument("--batch-size", type=int, default=XrayConfig().batch_size)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads, both loops")
    p.add_argument("--matmul-n", type=int, default=2048)
    p.add_argument("--smoke", action="store_true",
                   help="300 training studies at 32 px, 2 epochs, 1 Ray Train run")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    if args.smoke:
        args.n_train, args.size, args.epochs, args.matmul_n, args.repeats = 300, 32, 2, 1024, 1
    if args.repeats < 1 or args.epochs < 2:
        p.error("need --repeats >= 1 and --epochs >= 2 (the first epoch is start-up, not counted)")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    from ray.data import DataContext

    from triage_ray.train.fit import train_loop_config
    from triage_ray.train.supervision import get_supervision

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    cfg = XrayConfig.from_dict({"epochs": args.epochs, "batch_size": args.batch_size,
                                "torch_threads": args.threads, "image_size": args.size})
    params = {"backbone": args.backbone, "lr": 1e-3, "init": "scratch"}
    n_studies = math.ceil(args.n_train / cfg.splits["train"])
    out: dict[str, Any] = {"benchmark": "train_overhead", "smoke": args.smoke, "n_studies": n_studies,
                           "image_size": args.size, "epochs": args.epochs, "params": params,
                           "batch_size": args.batch_size, "torch_threads": args.threads,
                           "cpus_per_worker": cfg.cpus_per_worker, "num_workers": cfg.num_workers,
                           "ray_num_cpus": 4, "supervision": cfg.supervision,
                           "cpu_count": os.cpu_count(), "machine": platform.platform(),
                           "load_avg_start": os.getloadavg(),
                           "work_per_epoch": "both loops: train, score the calib split (validation "
                           "loss + AUROC), save a checkpoint; the last epoch also predicts select"
                           "+test. Validation is INCLUDED in both; steady = epochs after the first",
                           "order": "plain, then (Ray Train, plain) x repeats, same process and shards; "
                           "ratio i = Ray Train run i / mean of the plain runs either side; "
                           "headline = median of the ratios", "repeats": args.repeats}
    ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": train_env()})  # the Train settings the project runs with
    DataContext.get_current().enable_progress_bars = False
    with tempfile.TemporaryDirectory(prefix="triage_ray_train_overhead_") as tmp:
        shard_dir, splits = make_shards(Path(tmp), n_studies, args.size, cfg.seed)
        out["splits"] = splits
        loop_cfg = train_loop_config(cfg, params, NIH_FINDINGS, splits["train"])
        out["settle_s"] = [settle()]
        plain_runs = [plain_loop(loop_cfg, shard_dir)]
        ray_runs = []
        for i in range(args.repeats):
            out["settle_s"].append(settle())
            ray_runs.append(ray_train_loop(cfg, params, shard_dir, Path(tmp), f"train_overhead_{i}"))
            out["settle_s"].append(settle())
            plain_runs.append(plain_loop(loop_cfg, shard_dir))
    ray.shutdown()
    out["plain"] = plain = baseline(plain_runs)
    for rt in ray_runs:
        rt.update(steady(rt))
        rt["start_up_s"] = rt["epoch_s"][0] - plain["first_epoch_s"]  # beyond the plain first epoch
    out["ray_train"] = {"runs": ray_runs,
                        "steady_img_s": sum(r["steady_img_s"] for r in ray_runs) / len(ray_runs),
                        "start_up_s": sum(r["start_up_s"] for r in ray_runs) / len(ray_runs)}
    out["ratios"] = paired_ratios(plain_runs, ray_runs)
    out["ratio"] = float(np.median(out["ratios"]))
    out["where_the_time_goes"] = breakdown(plain_runs, ray_runs)
    n_outputs = get_supervision(cfg.supervision, NIH_FINDINGS).n_outputs
    flops = train_flops_per_image(args.backbone, n_outputs, args.size, args.batch_size)
    peak = matmul_peak_gflops(args.matmul_n, 3 if args.smoke else 5, args.threads)
    achieved = flops["train"] * plain["train_only_img_s"] / 1e9
    out["flops"] = {"per_image_forward": flops["forward"], "per_image_train": flops["train"],
                    "counted_by": "torch.utils.flop_counter.FlopCounterMode, one batch, fwd + bwd",
                    "matmul_n": args.matmul_n, "matmul_peak_gflops": peak,
                    "plain_train_gflops": achieved, "fraction_of_peak": achieved / peak}
    out["target_ratio"] = TARGET_RATIO
    out["meets_target"] = bool(out["ratio"] >= TARGET_RATIO)
    out["load_avg_end"] = os.getloadavg()
    return save_and_report(out, args.out, report)


def report(out: dict[str, Any], path: Path) -> None:
    """The figures, the headline ratio on the last line."""
    plain, rt, f = out["plain"], out["ray_train"], out["flops"]
    print(f"splits: {out['splits']}; {out['params']['backbone']} at {out['image_size']} px, batch "
          f"{out['batch_size']}, {out['torch_threads']} torch threads, {out['epochs']} epochs")
    runs = [("plain", plain["runs"][0])]
    for i, r in enumerate(rt["runs"]):
        runs += [(f"Ray Train {i + 1}", r), ("plain", plain["runs"][i + 1])]
    for name, run in runs:
        print(f"{name:>12}: steady {run['steady_img_s']:.0f} img/s (epochs: "
              f"{', '.join(f'{s:.1f} s' for s in run['epoch_s'])}; validation included)")
    print(f"plain runs: mean {plain['steady_img_s']:.0f} img/s, range {plain['spread']:.0%} of it "
          "(the machine's speed drifting while the benchmark ran)")
    print(f"Ray Train start-up beyond the plain loop's first epoch: {rt['start_up_s']:.1f} s "
          f"(marks: {rt['runs'][0]['mark_source']}); fit() wall "
          + ", ".join(f"{r['fit_wall_s']:.1f} s" for r in rt["runs"]))
    print("Ray Train / the plain runs either side: "
          + ", ".join(f"{r:.2f}x" for r in out["ratios"]))
    print(f"plain loop training only: {plain['train_only_img_s']:.0f} img/s x "
          f"{f['per_image_train'] / 1e9:.3f} GFLOP/img = {f['plain_train_gflops']:.1f} GFLOP/s; "
          f"matmul peak {f['matmul_peak_gflops']:.1f} GFLOP/s ({f['fraction_of_peak']:.0%} of peak)")
    parts = out["where_the_time_goes"]
    print("seconds per steady epoch: " + "; ".join(
        f"{k}: " + ", ".join(f"{part} {v:.2f}" for part, v in d.items()) for k, d in parts.items()))
    print(f"wrote {path}")
    print(f"Ray Train / plain loop = {out['ratio']:.2f}x, median of {len(out['ratios'])} "
          f"(target >= {TARGET_RATIO:.2f})")


if __name__ == "__main__":
    main()
