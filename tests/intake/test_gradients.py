"""The task-relation probes: gradient cosine and TAG's look-ahead affinity (Fifty et al. 2021),
on problems where the answer is known in closed form."""

import pytest
import torch

from triage_ray.intake.gradients import gradient_cosine, lookahead_affinity


def _quadratic(targets):
    """Shared w; task t's loss is 0.5 |w - c_t|^2 + 1 (the + 1 keeps losses away from 0)."""
    w = torch.nn.Parameter(torch.tensor([0.0, 0.0]))

    def losses_at(moved):
        v = w if moved is None else moved["w"]
        return {t: 0.5 * ((v - c) ** 2).sum() + 1.0 for t, c in targets.items()}

    return w, losses_at


def test_affinity_matches_its_closed_form():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])
    w, losses_at = _quadratic({"a": a, "b": b})
    step = 0.1
    z = lookahead_affinity(losses_at, {"w": w}, step)
    # a step on task a moves w to step * a; task b's loss goes from 0.5|b|^2 + 1 = 3 to
    # 0.5 (0.1^2 + 2^2) + 1 = 3.005: Z(a -> b) = 1 - 3.005 / 3 < 0 (orthogonal targets, curvature)
    assert z["a->b"] == pytest.approx(1 - 3.005 / 3.0, rel=1e-5)
    # a step on b moves w to (0, 0.2): L_a = 0.5 (1 + 0.04) + 1 = 1.52 vs 1.5
    assert z["b->a"] == pytest.approx(1 - 1.52 / 1.5, rel=1e-5)
    assert w.grad is None and torch.equal(w.detach(), torch.zeros(2))  # nothing was changed


def test_affinity_sign_follows_agreement():
    same = torch.tensor([1.0, 1.0])
    w, losses_at = _quadratic({"a": same, "b": 2 * same})
    z = lookahead_affinity(losses_at, {"w": w}, 0.1)
    assert z["a->b"] > 0 and z["b->a"] > 0  # a step for one lowers the other's loss
    w, losses_at = _quadratic({"a": same, "b": -same})
    z = lookahead_affinity(losses_at, {"w": w}, 0.1)
    assert z["a->b"] < 0 and z["b->a"] < 0  # a step for one raises the other's loss


def test_gradient_cosine_identity_and_opposition():
    w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    loss = (w**2).sum()
    assert gradient_cosine({"a": loss, "b": 2 * loss}, [w]) == pytest.approx(1.0)
    assert gradient_cosine({"a": loss, "b": -loss}, [w]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="exactly two"):
        gradient_cosine({"a": loss}, [w])
