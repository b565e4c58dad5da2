"""What training at a published resolution costs on this machine's CPU, against the laptop default:
per-image seconds of ingest (decode + crop + resize of an NIH-sized 1024 px PNG and a
CheXpert-small-sized 320 x 390 JPEG) and of a training step and an inference pass (plain torch
loop, no Ray) at 224 px against 64 px, for resnet10t (the default) and densenet121 (CheXNet's and
torchxrayvision's architecture). From those, the projected hours per epoch for 10k and 100k
studies (docs/hospital-data.md quotes them as projections from these measurements). Writes
reports/benchmarks/real_resolution.json; prints the headline ratio (seconds per training image at
224 px / at 64 px, resnet10t) last.

    .venv/bin/python benchmarks/real_resolution.py           # about a minute on 2 cores
    .venv/bin/python benchmarks/real_resolution.py --smoke   # seconds
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from benchmark_io import save_and_report
from PIL import Image

from triage_ray.data.images import load_gray

OUT = Path("reports/benchmarks/real_resolution.json")
SOURCES = {"nih_png_1024": ((1024, 1024), "png"), "chexpert_small_jpeg": ((320, 390), "jpg")}


def ingest_s(path: Path, size: int, n: int) -> float:
    """Seconds per image of `load_gray` (what ingest does per file), best of two rounds."""
    best = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        for _ in range(n):
            load_gray(path, size)
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def model_s(backbone: str, size: int, batch: int, steps: int) -> dict[str, float]:
    """Seconds per image of a training step (forward, backward, SGD) and of inference."""
    import torch

    from triage_ray.models import create_backbone

    torch.manual_seed(0)
    model = create_backbone(backbone)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 1, size, size)
    y = torch.randint(0, 2, (batch,)).float()
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step() -> None:
        opt.zero_grad()
        loss_fn(model(x)[:, 0], y).backward()
        opt.step()

    model.train()
    step()  # warm-up: allocator and kernels
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    train = (time.perf_counter() - t0) / (steps * batch)
    model.eval()
    with torch.inference_mode():
        model(x)
        t0 = time.perf_counter()
        for _ in range(steps):
            model(x)
    return {"train_s_per_image": train, "infer_s_per_image": (time.perf_counter() - t0) / (steps * batch)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbones", nargs="+", default=["resnet10t", "densenet121"])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if args.smoke:
        args.backbones, args.batch, args.steps, args.files = ["resnet10t"], 2, 1, 2
    import torch

    sizes = (64, 224)
    rng = np.random.default_rng(0)
    ingest: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, ((w, h), fmt) in SOURCES.items():
            path = Path(tmp) / f"{name}.{fmt}"
            Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), "L").save(path)
            ingest[name] = {str(px): ingest_s(path, px, args.files) for px in sizes}
    models = {b: {str(px): model_s(b, px, args.batch, args.steps) for px in sizes}
              for b in args.backbones}
    projected = {b: {n: {str(px): n * (m[str(px)]["train_s_per_image"]
                                       + m[str(px)]["infer_s_per_image"]) / 3600 for px in sizes}
                     for n in (10_000, 100_000)} for b, m in models.items()}
    head = models["resnet10t"]
    out = {
        "benchmark": "real_resolution", "smoke": args.smoke, "device": "cpu",
        "torch_threads": torch.get_num_threads(), "batch": args.batch, "steps": args.steps,
        "ingest_s_per_image": ingest, "model": models,
        "projected_hours_per_epoch": projected,
        "projection": "studies x (train + inference s/image); one training pass and one held-out "
                      "pass per epoch, no Ray overhead, no data loading (ingest is separate, once)",
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "ratio": head["224"]["train_s_per_image"] / head["64"]["train_s_per_image"],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "torch": torch.__version__},
    }
    return save_and_report(out, args.out, report)


def report(out: dict, path: Path) -> None:
    for src, by_px in out["ingest_s_per_image"].items():
        print(f"ingest {src}: " + ", ".join(f"{px} px {s * 1e3:.1f} ms" for px, s in by_px.items()))
    for b, by_px in out["model"].items():
        for px, m in by_px.items():
            print(f"{b} {px} px: train {m['train_s_per_image'] * 1e3:.1f} ms/image, "
                  f"inference {m['infer_s_per_image'] * 1e3:.1f} ms/image")
        for n, h in out["projected_hours_per_epoch"][b].items():
            print(f"  projected epoch, {n:,} studies: " + ", ".join(f"{px} px {v:.2f} h"
                                                               for px, v in h.items()))
    print(f"wrote {path}")
    print(f"training s/image at 224 px / at 64 px (resnet10t, CPU) = {out['ratio']:.1f}x")


if __name__ == "__main__":
    main()
