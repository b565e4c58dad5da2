"""The Ray Train worker function: fine-tune one backbone, checkpoint each epoch, resume if asked.

Data arrives as three Ray Datasets: `train` (split across workers), `val` (the calib split) and
`heldout` (the select and test rows), the latter two whole on every worker. Every epoch rank 0
scores `val` and reports train loss, validation loss and validation AUROC, so Tune sees learning
curves and a scheduler (ASHA) can stop weak trials early; `val` is read once and kept in memory
when it is small (`ValidationSet`). After the last epoch rank 0 predicts `heldout` in one pass and
writes the abnormal logits per split, with that epoch's calib logits, into the final checkpoint
(`heldout.npz`): calibration and threshold selection never see training data, and the held-out
images are read once, not once per epoch.

A worker lost mid-run (`FailureConfig`) or a restored sweep resumes from the last checkpoint; each
resume is logged and appended to the checkpoint's `restarts`, beside the per-epoch `history`.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from triage_ray.train.heldout import HELDOUT_FILE, HELDOUT_SPLITS
from triage_ray.train.precision import FP32, StepPrecision
from triage_ray.train.reporting import epoch_counters
from triage_ray.train.supervision import Supervision

MODEL_FILE = "model.pt"
META_FILE = "meta.json"
PREDICT_BATCH = 256
# rank 0 keeps the validation split's pixels (uint8) in memory up to this size, instead of
# streaming them again every epoch (6,000 studies at 224 px; at 64 px a 65,000-study split)
VALIDATION_CACHE_BYTES = 256 * 2**20
ID_COLUMNS = ("study_id", "label", "split")
logger = logging.getLogger(__name__)


class PixelKeeper:
    """Keeps uint8 pixel batches while they total at most `max_bytes`; past that it drops them
    all and keeps nothing more (a split too large to cache never sits in memory whole)."""

    def __init__(self, max_bytes: int):
        self.max_bytes, self.nbytes, self.parts = max_bytes, 0, []
        self.overflowed = False

    def add(self, pixels: np.ndarray) -> None:
        if self.overflowed:
            return
        self.nbytes += pixels.nbytes
        if self.nbytes > self.max_bytes:
            self.parts, self.overflowed = [], True
        else:
            self.parts.append(pixels)

    def kept(self) -> np.ndarray | None:
        """(N, H, W) uint8 of every batch, or None if they did not fit (or there were none)."""
        return None if self.overflowed or not self.parts else np.concatenate(self.parts)


def _images(shard, columns: dict[str, list[np.ndarray]], shard_dir: str | None = None,
            keep: PixelKeeper | None = None) -> Iterator[torch.Tensor]:
    """[0, 1] image batches of a (non-split) shard, collecting their id columns on the way (and,
    into `keep`, their uint8 pixels)."""
    from triage_ray.data.stream import batch_to_images, named_read_errors
    from triage_ray.train.tensors import pixels_to_unit

    batches = shard.iter_batches(batch_size=PREDICT_BATCH, batch_format="numpy")
    for batch in named_read_errors(batches, shard_dir):
        for k in columns:
            columns[k].append(batch[k])
        pixels = batch_to_images(batch)  # (B, H, W) uint8
        if keep is not None:
            keep.add(pixels)
        yield pixels_to_unit(pixels)


def _rows(cols: dict[str, list[np.ndarray]], logit: np.ndarray) -> dict[str, np.ndarray]:
    """study_id, label, split (from collected batches) and the logits, as flat typed arrays."""
    flat = {k: np.concatenate(v) if v else np.zeros(0) for k, v in cols.items()}
    return {"study_id": flat["study_id"].astype(str), "label": flat["label"].astype(np.int8),
            "split": flat["split"].astype(str), "logit": logit}


def _predict(model, shard, mean: float, std: float, shard_dir: str | None = None,
             step: StepPrecision = FP32) -> dict[str, np.ndarray]:
    """study_id, label, split and the abnormal logit (output 0) for every row of `shard`."""
    from triage_ray.train.steps import predict

    cols: dict[str, list[np.ndarray]] = {k: [] for k in ID_COLUMNS}
    logit = predict(model, _images(shard, cols, shard_dir), mean=mean, std=std, step=step)[:, 0]
    return _rows(cols, logit)


class ValidationSet:
    """The split rank 0 scores every epoch. The first pass streams it through Ray Data and keeps
    its rows in memory if their pixels fit `max_bytes`; later passes predict from memory. Why: each
    streamed pass starts a new Ray Data execution (read tasks, scheduling) on cores the model
    trains on, every epoch, for the same few hundred or thousand images. A larger split is
    streamed every epoch, as before."""

    def __init__(self, shard, shard_dir: str | None = None,
                 max_bytes: int = VALIDATION_CACHE_BYTES):
        self.shard, self.shard_dir, self.max_bytes = shard, shard_dir, max_bytes
        self.rows: dict[str, np.ndarray] | None = None  # ids, labels, split (cached)
        self.pixels: np.ndarray | None = None  # (N, H, W) uint8 (cached)

    @property
    def cached(self) -> bool:
        return self.pixels is not None

    def predict(self, model, mean: float, std: float,
                step: StepPrecision = FP32) -> dict[str, np.ndarray]:
        """study_id, label, split and the abnormal logit for every row of the split."""
        from triage_ray.train.steps import array_chunks, predict

        if self.cached:
            logit = predict(model, array_chunks(self.pixels, PREDICT_BATCH), mean=mean, std=std,
                            step=step)
            return {**self.rows, "logit": logit[:, 0]}
        cols: dict[str, list[np.ndarray]] = {k: [] for k in ID_COLUMNS}
        keep = PixelKeeper(self.max_bytes) if self.rows is None else None  # first pass only
        logit = predict(model, _images(self.shard, cols, self.shard_dir, keep),
                        mean=mean, std=std, step=step)[:, 0]
        out = _rows(cols, logit)
        if keep is not None:
            self.pixels = keep.kept()
        self.rows = {k: v for k, v in out.items() if k != "logit"}
        return out


def _by_split(*preds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """heldout.npz's arrays ({split}_{study_id,label,logit}) from one or more prediction passes."""
    pred = {k: np.concatenate([p[k] for p in preds]) for k in ("study_id", "label", "split", "logit")}
    return {f"{s}_{k}": pred[k][pred["split"] == s] for s in HELDOUT_SPLITS
            for k in ("study_id", "label", "logit")}


def _train_batches(shard, sup: Supervision, batch_size: int, seed: int,
                   shard_dir: str | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled training batches; a shard damaged since ingest fails naming its file."""
    from triage_ray.data.stream import named_read_errors
    from triage_ray.train.tensors import images_to_unit

    batches = shard.iter_batches(batch_size=batch_size, batch_format="numpy",
                                 local_shuffle_buffer_size=2048, local_shuffle_seed=seed)
    for batch in named_read_errors(batches, shard_dir):
        y = sup.targets(batch["label"], batch["findings"])  # (B, K)
        yield images_to_unit(batch), torch.from_numpy(y)  # (B, 1, H, W), (B, K)


def save_checkpoint(path: Path, model, optimizer, scheduler, epoch: int,
                    meta: dict[str, Any]) -> None:
    """model.pt (model, optimizer, scheduler, epoch) + meta.json: what a resume loads."""
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict(), "epoch": epoch}
    torch.save(state, path / MODEL_FILE)
    (path / META_FILE).write_text(json.dumps(meta, indent=2))


def untrained_checkpoint(folder: Path, backbone: str = "resnet10t", seed: int = 0) -> Path:
    """`folder` holding a randomly initialised `backbone` in the pipeline's checkpoint format
    (model.pt + meta.json): for timing the scoring path or testing its plumbing without
    training a model first."""
    from triage_ray.models import create_backbone, grayscale_normalisation

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = create_backbone(backbone, pretrained=False, num_outputs=1)
    mean, std = grayscale_normalisation(model)
    torch.save({"model": model.state_dict()}, folder / MODEL_FILE)
    (folder / META_FILE).write_text(json.dumps({"backbone": backbone, "mean": mean, "std": std,
                                                "n_outputs": 1}))
    return folder


def waiting_time(batches: Iterable, waited: dict[str, float]) -> Iterator:
    """Pass `batches` through, adding to waited["s"] the seconds spent waiting for each one: the
    part of an epoch the data pipeline, not the model, costs."""
    it = iter(batches)
    while True:
        t0 = time.perf_counter()
        try:
            item = next(it)
        except StopIteration:
            waited["s"] += time.perf_counter() - t0
            return
        waited["s"] += time.perf_counter() - t0
        yield item


def epoch_seconds(train_s: float, data_wait_s: float, report_s: float | None) -> dict[str, float]:
    """Where an epoch's time went, reported with it: the training pass, the part of it spent
    waiting for data, and the previous epoch's checkpoint + report (None on the first)."""
    out = {"seconds_train": train_s, "seconds_data_wait": data_wait_s}
    if report_s is not None:
        out["seconds_previous_report"] = report_s
    return out


def device_memory(device: torch.device) -> dict[str, int]:
    """The GPU memory peak so far (bytes allocated by tensors), reported with each epoch on a
    GPU worker: what a batch size or input size costs there. Nothing on a CPU."""
    if device.type != "cuda":
        return {}
    return {"gpu_max_memory_bytes": int(torch.cuda.max_memory_allocated(device))}


def resumed_record(epoch: int) -> dict[str, Any]:
    """What a resume leaves in the training log: the checkpoint's epoch and when (UTC)."""
    return {"resumed_after_epoch": int(epoch),
            "at": datetime.now(UTC).isoformat(timespec="seconds")}


def probing(cfg: dict[str, Any], epoch: int) -> bool:
    """Whether `epoch` is a linear-probe epoch (finetune "probe_then_full" from pretrained weights)."""
    return (cfg.get("finetune") == "probe_then_full" and bool(cfg["pretrained"])
            and epoch < int(cfg.get("probe_epochs", 1)))


def train_loop_per_worker(cfg: dict[str, Any]) -> None:
    """cfg keys: backbone, lr, weight_decay, epochs, batch_size, pretrained, weights_file, seed,
    torch_threads (None: shared, see train.threads), concurrent_workers (Train workers that may run
    at once), supervision, findings (the finding vocabulary), augment, schedule,
    steps_per_epoch (onecycle: batches per worker per epoch), finetune, probe_epochs, precision
    and channels_last (train.precision; absent: fp32, contiguous), shard_dir (optional: where the
    datasets' shards live, to name a damaged one in the error)."""
    import ray
    import ray.train
    import ray.train.torch

    from triage_ray.models import create_backbone, grayscale_normalisation
    from triage_ray.train.schedules import build_optimizer
    from triage_ray.train.steps import train_epoch, validation_metrics
    from triage_ray.train.supervision import get_supervision
    from triage_ray.train.threads import training_threads

    torch.manual_seed(cfg["seed"])
    # Ray gives a 1-CPU worker OMP_NUM_THREADS=1; use the cores we were sized for instead.
    torch.set_num_threads(training_threads(cfg.get("torch_threads"),
                                           int(cfg.get("concurrent_workers", 1))))
    sup = get_supervision(cfg["supervision"], cfg["findings"])
    model = create_backbone(cfg["backbone"], pretrained=cfg["pretrained"],
                            weights_file=cfg.get("weights_file"), num_outputs=sup.n_outputs)
    mean, std = grayscale_normalisation(model)
    step = StepPrecision.from_config(cfg)
    step.check_device(ray.train.torch.get_device())  # e.g. fp16 on a CPU worker: refused here
    model = ray.train.torch.prepare_model(step.prepare_model(model))
    epochs = int(cfg["epochs"])
    optimizer, schedule = build_optimizer(
        model, lr=cfg["lr"], weight_decay=cfg["weight_decay"], epochs=epochs,
        schedule=cfg.get("schedule", "cosine"), steps_per_epoch=cfg.get("steps_per_epoch"))
    start_epoch = 0
    history: list[dict[str, Any]] = []  # every epoch's report, kept in each checkpoint's meta
    restarts: list[dict[str, Any]] = []  # every resume from a checkpoint, kept likewise
    checkpoint = ray.train.get_checkpoint()
    if checkpoint:  # resume after a failure or a restored sweep
        with checkpoint.as_directory() as d:
            state = torch.load(Path(d) / MODEL_FILE, map_location="cpu", weights_only=True)
            saved = json.loads((Path(d) / META_FILE).read_text())
        history, restarts = saved.get("history", []), saved.get("restarts", [])
        # the checkpoint holds the unwrapped model's weights (no DDP "module." prefix): load them
        # into the unwrapped model, whatever the number of workers that wrote or reads them
        (model.module if hasattr(model, "module") else model).load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.scheduler.load_state_dict(state["scheduler"])
        start_epoch = state["epoch"] + 1
        restarts.append(resumed_record(state["epoch"]))
        logger.warning("resuming training from the checkpoint of epoch %d (resume %d of this run)",
                       state["epoch"], len(restarts))

    ctx = ray.train.get_context()
    train_shard = ray.train.get_dataset_shard("train")
    meta = {"backbone": cfg["backbone"], "mean": mean, "std": std, "lr": cfg["lr"],
            "pretrained": cfg["pretrained"], "init": cfg.get("init"), "epochs": epochs,
            "supervision": sup.name,
            "n_outputs": sup.n_outputs, "findings": list(cfg["findings"]),
            "augment": cfg["augment"], "weights_file": cfg.get("weights_file"),
            "finetune": cfg.get("finetune", "full"), "torch_threads": torch.get_num_threads(),
            "precision": step.precision, "channels_last": step.channels_last}
    generator = torch.Generator()
    val_set = ValidationSet(ray.train.get_dataset_shard("val"), cfg.get("shard_dir"))
    report_s = None  # the previous epoch's checkpoint + report, measured once it has returned
    for epoch in range(start_epoch, epochs):
        # per (seed, epoch, rank): a resumed epoch draws the same jitter it would have drawn
        generator.manual_seed((cfg["seed"] * 1000 + epoch) * 1000 + ctx.get_world_rank())
        waited = {"s": 0.0}
        t0 = time.perf_counter()
        loss, n = train_epoch(
            model, waiting_time(_train_batches(train_shard, sup, cfg["batch_size"],
                                               cfg["seed"] + epoch, cfg.get("shard_dir")), waited),
            optimizer, sup, mean=mean, std=std, augment=cfg["augment"], generator=generator,
            schedule=schedule, head_only=probing(cfg, epoch), step=step)
        schedule.after_epoch()
        metrics: dict[str, Any] = {**epoch_counters(epoch, epochs), "train_loss": loss, "n_train": n,
                                   "head_only": int(probing(cfg, epoch)),
                                   "node_id": ray.get_runtime_context().get_node_id(),
                                   **epoch_seconds(time.perf_counter() - t0, waited["s"], report_s),
                                   **device_memory(ray.train.torch.get_device())}
        if ctx.get_world_rank() != 0:
            ray.train.report(metrics)
            continue
        net = model.module if hasattr(model, "module") else model
        t0 = time.perf_counter()
        val = val_set.predict(net, mean, std, step)
        metrics.update(validation_metrics(val["logit"], val["label"]),
                       seconds_validation=time.perf_counter() - t0)
        history.append(metrics)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            save_checkpoint(Path(tmp), net, optimizer, schedule.scheduler, epoch,
                            {**meta, "history": history, "restarts": restarts})
            if epoch == epochs - 1:
                held = _predict(net, ray.train.get_dataset_shard("heldout"), mean, std,
                                cfg.get("shard_dir"), step)
                np.savez(Path(tmp) / HELDOUT_FILE, **_by_split(val, held))  # val: this model's
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp))
        report_s = time.perf_counter() - t0
