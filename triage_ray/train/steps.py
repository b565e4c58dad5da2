"""One epoch of training and one pass of prediction, on plain tensors.

The Ray Train worker (`train.loop`) and the plain-PyTorch ablation (`benchmarks/model_ablation.py`)
both call these, so an ablation row measures the same training the pipeline runs, minus Ray.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch

from triage_ray.train.augment import chest_augment
from triage_ray.train.precision import FP32, StepPrecision
from triage_ray.train.schedules import LRSchedule
from triage_ray.train.supervision import Supervision
from triage_ray.train.tensors import model_device, normalise, pixels_to_unit


def train_epoch(model: torch.nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                optimizer: torch.optim.Optimizer, supervision: Supervision, *, mean: float,
                std: float, augment: float = 0.0, generator: torch.Generator | None = None,
                schedule: LRSchedule | None = None, head_only: bool = False,
                step: StepPrecision = FP32) -> tuple[float, int]:
    """Train on (x in [0, 1] (B, 1, H, W), targets (B, K)) batches; returns (mean loss, studies).
    Batches arrive on the CPU (Ray Data); each is augmented there (the generator is a CPU one) and
    then moved, with its targets, to the model's device. `step`: the forward pass's precision
    (autocast) and memory format; the loss is taken in float32 either way.

    head_only: a linear-probe epoch; only the classifier trains, on frozen features (BatchNorm
    statistics frozen too, so the pretrained features stay exactly as they were)."""
    set_head_only(model, head_only)
    total, n = 0.0, 0  # `schedule` steps after each batch when per-step; the caller ends epochs
    device = model_device(model)
    scaler = step.scaler(device)
    for x, y in batches:
        if augment > 0:
            x = chest_augment(x, augment, generator or torch.default_generator)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with step.autocast(device):
            logits = model(step.prepare_input(normalise(x, mean, std)))
        loss = supervision.loss(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if schedule is not None:
            schedule.after_step()
        total += loss.item() * len(y)
        n += len(y)
    return total / max(n, 1), n


def array_batches(images: np.ndarray, targets: np.ndarray, batch_size: int,
                  rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled ([0, 1] (B, 1, H, W), (B, K)) training batches from in-memory uint8 images: the
    plain-PyTorch loops' (ablation, learning curve) stand-in for the Ray Dataset shard."""
    order = rng.permutation(len(images))
    for s in range(0, len(order), batch_size):
        b = order[s:s + batch_size]
        yield pixels_to_unit(images[b]), torch.from_numpy(targets[b])


def array_chunks(images: np.ndarray, size: int = 256) -> Iterator[torch.Tensor]:
    """[0, 1] (B, 1, H, W) prediction batches of in-memory uint8 images, in order."""
    for s in range(0, len(images), size):
        yield pixels_to_unit(images[s:s + size])


def set_head_only(model: torch.nn.Module, head_only: bool) -> None:
    """Train mode with every parameter trainable, or (head_only) eval mode and frozen but for the
    classifier, which trains."""
    net = model.module if hasattr(model, "module") else model
    for p in net.parameters():
        p.requires_grad_(not head_only)
    net.train(not head_only)
    if head_only:
        head = net.get_classifier()
        head.train()
        for p in head.parameters():
            p.requires_grad_(True)


def predict(model: torch.nn.Module, images: Iterable[torch.Tensor], *, mean: float,
            std: float, step: StepPrecision = FP32) -> np.ndarray:
    """All outputs for [0, 1] image batches, in order: (N, K) float32 logits, on the CPU whatever
    the model's device (each batch goes to the model's device and its outputs come back), computed
    in `step`'s precision and memory format."""
    model.eval()
    device = model_device(model)
    out: list[np.ndarray] = []
    with torch.no_grad():
        for x in images:
            x = step.prepare_input(normalise(x.to(device, non_blocking=True), mean, std))
            with step.autocast(device):
                logits = model(x)
            out.append(logits.float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 1), dtype=np.float32)


def validation_metrics(logit: np.ndarray, label: np.ndarray) -> dict[str, float]:
    """Validation loss and AUROC of the abnormal logit against the (written) labels."""
    import torch.nn.functional as F

    from triage_ray.calibrate.metrics import auroc
    from triage_ray.common.stats import sigmoid

    y = label.astype(np.float32)
    loss = F.binary_cross_entropy_with_logits(torch.from_numpy(logit), torch.from_numpy(y)).item()
    return {"val_loss": loss, "val_auroc": float(auroc(y, sigmoid(logit)))}
