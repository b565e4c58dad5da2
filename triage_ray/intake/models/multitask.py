"""The multi-task Transformer (shared encoder, urgency and specialty heads) and its diagnostics.

`gradient_cosine` measures whether the two tasks pull the shared encoder the same way: cosine
> 0 means a step for one task also helps the other (a mechanism for positive transfer), < 0 means
they conflict (Yu et al. 2020, "gradient surgery"; Fifty et al. 2021 for task affinity).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from transformers import BertConfig

from triage_ray.intake.models.transformer import TriageTransformer
from triage_ray.intake.schema import TASKS


def multitask_transformer(config: BertConfig, tasks: Sequence[str] = tuple(TASKS)
                          ) -> TriageTransformer:
    """One encoder, one head per task in `tasks`."""
    return TriageTransformer(config, {t: len(TASKS[t]) for t in tasks})


def single_task_transformer(config: BertConfig, task: str) -> TriageTransformer:
    return TriageTransformer(config, {task: len(TASKS[task])})


def gradient_cosine(losses: Mapping[str, torch.Tensor], shared: Sequence[torch.nn.Parameter]
                    ) -> float:
    """Cosine between the two task losses' gradients w.r.t. the shared parameters.

    Leaves the graph intact (retain_graph) so the caller can still backpropagate the combined
    loss; returns NaN when either gradient is zero (e.g. a batch without that task's labels).
    """
    if len(losses) != 2:
        raise ValueError(f"gradient_cosine needs exactly two task losses, got {list(losses)}")
    flat = []
    for loss in losses.values():
        grads = torch.autograd.grad(loss, shared, retain_graph=True, allow_unused=True)
        flat.append(torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                               for g, p in zip(grads, shared, strict=True)]))
    a, b = flat
    denom = a.norm() * b.norm()
    return float("nan") if denom == 0 else float((a @ b) / denom)
