"""The multi-task Transformer (shared encoder, urgency and specialty heads) and the single-task
ones (same class, one head). How the tasks relate during training is measured in `gradients.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

from transformers import BertConfig

from triage_ray.intake.models.transformer import TriageTransformer
from triage_ray.intake.schema import TASKS


def multitask_transformer(config: BertConfig, tasks: Sequence[str] = tuple(TASKS)
                          ) -> TriageTransformer:
    """One encoder, one head per task in `tasks`."""
    return TriageTransformer(config, {t: len(TASKS[t]) for t in tasks})


def single_task_transformer(config: BertConfig, task: str) -> TriageTransformer:
    return TriageTransformer(config, {task: len(TASKS[task])})
