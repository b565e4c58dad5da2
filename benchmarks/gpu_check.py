"""One-shot GPU check: does the GPU path run, and how fast, at a real resolution?

For a machine lent for a few minutes. On one GPU, with the `--profile gpu` settings (DenseNet-121,
224 px, bfloat16 autocast, channels-last, batch 64), it measures:
1. a plain PyTorch loop on the GPU (the project's own `train_epoch` on in-memory images): steady
   training images/s and the GPU memory peak;
2. the same training through Ray Train (`build_trainer`, one GPU worker, streamed shards): steady
   images/s, the share of each epoch spent waiting for data, the worker's GPU memory peak, and its
   rate against the plain loop's (the headline);
3. pile scoring on the GPU (`score_shards`, one GPU actor): images/s, start-up included;
4. unless --no-sweep: `sweeps/xray.py --smoke --profile gpu`, the whole study end to end on the
   GPU (its wall time and exit status).
Steady = epochs after the first (the first pays cuDNN autotuning and start-up).

On a machine without a GPU it says so and exits with status 2, measuring nothing. `--allow-cpu`
runs it on the CPU anyway, to test the script itself (its figures then say nothing of a GPU).
Writes reports/benchmarks/gpu_check.json; prints the headline ratio last.

    .venv/bin/python benchmarks/gpu_check.py              # one GPU, about 6 min
    .venv/bin/python benchmarks/gpu_check.py --no-sweep   # parts 1-3 only, about 3 min
    .venv/bin/python benchmarks/gpu_check.py --allow-cpu --smoke --no-sweep   # the script's test
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout, not an install
from benchmark_io import save_and_report  # noqa: E402  (this folder)
from train_overhead import make_shards  # noqa: E402  (this folder)

from triage_ray.data.schema import NIH_FINDINGS  # noqa: E402
from triage_ray.train.precision import StepPrecision  # noqa: E402
from triage_ray.xray.config import XrayConfig  # noqa: E402
from triage_ray.xray.profiles import profile_values  # noqa: E402

OUT = ROOT / "reports" / "benchmarks" / "gpu_check.json"
NO_GPU_EXIT = 2


def gpu_facts() -> dict[str, Any] | None:
    """The GPU this process sees (None: none)."""
    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    return {"name": props.name, "count": torch.cuda.device_count(),
            "memory_gb": round(props.total_memory / 2**30, 1),
            "bf16": bool(torch.cuda.is_bf16_supported()), "torch": torch.__version__,
            "cuda": torch.version.cuda}


def steady_rate(n: Sequence[int], seconds: Sequence[float]) -> float:
    """Images/s over every epoch after the first."""
    if len(n) < 2:
        raise ValueError("need at least 2 epochs: the first is warm-up and is not counted")
    return float(sum(n[1:]) / sum(seconds[1:]))


def plain_loop(shard_dir: Path, args: argparse.Namespace, device: torch.device,
               step: StepPrecision) -> dict[str, Any]:
    """The training step in a plain loop on `device`, from in-memory images (no Ray)."""
    from triage_ray.models import create_backbone, grayscale_normalisation
    from triage_ray.train.schedules import build_optimizer
    from triage_ray.train.steps import array_batches, train_epoch
    from triage_ray.train.supervision import get_supervision
    from triage_ray.xray.learning_curve import read_split

    train, x = read_split(str(shard_dir), "train")
    sup = get_supervision("multilabel", NIH_FINDINGS)
    y = sup.targets(train["label"].to_numpy(), train["findings"].to_numpy())
    torch.manual_seed(0)
    model = create_backbone(args.backbone, num_outputs=sup.n_outputs)
    mean, std = grayscale_normalisation(model)
    model = step.prepare_model(model.to(device))
    optimizer, _ = build_optimizer(model, lr=1e-3, weight_decay=1e-4, epochs=args.epochs,
                                   schedule="cosine", steps_per_epoch=None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rng, n, seconds = np.random.default_rng(0), [], []
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        _, k = train_epoch(model, array_batches(x, y, args.batch_size, rng), optimizer, sup,
                           mean=mean, std=std, step=step)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds.append(time.perf_counter() - t0)
        n.append(k)
    peak = int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None
    return {"n_train": n, "epoch_s": seconds, "steady_img_s": steady_rate(n, seconds),
            "gpu_max_memory_bytes": peak}


def ray_train(cfg: XrayConfig, shard_dir: Path, storage: Path, backbone: str) -> dict[str, Any]:
    """The project's TorchTrainer on the same shards; per-epoch figures from the worker's reports."""
    import json

    from triage_ray.train.fit import build_trainer

    t0 = time.time()
    result = build_trainer(cfg, {"backbone": backbone, "lr": 1e-3, "init": "scratch"},
                           str(shard_dir), vocabulary=NIH_FINDINGS, storage_path=str(storage),
                           name="gpu_check").fit()
    wall = time.time() - t0
    history = json.loads((Path(result.checkpoint.path) / "meta.json").read_text())["history"]
    n = [h["n_train"] for h in history]
    train_s = [h["seconds_train"] for h in history]
    wait_s = [h["seconds_data_wait"] for h in history]
    return {"n_train": n, "seconds_train": train_s, "seconds_data_wait": wait_s,
            "steady_img_s": steady_rate(n, train_s),
            "data_wait_share": float(sum(wait_s[1:]) / sum(train_s[1:])),
            "gpu_max_memory_bytes": history[-1].get("gpu_max_memory_bytes"),
            "fit_wall_s": wall, "checkpoint": result.checkpoint.path}


def pile_scoring(shard_dir: Path, checkpoint: str, chunk_dir: Path, use_gpu: bool,
                 step: StepPrecision) -> dict[str, Any]:
    """Every study of the shards scored by one GPU actor (start-up included)."""
    from triage_ray.xray.predict import score_shards

    t0 = time.perf_counter()
    rows = score_shards(shard_dir, checkpoint, chunk_dir, use_gpu=use_gpu, step=step,
                        log=lambda _: None)
    seconds = time.perf_counter() - t0
    return {"n": len(rows), "seconds": seconds, "img_s": len(rows) / seconds}


def study_on_gpu(reports_dir: Path, timeout_s: int) -> dict[str, Any]:
    """`sweeps/xray.py --smoke --profile gpu` from a plain shell: every stage on the GPU."""
    t0 = time.time()
    try:
        out = subprocess.run([sys.executable, "sweeps/xray.py", "--smoke", "--profile", "gpu",
                              "--reports-dir", str(reports_dir)], cwd=ROOT, capture_output=True,
                             text=True, timeout=timeout_s)
        rc, tail = out.returncode, (out.stdout + out.stderr).splitlines()[-15:]
    except subprocess.TimeoutExpired:
        rc, tail = None, [f"stopped after {timeout_s} s"]
    return {"returncode": rc, "wall_s": time.time() - t0, "log_tail": tail}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    gpu = profile_values("gpu")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n-studies", type=int, default=4000, help="generated studies (half train)")
    p.add_argument("--size", type=int, default=gpu["image_size"])
    p.add_argument("--backbone", default=gpu["backbones"][0])
    p.add_argument("--batch-size", type=int, default=gpu["batch_size"])
    p.add_argument("--precision", default=gpu["precision"])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--no-sweep", action="store_true", help="skip the end-to-end smoke study")
    p.add_argument("--sweep-timeout", type=int, default=300)
    p.add_argument("--allow-cpu", action="store_true",
                   help="run on the CPU when there is no GPU (tests the script; figures say "
                        "nothing of a GPU)")
    p.add_argument("--smoke", action="store_true",
                   help="300 studies at 32 px, mobilenetv3_small_050, 2 epochs")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    if args.smoke:
        args.n_studies, args.size, args.backbone, args.epochs = 300, 32, "mobilenetv3_small_050", 2
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    gpu = gpu_facts()
    if gpu is None and not args.allow_cpu:
        print("gpu_check: no GPU here (torch.cuda.is_available() is False); nothing measured. "
              "Run it on a GPU machine, or pass --allow-cpu to test the script itself.")
        sys.exit(NO_GPU_EXIT)
    import ray
    from ray.data import DataContext

    from triage_ray.common.ray_session import train_env

    use_gpu = gpu is not None
    device = torch.device("cuda" if use_gpu else "cpu")
    step = StepPrecision(args.precision, channels_last=True)
    cfg = XrayConfig.from_dict({
        **profile_values("gpu"), "use_gpu": use_gpu, "num_workers": 1, "epochs": args.epochs,
        "batch_size": args.batch_size, "image_size": args.size, "backbones": [args.backbone],
        "precision": args.precision, "cpus_per_worker": 1.0 if use_gpu else 0.5})
    out: dict[str, Any] = {"benchmark": "gpu_check", "gpu": gpu, "smoke": args.smoke,
                           "on_cpu_for_testing": not use_gpu, "n_studies": args.n_studies,
                           "image_size": args.size, "backbone": args.backbone,
                           "batch_size": args.batch_size, "precision": args.precision,
                           "channels_last": True, "epochs": args.epochs,
                           "cpu_count": os.cpu_count(), "machine": platform.platform()}
    ray.init(address="local", num_cpus=max(os.cpu_count() or 1, 4), include_dashboard=False,
             log_to_driver=False, runtime_env={"env_vars": train_env()})
    DataContext.get_current().enable_progress_bars = False
    with tempfile.TemporaryDirectory(prefix="triage_ray_gpu_check_") as tmp:
        t0 = time.time()
        shard_dir, out["splits"] = make_shards(Path(tmp), args.n_studies, args.size, seed=0)
        out["data_s"] = time.time() - t0
        out["plain"] = plain_loop(shard_dir, args, device, step)
        out["ray_train"] = rt = ray_train(cfg, shard_dir, Path(tmp) / "runs", args.backbone)
        out["pile"] = pile_scoring(shard_dir, rt.pop("checkpoint"), Path(tmp) / "chunks",
                                   use_gpu, step)
    ray.shutdown()
    if not args.no_sweep:
        with tempfile.TemporaryDirectory(prefix="triage_ray_gpu_study_") as tmp:
            out["study"] = study_on_gpu(Path(tmp), args.sweep_timeout)
    out["ratio"] = rt["steady_img_s"] / out["plain"]["steady_img_s"]
    return save_and_report(out, args.out, report)


def _gb(b: int | None) -> str:
    return "n/a (CPU)" if b is None else f"{b / 2**30:.2f} GiB"


def report(out: dict[str, Any], path: Path) -> None:
    """The figures, the headline ratio on the last line."""
    where = (f"{out['gpu']['name']} ({out['gpu']['memory_gb']} GiB, bf16 "
             f"{'yes' if out['gpu']['bf16'] else 'no'})" if out["gpu"]
             else "the CPU (--allow-cpu: a test of the script, not a GPU figure)")
    plain, rt, pile = out["plain"], out["ray_train"], out["pile"]
    print(f"on {where}: {out['backbone']} at {out['image_size']} px, batch {out['batch_size']}, "
          f"{out['precision']}, channels-last; {out['splits']} studies made in {out['data_s']:.0f} s")
    print(f"plain PyTorch loop: {plain['steady_img_s']:.0f} training img/s (steady), memory peak "
          f"{_gb(plain['gpu_max_memory_bytes'])}")
    print(f"Ray Train, 1 worker: {rt['steady_img_s']:.0f} training img/s (steady), waiting for "
          f"data {rt['data_wait_share']:.0%} of each epoch, memory peak "
          f"{_gb(rt['gpu_max_memory_bytes'])}, fit() {rt['fit_wall_s']:.0f} s")
    print(f"pile scoring: {pile['img_s']:.0f} img/s ({pile['n']:,} studies in "
          f"{pile['seconds']:.1f} s, start-up included)")
    if "study" in out:
        s = out["study"]
        print(f"sweeps/xray.py --smoke --profile gpu: exit {s['returncode']} in {s['wall_s']:.0f} s")
        if s["returncode"] != 0:
            print("\n".join(s["log_tail"]))
    print(f"written: {path}")
    print(f"Ray Train / plain loop, training img/s on the same device: {out['ratio']:.2f}x")


if __name__ == "__main__":
    main()
