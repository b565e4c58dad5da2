"""Images/s into a training loop: (a) torch DataLoader over PNGs, (b) Ray Data read_images over the
same PNGs, (c) Ray Data over shards written once by ingest_to_shards. One run, same images, same
consumer (a (B, H, W) uint8 torch tensor per batch). Also times generation (serial and Ray) and
the one-off ingest. Writes reports/benchmarks/data_throughput.json; prints the headline ratio
(c)/(a) last. Target: >= 1.0x.

    .venv/bin/python benchmarks/data_throughput.py            # 3,000 images at 128 px
    .venv/bin/python benchmarks/data_throughput.py --smoke    # seconds, for CI
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from triage_ray.data.images import load_gray
from triage_ray.data.ingest import ingest_to_shards
from triage_ray.data.nih import load_nih
from triage_ray.data.stream import batch_to_images, read_shards
from triage_ray.data.synth import generate_nih_tree
from triage_ray.data.synth.metadata import draw_studies
from triage_ray.data.synth.render import render_chunk

OUT = Path("reports/benchmarks/data_throughput.json")


class PngDataset:
    """The plain baseline: decode + resize each PNG in a DataLoader worker."""

    def __init__(self, paths: list[str], size: int):
        self.paths, self.size = paths, size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        import torch

        return torch.from_numpy(load_gray(self.paths[i], self.size))


def timed_epochs(make_batches, n_expected: int, epochs: int) -> list[float]:
    """images/s of each epoch; every epoch must deliver exactly n_expected images."""
    import torch

    rates = []
    for _ in range(epochs):
        t0, n = time.perf_counter(), 0
        for batch in make_batches():
            assert isinstance(batch, torch.Tensor) and batch.dtype == torch.uint8
            n += batch.shape[0]
        rates.append(n / (time.perf_counter() - t0))
        if n != n_expected:
            raise RuntimeError(f"an epoch delivered {n} images, expected {n_expected}")
    return rates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--smoke", action="store_true", help="400 images at 64 px, 2 epochs")
    args = ap.parse_args()
    if args.smoke:
        args.n, args.size, args.epochs = 400, 64, 2

    import ray
    import torch
    from ray.data import DataContext

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    torch.set_num_threads(1)
    result: dict = {"n_images": args.n, "image_size": args.size, "epochs": args.epochs,
                    "batch_size": args.batch_size, "workers": args.workers,
                    "cpu_count": os.cpu_count(), "machine": platform.platform(),
                    "load_avg_start": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="triage_ray_bench_") as tmp:
        tmp_path = Path(tmp)
        # generation: serial rate on a slice, then the whole set with Ray tasks
        specs = draw_studies(min(300, args.n), seed=0, prevalence=None, difficulty=1.0,
                             label_noise=True, image_size=args.size).specs
        t0 = time.perf_counter()
        render_chunk(specs, args.size, 0)
        result["generate_serial_img_s"] = len(specs) / (time.perf_counter() - t0)

        ray.init(address="local", num_cpus=args.workers, include_dashboard=False,
                 log_to_driver=False)  # a private cluster, even if another is running
        DataContext.get_current().enable_progress_bars = False
        gen = generate_nih_tree(tmp_path / "gen", args.n, image_size=args.size, seed=0,
                                ceiling_sample=0)
        result["generate_ray_img_s"] = gen.images_per_s
        studies = load_nih(gen.root)
        paths = studies["path"].tolist()

        t0 = time.perf_counter()
        rep = ingest_to_shards(studies, tmp_path / "shards", image_size=args.size)
        ingest_s = time.perf_counter() - t0
        result["ingest_img_s"] = rep.n_out / ingest_s

        loader = torch.utils.data.DataLoader(
            PngDataset(paths, args.size), batch_size=args.batch_size, num_workers=args.workers,
            persistent_workers=True)
        result["a_torch_dataloader_png"] = timed_epochs(lambda: iter(loader), args.n, args.epochs)

        png_ds = ray.data.read_images(paths, mode="L", size=(args.size, args.size))

        def ray_png():
            for b in png_ds.iter_batches(batch_size=args.batch_size, batch_format="numpy"):
                yield torch.from_numpy(np.ascontiguousarray(b["image"]).reshape(-1, args.size, args.size))

        result["b_ray_data_png"] = timed_epochs(ray_png, args.n, args.epochs)

        shard_ds = read_shards(tmp_path / "shards")

        def ray_shards():
            for b in shard_ds.iter_batches(batch_size=args.batch_size, batch_format="numpy"):
                yield torch.from_numpy(batch_to_images(b))

        result["c_ray_data_shards"] = timed_epochs(ray_shards, args.n, args.epochs)
        ray.shutdown()

    # steady state: the best later epoch (the first pays worker start-up and cold caches)
    steady = {k: max(result[k][1:] or result[k]) for k in
              ("a_torch_dataloader_png", "b_ray_data_png", "c_ray_data_shards")}
    result["steady_img_s"] = steady
    result["ratio_b_over_a"] = steady["b_ray_data_png"] / steady["a_torch_dataloader_png"]
    result["ratio_c_over_a"] = steady["c_ray_data_shards"] / steady["a_torch_dataloader_png"]
    # (c) again, charged with the one-off ingest: images delivered / (ingest + all epochs)
    c_time = sum(args.n / r for r in result["c_ray_data_shards"])
    result["c_incl_ingest_img_s"] = args.epochs * args.n / (ingest_s + c_time)
    result["load_avg_end"] = os.getloadavg()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    print(f"generation: serial {result['generate_serial_img_s']:.0f} img/s, "
          f"Ray {result['generate_ray_img_s']:.0f} img/s; ingest {result['ingest_img_s']:.0f} img/s")
    for k, v in steady.items():
        print(f"{k:>24}: {v:8.0f} img/s (epochs: {', '.join(f'{r:.0f}' for r in result[k])})")
    print(f"(c) charged with the one-off ingest, over {args.epochs} epochs: "
          f"{result['c_incl_ingest_img_s']:.0f} img/s")
    print(f"(b) Ray Data PNG / (a) DataLoader PNG = {result['ratio_b_over_a']:.2f}x")
    print(f"(c) Ray Data shards / (a) DataLoader PNG = {result['ratio_c_over_a']:.2f}x")


if __name__ == "__main__":
    main()
