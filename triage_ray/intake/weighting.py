"""How the multi-task loss combines the two task losses: one small class per scheme, registered.

After LibMTL, kept apart from the architecture and the trainer, but with state passed explicitly:
`combine(losses)` gets the per-task losses and returns the total; learned weights (uncertainty)
are the module's own parameters, which the trainer adds to its optimiser.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

WEIGHTINGS: dict[str, type[nn.Module]] = {}


def register_weighting(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    def deco(cls: type[nn.Module]) -> type[nn.Module]:
        if name in WEIGHTINGS:
            raise ValueError(f"weighting {name!r} is already registered ({WEIGHTINGS[name]})")
        WEIGHTINGS[name] = cls
        return cls

    return deco


def create_weighting(name: str, tasks: Sequence[str], **kwargs: Any) -> nn.Module:
    """A registered weighting by name; `None` keyword values fall back to the defaults."""
    try:
        cls = WEIGHTINGS[name]
    except KeyError:
        raise ValueError(f"unknown weighting {name!r}; choose from {sorted(WEIGHTINGS)}") from None
    return cls(tasks, **{k: v for k, v in kwargs.items() if v is not None})


@register_weighting("fixed")
class FixedWeighting(nn.Module):
    """total = sum_t w_t * L_t with fixed w (swept by Ray Tune over a grid).

    `weight` is the first task's weight, the second gets 1 - weight (two tasks), or pass
    `weights` explicitly for any number of tasks.
    """

    def __init__(self, tasks: Sequence[str], weight: float | None = None,
                 weights: Mapping[str, float] | None = None) -> None:
        super().__init__()
        if weights is None:
            if len(tasks) == 1:
                weights = {tasks[0]: 1.0}
            elif len(tasks) == 2:
                w = 0.5 if weight is None else float(weight)
                if not 0.0 <= w <= 1.0:
                    raise ValueError(f"weight must be in [0, 1], got {w}")
                weights = {tasks[0]: w, tasks[1]: 1.0 - w}
            else:
                raise ValueError("pass `weights` explicitly for more than two tasks")
        if set(weights) != set(tasks):
            raise ValueError(f"weights {sorted(weights)} do not match tasks {sorted(tasks)}")
        self.weights = dict(weights)

    def combine(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return sum(self.weights[t] * loss for t, loss in losses.items())  # type: ignore[return-value]

    def current_weights(self) -> dict[str, float]:
        return dict(self.weights)


@register_weighting("uncertainty")
class UncertaintyWeighting(nn.Module):
    """Kendall, Gal & Cipolla (CVPR 2018): learned homoscedastic task uncertainty.

    With s_t = log sigma_t^2 learned, total = sum_t exp(-s_t) * L_t + s_t / 2 (their eq. 10 for
    classification): a noisier task gets a smaller weight, and the s_t / 2 term stops every
    weight from shrinking to zero.
    """

    def __init__(self, tasks: Sequence[str], init_log_var: float = 0.0) -> None:
        super().__init__()
        self.tasks = list(tasks)
        self.log_vars = nn.Parameter(torch.full((len(self.tasks),), float(init_log_var)))

    def combine(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        total = self.log_vars.new_zeros(())
        for i, t in enumerate(self.tasks):
            if t in losses:
                total = total + torch.exp(-self.log_vars[i]) * losses[t] + self.log_vars[i] / 2
        return total

    def current_weights(self) -> dict[str, float]:
        w = torch.exp(-self.log_vars.detach())
        return {t: float(w[i]) for i, t in enumerate(self.tasks)}
