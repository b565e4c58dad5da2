"""How the two tasks relate on the shared encoder, measured during multi-task training.

Two probes, taken on the same batch in eval mode (no dropout noise):
- `gradient_cosine`: the cosine between the task losses' gradients on the shared parameters;
  > 0 means a step for one task also helps the other (Yu et al. 2020, "gradient surgery").
- `lookahead_affinity`: TAG's inter-task affinity (Fifty et al., NeurIPS 2021). Take one plain
  gradient step of size `step` on the shared parameters using task i's loss alone, and see how
  task j's loss on the same batch moved: Z(i -> j) = 1 - L_j(after) / L_j(before). Positive: what
  task i learns lowers task j's loss. Unlike the cosine it sees curvature and the other task's
  scale, and it is directional (Z(i -> j) != Z(j -> i)).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

Losses = Mapping[str, torch.Tensor]


def flat_gradient(loss: torch.Tensor, params: Sequence[torch.nn.Parameter]) -> torch.Tensor:
    """d loss / d params as one flat vector (zeros for parameters the loss does not touch);
    keeps the graph so the caller can still backpropagate."""
    grads = torch.autograd.grad(loss, list(params), retain_graph=True, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                      for g, p in zip(grads, params, strict=True)])


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """cos(a, b); NaN when either is zero (e.g. a batch without that task's labels)."""
    denom = a.norm() * b.norm()
    return float("nan") if denom == 0 else float((a @ b) / denom)


def gradient_cosine(losses: Losses, shared: Sequence[torch.nn.Parameter]) -> float:
    """Cosine between the two task losses' gradients w.r.t. the shared parameters."""
    if len(losses) != 2:
        raise ValueError(f"gradient_cosine needs exactly two task losses, got {list(losses)}")
    a, b = (flat_gradient(loss, shared) for loss in losses.values())
    return cosine(a, b)


def lookahead_affinity(losses_at: Callable[[Mapping[str, torch.Tensor] | None], Losses],
                       shared: Mapping[str, torch.nn.Parameter], step: float,
                       grads: Mapping[str, torch.Tensor] | None = None) -> dict[str, float]:
    """{"i->j": Z(i -> j)} for every ordered pair of tasks (see module docstring).

    losses_at(None) gives the task losses at the current parameters, losses_at(moved) with the
    shared parameters replaced by `moved` (name -> tensor). `grads` (task -> flat gradient on the
    shared parameters, in `shared`'s order) may be passed when already computed.
    """
    base = losses_at(None)
    params = list(shared.values())
    if grads is None:
        grads = {t: flat_gradient(loss, params) for t, loss in base.items()}
    out = {}
    for i in base:
        moved, offset = {}, 0
        for name, p in shared.items():
            g = grads[i][offset:offset + p.numel()].view_as(p)
            moved[name] = (p - step * g).detach()
            offset += p.numel()
        with torch.no_grad():
            after = losses_at(moved)
        for j, before in base.items():
            if j != i:
                out[f"{i}->{j}"] = float(1.0 - after[j] / before.detach())
    return out
