"""Read the per-seed checkpoints the Ray trials reported back into numpy arrays."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class SeedRun:
    arrays: dict[str, np.ndarray]  # val_/test_ record_id, <task>_logits, <task>_y
    meta: dict[str, Any]  # timings, losses, gradient cosines (see trials.py)


Runs = dict[tuple[str, str, int], list[SeedRun]]  # (setting, setup, size) -> seeds in order


def collect_runs(grid: Any) -> Runs:
    """{(setting, setup, size): [SeedRun per seed]} from a Tune ResultGrid."""
    import ray.train

    runs: defaultdict[tuple[str, str, int], list[SeedRun]] = defaultdict(list)
    for result in grid:
        frame = result.metrics_dataframe
        if frame is None or "checkpoint_path" not in frame:
            raise RuntimeError(f"trial {result.config['lane']} reported no checkpoints")
        for path in frame["checkpoint_path"].dropna():
            with ray.train.Checkpoint(path).as_directory() as d:
                with np.load(Path(d) / "predictions.npz") as z:
                    arrays = {k: z[k] for k in z.files}
                meta = json.loads((Path(d) / "log.json").read_text())
            runs[(meta["setting"], meta["setup"], int(meta["size"]))].append(SeedRun(arrays, meta))
    for key, seeds in runs.items():
        seeds.sort(key=lambda r: r.meta["seed"])
        got = [r.meta["seed"] for r in seeds]
        if got != list(range(len(got))):
            raise RuntimeError(f"{key}: seeds {got} reported; expected 0..{len(got) - 1} once each")
    return dict(runs)
