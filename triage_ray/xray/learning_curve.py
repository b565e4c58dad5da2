"""The learning curve: test AUROC against training size, from scratch and from the chosen init.

Why in every run: a site deciding whether to label more studies, or whether pretraining pays,
needs this curve on its own data. The chosen trial's settings (backbone, lr, augmentation) are
retrained on nested subsets of the training split (whole patients, in one fixed random order, so a
smaller set is inside every larger one), each from scratch and from the chosen init, for
`learning_curve_epochs` epochs, and scored on the test split with a 95% patient-bootstrap CI:
against the written labels always, and against the generator's truth on generated data.

Each point is a Ray task running the worker's own training functions (`train.steps`) on the
shards, and is written to `learning_curve/points/<init>-<n>.json` when done: a resumed run keeps
finished points. Points run one at a time unless `max_concurrent_trials` allows more.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from triage_ray.xray.config import XrayConfig

CURVE_DIR = "learning_curve"
N_BOOT = 500


def curve_inits(best_init: str | None, pretrained: Mapping[str, str]) -> list[str]:
    """Scratch and the chosen init; "pretrain" too when the chosen init is scratch but weights
    exist, so the curve always answers "does pretraining pay?" when it can."""
    inits = ["scratch"]
    if best_init and best_init != "scratch":
        inits.append(best_init)
    elif pretrained:
        inits.append("pretrain")
    return inits


def nested_order(train: pd.DataFrame, seed: int) -> np.ndarray:
    """Training-row positions, whole patients in a fixed random order: the first n rows of it are
    every subset of size n (nested)."""
    patients = train["patient_id"].astype(str).unique()
    rank = dict(zip(np.random.default_rng(seed).permutation(patients), range(len(patients)),
                    strict=True))
    key = train["patient_id"].astype(str).map(rank).to_numpy()
    return np.lexsort((np.arange(len(train)), key))


def read_split(shard_dir: str, split: str) -> tuple[pd.DataFrame, np.ndarray]:
    """(rows without the image column, (N, H, W) uint8 images) of one split of the shards."""
    import pyarrow.parquet as pq

    from triage_ray.data.stream import batch_to_images, shard_files

    tables = [pq.read_table(f, filters=[("split", "==", split)]) for f in shard_files(shard_dir)]
    frame = pd.concat([t.to_pandas() for t in tables], ignore_index=True)
    images = batch_to_images({"image": frame["image"].to_numpy()})
    return frame.drop(columns="image"), images


def train_point(shard_dir: str, point: dict[str, Any], settings: dict[str, Any],
                vocabulary: Sequence[str]) -> dict[str, Any]:
    """Train one (n_train, init) point; returns the test split's study ids and abnormal logits."""
    import torch

    from triage_ray.models import create_backbone, grayscale_normalisation
    from triage_ray.train.schedules import build_optimizer
    from triage_ray.train.steps import array_batches, array_chunks, predict, train_epoch
    from triage_ray.train.supervision import get_supervision
    from triage_ray.train.threads import training_threads

    torch.set_num_threads(training_threads(settings.get("torch_threads"),
                                           int(settings.get("concurrent", 1))))
    torch.manual_seed(settings["seed"])
    train, images = read_split(shard_dir, "train")
    keep = nested_order(train, settings["seed"])[: point["n_train"]]
    sup = get_supervision(settings["supervision"], vocabulary)
    targets = sup.targets(train["label"].to_numpy()[keep], train["findings"].to_numpy()[keep])
    weights = point.get("weights_file")
    model = create_backbone(settings["backbone"], num_outputs=sup.n_outputs,
                            pretrained=point["init"] != "scratch", weights_file=weights)
    mean, std = grayscale_normalisation(model)
    epochs, bs = settings["epochs"], settings["batch_size"]
    optimizer, schedule = build_optimizer(
        model, lr=settings["lr"], weight_decay=settings["weight_decay"], epochs=epochs,
        schedule=settings["schedule"], steps_per_epoch=-(-len(keep) // bs))
    probe = settings["finetune"] == "probe_then_full" and point["init"] != "scratch"
    rng, gen = np.random.default_rng(settings["seed"]), torch.Generator().manual_seed(settings["seed"])
    t0 = time.time()
    for epoch in range(epochs):
        train_epoch(model, array_batches(images[keep], targets, bs, rng), optimizer, sup, mean=mean,
                    std=std, augment=settings["augment"], generator=gen, schedule=schedule,
                    head_only=probe and epoch < settings["probe_epochs"] < epochs)
        schedule.after_epoch()
    seconds = time.time() - t0
    test, test_images = read_split(shard_dir, "test")
    logit = predict(model, array_chunks(test_images), mean=mean, std=std)[:, 0]
    return {"study_id": test["study_id"].astype(str).tolist(), "logit": logit.tolist(),
            "train_seconds": seconds, "n_train": int(len(keep))}


def score_point(result: dict[str, Any], studies: pd.DataFrame, seed: int) -> dict[str, Any]:
    """Test AUROC (95% patient-bootstrap CI) against the written labels, and the truth if known."""
    from triage_ray.common.stats import sigmoid
    from triage_ray.xray.truth import auroc_against

    rows = studies.set_index(studies["study_id"].astype(str)).loc[result["study_id"]]
    labels = {"written": rows["label"].to_numpy()}
    if "true_abnormal" in rows:
        labels["truth"] = rows["true_abnormal"].to_numpy()
    p = sigmoid(np.asarray(result["logit"], dtype=np.float64))
    return auroc_against(p, labels, groups=rows["patient_id"].astype(str).to_numpy(),
                         n_boot=N_BOOT, seed=seed)


def _settings(cfg: XrayConfig, best: Mapping[str, Any]) -> dict[str, Any]:
    return {"backbone": best["backbone"], "lr": float(best["lr"]),
            "augment": float(best.get("augment") or 0.0), "supervision": cfg.supervision,
            "schedule": cfg.schedule, "epochs": cfg.learning_curve_epochs,
            "batch_size": cfg.batch_size, "weight_decay": cfg.weight_decay, "seed": cfg.seed,
            "finetune": cfg.finetune, "probe_epochs": cfg.probe_epochs,
            "torch_threads": cfg.torch_threads, "concurrent": max(1, cfg.max_concurrent_trials)}


def run_learning_curve(cfg: XrayConfig, shard_dir: Path, run_dir: Path, *,
                       best: Mapping[str, Any], studies: pd.DataFrame,
                       vocabulary: Sequence[str], pretrained: Mapping[str, str],
                       log=print) -> dict[str, Any] | None:
    """Every (size, init) point of the curve; None when `learning_curve_sizes` is empty."""
    import ray

    from triage_ray.train.fit import weights_for

    if not cfg.learning_curve_sizes:
        return None
    n_pool = int((studies["split"] == "train").sum())
    sizes = sorted({min(n, n_pool) for n in cfg.learning_curve_sizes})
    settings = _settings(cfg, best)
    inits = curve_inits(best.get("init"), pretrained)
    points_dir = run_dir / CURVE_DIR / "points"
    points_dir.mkdir(parents=True, exist_ok=True)
    task = ray.remote(num_cpus=cfg.cpus_per_trial)(train_point)
    todo, done = [], []
    for init in inits:
        for n in sizes:
            path = points_dir / f"{init}-{n}.json"
            if path.is_file():
                done.append(json.loads(path.read_text()))
                continue
            weights = weights_for(cfg, init, settings["backbone"], pretrained)
            todo.append(({"init": init, "n_train": n, "weights_file": weights}, path))
    log(f"learning curve: {len(todo)} points to train ({len(done)} kept), sizes {sizes}, "
        f"inits {inits}, {settings['epochs']} epochs each")
    pending: dict[Any, tuple[dict[str, Any], Path]] = {}
    queue = list(todo)
    while queue or pending:
        while queue and len(pending) < max(1, cfg.max_concurrent_trials):
            point, path = queue.pop(0)
            ref = task.remote(str(shard_dir), point, settings, tuple(vocabulary))
            pending[ref] = (point, path)
        ready, _ = ray.wait(list(pending), num_returns=1)
        point, path = pending.pop(ready[0])
        result = ray.get(ready[0])
        row = {"init": point["init"], "n_train": result["n_train"],
               "train_seconds": result["train_seconds"], "weights_file": point["weights_file"],
               **score_point(result, studies, cfg.seed)}
        path.write_text(json.dumps(row, indent=2))
        done.append(row)
        log(f"  learning curve {len(done)}/{len(done) + len(queue) + len(pending)}: "
            f"{row['init']} n={row['n_train']}: test AUROC vs written labels "
            f"{row['auroc_written']['value']:.3f} ({row['train_seconds']:.0f} s)")
    done.sort(key=lambda r: (inits.index(r["init"]), r["n_train"]))
    return {"settings": settings, "sizes": sizes, "inits": inits, "n_train_pool": n_pool,
            "n_boot": N_BOOT, "points": done}
