"""How the multi-task loss combines the task losses: one small class per scheme, registered.

After LibMTL, kept apart from the architecture and the trainer, but with state passed explicitly:
`combine(losses)` returns the total (what is logged); `backward(losses, shared, specific)` puts the
gradients on the parameters. Loss weightings (fixed, uncertainty) backpropagate their total;
gradient methods (PCGrad) work on the per-task gradients of the `shared` parameters and leave the
task-`specific` ones (the heads) with their own task's gradient. Learned weights (uncertainty) are
the module's own parameters, which the trainer adds to its optimiser.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from triage_ray.intake.gradients import flat_gradient

WEIGHTINGS: dict[str, type[nn.Module]] = {}
Params = Sequence[nn.Parameter]


class LossWeighting(nn.Module):
    """A weighting whose gradient is the gradient of its combined loss."""

    def combine(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def backward(self, losses: Mapping[str, torch.Tensor], shared: Params,
                 specific: Params) -> torch.Tensor:
        """Backpropagate the combined loss into every parameter; returns it (for logging)."""
        total = self.combine(losses)
        total.backward()
        return total


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
class FixedWeighting(LossWeighting):
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
class UncertaintyWeighting(LossWeighting):
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


def project_conflicts(grads: Sequence[torch.Tensor], order: Sequence[Sequence[int]]) -> torch.Tensor:
    """PCGrad's update from flat per-task gradients (T, P): each g_i is projected, in turn for the
    other tasks j in `order[i]`, onto the normal plane of g_j whenever g_i . g_j < 0; returns the
    sum of the projected gradients. Two tasks that agree (g_i . g_j >= 0) are simply summed."""
    out = torch.zeros_like(grads[0])
    for i, g in enumerate(grads):
        g = g.clone()
        for j in order[i]:
            dot = g @ grads[j]
            if dot < 0:
                g -= dot / (grads[j] @ grads[j]).clamp_min(1e-20) * grads[j]
        out += g
    return out


@register_weighting("pcgrad")
class PCGrad(nn.Module):
    """Yu et al. (NeurIPS 2020), "Gradient surgery for multi-task learning".

    On the shared encoder each task's gradient loses its component along another task's gradient
    when the two conflict (negative dot product); the heads get their own task's gradient. The
    other tasks are visited in a random order per step (seeded), as in the paper. Costs one
    backward pass per task through the shared encoder instead of one in all.
    """

    def __init__(self, tasks: Sequence[str], seed: int | None = None) -> None:
        super().__init__()
        self.tasks = list(tasks)
        # the visiting order follows the run's torch seed unless one is given
        self._rng = torch.Generator().manual_seed(torch.initial_seed() if seed is None else seed)

    def combine(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return sum(losses.values())  # type: ignore[return-value]

    def backward(self, losses: Mapping[str, torch.Tensor], shared: Params,
                 specific: Params) -> torch.Tensor:
        total = self.combine(losses)
        if len(losses) < 2:  # a batch with one task's labels: nothing can conflict
            total.backward()
            return total
        flat = [flat_gradient(loss, shared) for loss in losses.values()]
        n = len(flat)
        order = [[j for j in torch.randperm(n, generator=self._rng).tolist() if j != i]
                 for i in range(n)]
        update = project_conflicts(flat, order)
        if specific:
            torch.autograd.backward(total, inputs=list(specific))
        offset = 0
        for p in shared:
            p.grad = update[offset:offset + p.numel()].view_as(p).clone()
            offset += p.numel()
        return total

    def current_weights(self) -> dict[str, float]:
        return {t: 1.0 for t in self.tasks}

