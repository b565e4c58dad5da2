"""Peak memory of the driver and of Ray's worker processes as the data grows: does it stay flat?

Why: the pipeline streams shards through Ray Data so that memory does not grow with the number of
studies; a stage that collects rows in one process (driver or worker) breaks that at scale. For each
size, a fresh Python process (so no peak carries over) generates that many studies, then runs the
measured stages on them: ingest to shards (`ingest_to_shards`), one training epoch through the
project's TorchTrainer (`build_trainer`, epochs=1), and the pipeline's pile scoring over every
shard (`score_shards`: Ray Data batch inference committed in chunks, with the training's
checkpoint). A background thread polls RSS (psutil) every --interval seconds: the driver's own,
the sum over Ray worker processes (descendants of the driver whose command line starts with
"ray::"), and the largest single worker. Ray's own
daemons (raylet, GCS, the dashboard and runtime-env agents) are recorded apart. Generation is
measured but not counted: it makes the input, it is not what the pipeline runs at scale.

RSS counts shared pages (libraries, object-store pages a worker maps) in every process that maps
them, so the worker sum over-counts what the machine uses; the figure compared is the same kind at
every size. Target: flat, the largest size's peak at most 1.3x the smallest's (driver and workers
each; the headline is the larger of the two ratios). Writes reports/benchmarks/memory_scaling.json
(and .png where matplotlib is installed); prints the ratio last.

    .venv/bin/python benchmarks/memory_scaling.py                      # 10k, 30k, 100k studies, 64 px
    .venv/bin/python benchmarks/memory_scaling.py --sizes 10000 30000  # other sizes
    .venv/bin/python benchmarks/memory_scaling.py --smoke              # 300 and 900 studies, 32 px
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, not an install

OUT = Path(__file__).parents[1] / "reports" / "benchmarks" / "memory_scaling.json"
TARGET_RATIO = 1.3
COUNTED = ("ingest", "train", "predict")  # the stages whose peaks are compared across sizes
MB = 2**20
AGENTS = ("ray::DashboardAgent", "ray::RuntimeEnvAgent")  # "ray::" titles, but Ray's daemons


def load_psutil():
    """psutil: the venv does not install it, but Ray ships it in ray/thirdparty_files and puts
    that folder first on sys.path when ray is imported, so this is Ray's copy."""
    import ray  # noqa: F401

    return importlib.import_module("psutil")


class RssPoller(threading.Thread):
    """Polls this process and its descendants; keeps each stage's peaks (see `stage`)."""

    def __init__(self, interval: float):
        super().__init__(daemon=True)
        psutil = load_psutil()
        self.psutil, self.interval = psutil, interval
        self.me = psutil.Process()
        self.stage = "start"
        self.peaks: dict[str, dict[str, Any]] = {}
        self.samples = 0
        self._done, self._lock = threading.Event(), threading.Lock()

    def run(self) -> None:
        while not self._done.is_set():
            self.sample()
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()
        self.sample()

    def sample(self) -> None:
        """One reading: driver RSS, Ray workers' sum and largest, Ray daemons' sum."""
        with self._lock:  # the thread and a stage change (main thread) may both sample
            self._sample()

    def _sample(self) -> None:
        ps = self.psutil
        now = {"driver": self.me.memory_info().rss, "workers_sum": 0, "worker_max": 0,
               "workers_private_sum": 0, "daemons_sum": 0, "n_workers": 0, "worker_max_name": ""}
        for p in self.me.children(recursive=True):
            try:
                cmd, mem = p.cmdline(), p.memory_info()
            except (ps.NoSuchProcess, ps.AccessDenied, ps.ZombieProcess):
                continue
            if cmd and cmd[0].startswith("ray::") and not cmd[0].startswith(AGENTS):
                now["workers_sum"] += mem.rss
                now["workers_private_sum"] += mem.rss - mem.shared
                now["n_workers"] += 1
                if mem.rss > now["worker_max"]:
                    now["worker_max"], now["worker_max_name"] = mem.rss, cmd[0]
            else:
                now["daemons_sum"] += mem.rss
        peak = self.peaks.setdefault(self.stage, {})
        for key, value in now.items():
            if key != "worker_max_name" and value > peak.get(key, -1):
                peak[key] = value
                if key == "worker_max":
                    peak["worker_max_name"] = now["worker_max_name"]
        self.samples += 1


def make_studies(root: Path, n: int, size: int, seed: int):
    """n generated studies with the pipeline's patient split (the input, not measured)."""
    from triage_ray.data.nih import load_nih
    from triage_ray.data.splits import patient_split
    from triage_ray.data.synth import generate_nih_tree
    from triage_ray.xray.config import XrayConfig

    generate_nih_tree(root / "tree", n, image_size=size, seed=seed, ceiling_sample=0)
    studies = load_nih(root / "tree")
    studies["split"] = patient_split(studies, XrayConfig().splits, seed=seed).to_numpy()
    return studies


def train_one_epoch(shard_dir: Path, storage: Path, args: argparse.Namespace) -> str:
    """One epoch through the project's TorchTrainer; returns the checkpoint directory."""
    from triage_ray.data.schema import NIH_FINDINGS
    from triage_ray.train.fit import build_trainer
    from triage_ray.xray.config import XrayConfig

    cfg = XrayConfig.from_dict({"epochs": 1, "torch_threads": args.threads, "image_size": args.px})
    params = {"backbone": args.backbone, "lr": 1e-3, "init": "scratch"}
    result = build_trainer(cfg, params, str(shard_dir), vocabulary=NIH_FINDINGS,
                           storage_path=str(storage), name="memory_scaling").fit()
    return result.checkpoint.path


def measure_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    """The child's work: every stage at one size, RSS polled throughout."""
    import ray
    from ray.data import DataContext

    from triage_ray.data.ingest import ingest_to_shards
    from triage_ray.xray.predict import score_shards

    poller = RssPoller(args.interval)
    poller.start()
    seconds: dict[str, float] = {}

    def stage(name: str) -> None:
        poller.sample()  # close the previous stage on a fresh reading
        poller.stage = name
        seconds[name] = time.time()

    ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False)
    DataContext.get_current().enable_progress_bars = False
    object_store = ray.cluster_resources().get("object_store_memory")
    with tempfile.TemporaryDirectory(prefix="triage_ray_memory_") as tmp:
        stage("generate")
        studies = make_studies(Path(tmp), n, args.px, seed=0)
        stage("ingest")
        ingest = ingest_to_shards(studies, Path(tmp) / "shards", image_size=args.px)
        stage("train")
        checkpoint = train_one_epoch(Path(tmp) / "shards", Path(tmp) / "train", args)
        stage("predict")
        logits = score_shards(Path(tmp) / "shards", checkpoint, Path(tmp) / "chunks",
                              torch_threads=args.threads, log=lambda _: None)
        stage("end")
    poller.stop()
    ray.shutdown()
    if len(logits) != ingest.n_out:
        raise RuntimeError(f"inference scored {len(logits)} studies of {ingest.n_out}")
    marks = list(seconds.items())
    return {"n_studies": n, "n_scored": len(logits), "object_store_memory": object_store,
            "stage_seconds": {a: t1 - t0 for (a, t0), (_, t1) in zip(marks, marks[1:], strict=False)},
            "peaks_mb": {s: {k: (v / MB if isinstance(v, int) and k != "n_workers" else v)
                             for k, v in p.items()} for s, p in poller.peaks.items()},
            "samples": poller.samples}


def counted_peak(result: dict[str, Any], key: str) -> float:
    """The largest `key` peak over the counted stages (ingest, train, predict)."""
    return max(result["peaks_mb"][s][key] for s in COUNTED if s in result["peaks_mb"])


def run_child(n: int, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """One size in a fresh interpreter, so the driver's peak is this size's alone."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(n), "--child-out", str(out),
           "--px", str(args.px), "--backbone", args.backbone, "--threads", str(args.threads),
           "--interval", str(args.interval)]
    t0 = time.time()
    subprocess.run(cmd, check=True)
    result = json.loads(out.read_text())
    result["process_wall_s"] = time.time() - t0
    return result


def plot(curve: list[dict[str, Any]], path: Path) -> str | None:
    """A small PNG of the curve; None (nothing written) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    sizes = [row["n_studies"] for row in curve]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for key, name in (("driver_mb", "driver"), ("workers_sum_mb", "Ray workers (sum)"),
                      ("worker_max_mb", "largest worker")):
        ax.plot(sizes, [row[key] for row in curve], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_xticks(sizes, [label(n) for n in sizes])
    ax.minorticks_off()
    ax.set_xlabel("studies")
    ax.set_ylabel("peak RSS (MB)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.set_title("ingest + 1 training epoch + batch inference", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return str(path)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    p.add_argument("--px", type=int, default=64, help="image size")
    p.add_argument("--backbone", default="resnet10t")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads")
    p.add_argument("--interval", type=float, default=0.25, help="seconds between RSS readings")
    p.add_argument("--smoke", action="store_true", help="300 and 900 studies at 32 px")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    p.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.smoke:
        args.sizes, args.px = [300, 900], 32
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    args = parse_args(argv)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if args.child is not None:  # one size, inside its own process
        args.child_out.write_text(json.dumps(measure_size(args.child, args), indent=2))
        return None
    sizes = sorted(set(args.sizes))
    out: dict[str, Any] = {"benchmark": "memory_scaling", "smoke": args.smoke, "sizes": sizes,
                           "image_size": args.px, "backbone": args.backbone, "init": "scratch",
                           "epochs": 1, "torch_threads": args.threads, "poll_interval_s": args.interval,
                           "ray_num_cpus": 4, "counted_stages": list(COUNTED),
                           "cpu_count": os.cpu_count(), "machine": platform.platform(),
                           "load_avg_start": os.getloadavg(), "target_ratio": TARGET_RATIO}
    with tempfile.TemporaryDirectory(prefix="triage_ray_memory_runs_") as tmp:
        runs = [run_child(n, args, Path(tmp) / f"{n}.json") for n in sizes]
    out["runs"] = runs
    out["curve"] = curve = [{"n_studies": r["n_studies"], "driver_mb": counted_peak(r, "driver"),
                             "workers_sum_mb": counted_peak(r, "workers_sum"),
                             "worker_max_mb": counted_peak(r, "worker_max")} for r in runs]
    first, last = curve[0], curve[-1]
    out["ratios"] = {k: last[k] / first[k] for k in ("driver_mb", "workers_sum_mb", "worker_max_mb")}
    worst = max(("driver_mb", "workers_sum_mb"), key=lambda k: out["ratios"][k])
    out["headline"] = {"ratio": out["ratios"][worst], "of": worst}
    out["meets_target"] = bool(out["ratios"][worst] <= TARGET_RATIO)
    out["load_avg_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out["plot"] = plot(curve, args.out.with_suffix(".png"))
    args.out.write_text(json.dumps(out, indent=2))
    report(out, args.out)
    return out


def label(n: int) -> str:
    """10000 -> 10k (the headline's size names)."""
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def report(out: dict[str, Any], path: Path) -> None:
    """The curve as a table, the headline ratio on the last line."""
    print(f"peak RSS over {', '.join(COUNTED)} ({out['backbone']}, {out['image_size']} px, "
          f"1 epoch), MB:")
    print(f"{'studies':>9} {'driver':>8} {'workers':>8} {'largest':>8}  largest worker")
    for row, run in zip(out["curve"], out["runs"], strict=True):
        name = max((run["peaks_mb"][s] for s in COUNTED), key=lambda p: p["worker_max"])
        print(f"{row['n_studies']:>9,} {row['driver_mb']:>8.0f} {row['workers_sum_mb']:>8.0f} "
              f"{row['worker_max_mb']:>8.0f}  {name['worker_max_name']}")
    r = out["ratios"]
    print(f"largest / smallest: driver {r['driver_mb']:.2f}x, workers {r['workers_sum_mb']:.2f}x, "
          f"largest worker {r['worker_max_mb']:.2f}x")
    print(f"wrote {path}" + (f" and {out['plot']}" if out["plot"] else ""))
    sizes = out["sizes"]
    which = "driver" if out["headline"]["of"] == "driver_mb" else "workers"
    print(f"peak RSS {label(sizes[-1])} / {label(sizes[0])} = {out['headline']['ratio']:.2f}x "
          f"({which}; target <= {TARGET_RATIO})")


if __name__ == "__main__":
    main()
