"""Framework-free fitting loops: the Ray Train workers (`trials.py`) and the tests both call these.

`fit_transformer` trains a TriageTransformer with any weighting on any iterable of batches (a Ray
Data iterator in a worker, a list in a test); each batch is a dict of tensors with input_ids,
attention_mask (B, L), record_id (B,) and one label column per task (B,), -1 = unknown.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from transformers import get_linear_schedule_with_warmup

from triage_ray.intake.models.multitask import gradient_cosine
from triage_ray.intake.models.transformer import TriageTransformer
from triage_ray.intake.schema import UNKNOWN_LABEL

Batch = Mapping[str, torch.Tensor]


@dataclass
class TrainLog:
    """What one fit cost and how it went (wall and CPU seconds of this process)."""

    epochs: int = 0
    steps: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    epoch_loss: list[float] = field(default_factory=list)
    grad_cosine: list[tuple[int, float]] = field(default_factory=list)  # (step, cosine)
    task_weights: dict[str, float] = field(default_factory=dict)  # at the end of training


def epochs_for(n_train: int, samples_per_run: int, min_epochs: int, max_epochs: int) -> int:
    """Epochs so that every run sees ~samples_per_run examples: small sets get more passes."""
    return int(min(max_epochs, max(min_epochs, math.ceil(samples_per_run / max(n_train, 1)))))


def memory_batches(data: Mapping[str, torch.Tensor], epoch: int, *, batch_size: int,
                   seed: int, shuffle: bool = True) -> Iterable[Batch]:
    """Batches of in-memory tensors, shuffled by a generator seeded with (seed, epoch)."""
    n = len(data["record_id"])
    if shuffle:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(100_003 * seed + epoch))
    else:
        order = torch.arange(n)
    for i in range(0, n, batch_size):
        j = order[i:i + batch_size]
        yield {k: v[j] for k, v in data.items()}


def _trim(batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut the right padding shared by the whole batch: (B, L) -> (B, L_max_in_batch)."""
    mask = batch["attention_mask"]
    length = max(int(mask.sum(dim=1).max()), 1)
    return batch["input_ids"][:, :length].long(), mask[:, :length].long()


def task_losses(model: TriageTransformer, batch: Batch) -> dict[str, torch.Tensor]:
    """Mean cross-entropy per task over the batch's labelled rows (tasks without any skipped)."""
    ids, mask = _trim(batch)
    logits = model(ids, mask)
    out = {}
    for task, z in logits.items():
        y = batch[task].long()
        if (y != UNKNOWN_LABEL).any():
            out[task] = F.cross_entropy(z, y, ignore_index=UNKNOWN_LABEL)
    return out


def fit_transformer(
    model: TriageTransformer,
    weighting: torch.nn.Module,
    batches: Callable[[int], Iterable[Batch]],
    *,
    epochs: int,
    steps_per_epoch: int,
    lr: float = 2e-3,
    weight_decay: float = 0.01,
    warmup_frac: float = 0.06,
    grad_cos_every: int = 0,
    on_epoch: Callable[[int, float], None] | None = None,
) -> TrainLog:
    """Train in place. `batches(epoch)` yields that epoch's (shuffled) batches.

    grad_cos_every > 0 logs the cosine between the task gradients on the shared encoder every
    that many steps (multi-task models only; costs two extra backward passes per logged step).
    """
    params = list(model.parameters()) + list(weighting.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    total = max(1, epochs * steps_per_epoch)
    sched = get_linear_schedule_with_warmup(opt, int(warmup_frac * total), total)
    log = TrainLog(epochs=epochs)
    shared = model.shared_parameters()
    t0, c0 = time.perf_counter(), time.process_time()
    model.train()
    for epoch in range(epochs):
        sum_loss, n_batches = 0.0, 0
        for batch in batches(epoch):
            losses = task_losses(model, batch)
            if not losses:
                continue
            if grad_cos_every and len(losses) == 2 and log.steps % grad_cos_every == 0:
                log.grad_cosine.append((log.steps, gradient_cosine(losses, shared)))
            loss = weighting.combine(losses)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            if log.steps < total:
                sched.step()
            log.steps += 1
            sum_loss += float(loss.detach())
            n_batches += 1
        log.epoch_loss.append(sum_loss / max(n_batches, 1))
        if on_epoch is not None:
            on_epoch(epoch, log.epoch_loss[-1])
    log.wall_s = time.perf_counter() - t0
    log.cpu_s = time.process_time() - c0
    log.task_weights = weighting.current_weights()
    return log


@torch.no_grad()
def predict_logits(model: TriageTransformer, batches: Iterable[Batch]) -> dict[str, np.ndarray]:
    """{"record_id": (n,), "<task>_logits": (n, K), "<task>_y": (n,)} for every head, in the
    order the batches came (callers align by record_id)."""
    model.eval()
    parts: dict[str, list[np.ndarray]] = {}
    for batch in batches:
        ids, mask = _trim(batch)
        logits = model(ids, mask)
        parts.setdefault("record_id", []).append(batch["record_id"].numpy())
        for task, z in logits.items():
            parts.setdefault(f"{task}_logits", []).append(z.float().numpy())
            parts.setdefault(f"{task}_y", []).append(batch[task].numpy())
    model.train()
    return {k: np.concatenate(v) for k, v in parts.items()}
