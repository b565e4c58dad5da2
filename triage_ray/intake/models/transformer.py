"""A small BERT encoder (HF `transformers`, built from config, no download) with task heads.

The single-task and multi-task Transformers are the same class with one or two heads, so a
difference between them is the sharing, not the architecture. Sizes default to what trains on
two CPU cores in seconds per epoch (see docs/intake.md for the sizing).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from transformers import BertConfig, BertModel


def encoder_config(vocab_size: int, hidden: int = 64, layers: int = 2, heads: int = 4,
                   intermediate: int = 128, max_len: int = 40, dropout: float = 0.1) -> BertConfig:
    """A BertConfig for a from-scratch encoder; "eager" attention is fastest at this size."""
    return BertConfig(
        vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers,
        num_attention_heads=heads, intermediate_size=intermediate, max_position_embeddings=max_len,
        hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout, pad_token_id=0,
        attn_implementation="eager",
    )


class TriageTransformer(nn.Module):
    """BertModel -> masked mean pooling -> one linear head per task.

    heads: task name -> number of classes, e.g. {"urgency": 4} or {"urgency": 4, "specialty": 12}.
    """

    def __init__(self, config: BertConfig, heads: Mapping[str, int]) -> None:
        super().__init__()
        if not heads:
            raise ValueError("TriageTransformer needs at least one task head")
        self.encoder = BertModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.heads = nn.ModuleDict({t: nn.Linear(config.hidden_size, k) for t, k in heads.items()})

    @property
    def tasks(self) -> list[str]:
        return list(self.heads)

    def shared_parameters(self) -> dict[str, nn.Parameter]:
        """The encoder's parameters by their names in this module: what the task heads share
        (gradient methods and the task-relation probes work on these)."""
        return {f"encoder.{n}": p for n, p in self.encoder.named_parameters() if p.requires_grad}

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor
                ) -> dict[str, torch.Tensor]:
        h = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(h.dtype)  # (B, L, 1)
        pooled = (h * m).sum(1) / m.sum(1).clamp_min(1.0)  # (B, H)
        pooled = self.dropout(pooled)
        return {t: head(pooled) for t, head in self.heads.items()}  # each (B, K_t)


def matched_width(vocab_size: int, width: int, task_heads: Mapping[str, int], *, layers: int,
                  attention_heads: int, max_len: int) -> int:
    """The hidden width (a multiple of the attention heads, FFN = 2x width) at which one model
    with all of `task_heads` has about as many parameters as one single-head model of `width` per
    task: the multi-task model of the parameter-matched comparison."""

    def size(w: int, heads: Mapping[str, int]) -> int:
        cfg = encoder_config(vocab_size, w, layers, attention_heads, 2 * w, max_len)
        return TriageTransformer(cfg, heads).n_parameters()

    target = sum(size(width, {t: k}) for t, k in task_heads.items())
    widths = range(width - width % attention_heads, 3 * width + 1, attention_heads)
    return min(widths, key=lambda w: abs(size(w, task_heads) - target))
