"""Optimiser and learning-rate schedule, one place for the Train worker and the ablation.

Torch is imported inside the builder, so configs can validate a schedule name without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

SCHEDULES = ("cosine", "onecycle")
WARMUP_FRACTION = 0.1  # onecycle: linear warm-up over the first 10% of steps


@dataclass
class LRSchedule:
    """The learning-rate schedule and when it steps.

    cosine: decay by epoch, for when steps per epoch are unknown. onecycle: per batch, a linear
    warm-up then a cosine to zero over all steps (Smith's one-cycle, as timm and fastai use it);
    it needs steps_per_epoch and anneals fully within a short run.
    """

    scheduler: torch.optim.lr_scheduler.LRScheduler
    per_step: bool

    def after_step(self) -> None:
        if self.per_step:
            self.scheduler.step()

    def after_epoch(self) -> None:
        if not self.per_step:
            self.scheduler.step()


def build_optimizer(model: torch.nn.Module, *, lr: float, weight_decay: float, epochs: int,
                    schedule: str = "cosine", steps_per_epoch: int | None = None,
                    ) -> tuple[torch.optim.Optimizer, LRSchedule]:
    """AdamW and its learning-rate schedule (SCHEDULES)."""
    import math

    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    if schedule == "cosine":
        fn = lambda e: 0.5 * (1 + math.cos(math.pi * e / max(epochs, 1)))  # noqa: E731
        return optimizer, LRSchedule(torch.optim.lr_scheduler.LambdaLR(optimizer, fn), False)
    if schedule != "onecycle":
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {SCHEDULES}")
    if not steps_per_epoch or steps_per_epoch < 1:
        raise ValueError("the onecycle schedule needs steps_per_epoch >= 1")
    total = epochs * steps_per_epoch
    warm = max(1, round(WARMUP_FRACTION * total))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(total - warm, 1))))

    return optimizer, LRSchedule(torch.optim.lr_scheduler.LambdaLR(optimizer, factor), True)
