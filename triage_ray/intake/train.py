"""Framework-free fitting loops: the Ray Train workers (`trials.py`), the tuning trials
(`tuning.py`) and the tests all call these.

`fit_transformer` trains a TriageTransformer with any weighting on any iterable of batches (a Ray
Data iterator in a worker, a list in a test); each batch is a dict of tensors with input_ids,
attention_mask (B, L), record_id (B,) and one label column per task (B,), -1 = unknown.
Epochs are chosen on validation: given `validate`, every epoch is scored, training stops once
`patience` epochs pass without a better score, and the best epoch's weights are restored.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call
from torch.utils.flop_counter import FlopCounterMode
from transformers import get_linear_schedule_with_warmup

from triage_ray.intake.gradients import cosine, flat_gradient, lookahead_affinity
from triage_ray.intake.models.transformer import TriageTransformer
from triage_ray.intake.schema import UNKNOWN_LABEL

Batch = Mapping[str, torch.Tensor]


@dataclass
class TrainLog:
    """What one fit cost and how it went (wall and CPU seconds of this process)."""

    epochs: int = 0  # epochs run (<= the maximum when validation stopped it early)
    max_epochs: int = 0
    best_epoch: int = -1  # 0-based epoch whose weights were kept (-1: the last, no validation)
    steps: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    train_flops: float = 0.0  # estimated FLOPs of every training step (forward + backward)
    epoch_loss: list[float] = field(default_factory=list)
    val_score: list[float] = field(default_factory=list)  # per epoch, when validated
    grad_cosine: list[tuple[int, float]] = field(default_factory=list)  # (step, cosine)
    affinity: list[tuple[int, dict[str, float]]] = field(default_factory=list)  # (step, TAG)
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


def task_losses(model: Callable[..., Mapping[str, torch.Tensor]], batch: Batch
                ) -> dict[str, torch.Tensor]:
    """Mean cross-entropy per task over the batch's labelled rows (tasks without any skipped).
    `model` is a TriageTransformer or any callable with its signature (a functional call)."""
    ids, mask = _trim(batch)
    logits = model(ids, mask)
    out = {}
    for task, z in logits.items():
        y = batch[task].long()
        if (y != UNKNOWN_LABEL).any():
            out[task] = F.cross_entropy(z, y, ignore_index=UNKNOWN_LABEL)
    return out


def probe_tasks(model: TriageTransformer, batch: Batch, step: float
                ) -> tuple[float, dict[str, float]]:
    """(gradient cosine, TAG affinities) on one batch, in eval mode; see `gradients.py`."""
    shared = model.shared_parameters()
    was_training = model.training
    model.eval()

    def losses_at(moved: Mapping[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
        if moved is None:
            return task_losses(model, batch)
        return task_losses(lambda ids, mask: functional_call(model, dict(moved), (ids, mask)),
                           batch)

    base = losses_at(None)
    if len(base) != 2:
        model.train(was_training)
        return float("nan"), {}
    grads = {t: flat_gradient(loss, list(shared.values())) for t, loss in base.items()}
    cos = cosine(*grads.values())
    aff = lookahead_affinity(lambda m: base if m is None else losses_at(m), shared, step, grads)
    model.train(was_training)
    return cos, aff


class _BestWeights:
    """Early stopping on a validation score: keeps a copy of the best epoch's weights."""

    def __init__(self, modules: list[torch.nn.Module], patience: int) -> None:
        self.modules, self.patience = modules, patience
        self.best, self.epoch, self.state = -math.inf, -1, None

    def update(self, epoch: int, score: float) -> bool:
        """Record `score`; True when training should stop."""
        if score > self.best:
            self.best, self.epoch = score, epoch
            self.state = [copy.deepcopy(m.state_dict()) for m in self.modules]
        return epoch - self.epoch >= self.patience

    def restore(self) -> None:
        if self.state is not None:
            for m, s in zip(self.modules, self.state, strict=True):
                m.load_state_dict(s)


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
    probe_every: int = 0,
    affinity_step: float = 0.05,
    validate: Callable[[], float] | None = None,
    patience: int = 3,
    on_epoch: Callable[[int, float, float | None], None] | None = None,
) -> TrainLog:
    """Train in place for at most `epochs`. `batches(epoch)` yields that epoch's batches.

    probe_every > 0 takes the task-relation probes (gradient cosine and TAG affinity, `probe_tasks`)
    every that many steps of a multi-task model. `validate()` returns a score (higher is better)
    for early stopping; `on_epoch(epoch, train_loss, val_score)` is called after every epoch.
    """
    shared = list(model.shared_parameters().values())
    shared_ids = {id(p) for p in shared}
    specific = [p for p in model.parameters() if id(p) not in shared_ids]
    specific += list(weighting.parameters())
    params = shared + specific
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    total = max(1, epochs * steps_per_epoch)
    sched = get_linear_schedule_with_warmup(opt, int(warmup_frac * total), total)
    log = TrainLog(max_epochs=epochs)
    best = _BestWeights([model, weighting], patience) if validate is not None else None
    flops_per_token, tokens = 0.0, 0
    t0, c0 = time.perf_counter(), time.process_time()
    model.train()
    for epoch in range(epochs):
        sum_loss, n_batches = 0.0, 0
        for batch in batches(epoch):
            if probe_every and len(model.tasks) == 2 and log.steps % probe_every == 0:
                cos, aff = probe_tasks(model, batch, affinity_step)
                log.grad_cosine.append((log.steps, cos))
                if aff:
                    log.affinity.append((log.steps, aff))
            ids, _ = _trim(batch)
            counter = FlopCounterMode(display=False) if log.steps == 0 else None
            with counter if counter is not None else nullcontext():
                losses = task_losses(model, batch)
                if not losses:
                    continue
                opt.zero_grad(set_to_none=True)
                loss = weighting.backward(losses, shared, specific)
            if counter is not None:
                flops_per_token = counter.get_total_flops() / ids.numel()
            tokens += ids.numel()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            if log.steps < total:
                sched.step()
            log.steps += 1
            sum_loss += float(loss.detach())
            n_batches += 1
        log.epoch_loss.append(sum_loss / max(n_batches, 1))
        log.epochs = epoch + 1
        score = validate() if validate is not None else None
        if score is not None:
            log.val_score.append(score)
        if on_epoch is not None:
            on_epoch(epoch, log.epoch_loss[-1], score)
        if best is not None and score is not None and best.update(epoch, score):
            break
    if best is not None:
        best.restore()
        log.best_epoch = best.epoch
    log.wall_s = time.perf_counter() - t0
    log.cpu_s = time.process_time() - c0
    log.train_flops = flops_per_token * tokens  # attention is quadratic in L, but L <= 40 here
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
