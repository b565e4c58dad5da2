import pytest
import torch

from triage_ray.intake.weighting import (
    WEIGHTINGS,
    create_weighting,
    project_conflicts,
    register_weighting,
)

TASKS = ["urgency", "specialty"]
LOSSES = {"urgency": torch.tensor(2.0), "specialty": torch.tensor(4.0)}


def test_fixed_weights_the_sum():
    w = create_weighting("fixed", TASKS, weight=0.25)
    assert float(w.combine(LOSSES).detach()) == pytest.approx(0.25 * 2 + 0.75 * 4)
    assert w.current_weights() == {"urgency": 0.25, "specialty": 0.75}
    assert list(w.parameters()) == []  # nothing learned
    with pytest.raises(ValueError, match="weight must be in"):
        create_weighting("fixed", TASKS, weight=1.5)


def test_uncertainty_weighting_formula_and_learning():
    w = create_weighting("uncertainty", TASKS)
    assert float(w.combine(LOSSES).detach()) == pytest.approx(6.0)  # s = 0: plain sum
    with torch.no_grad():
        w.log_vars.copy_(torch.tensor([0.0, 1.0]))
    expect = 2.0 + torch.exp(torch.tensor(-1.0)) * 4.0 + 0.5
    assert float(w.combine(LOSSES).detach()) == pytest.approx(float(expect))
    # the noisier (larger-loss) task is down-weighted by gradient descent on s
    w = create_weighting("uncertainty", TASKS)
    opt = torch.optim.SGD(w.parameters(), lr=0.1)
    for _ in range(50):
        opt.zero_grad()
        w.combine(LOSSES).backward()
        opt.step()
    cw = w.current_weights()
    assert cw["specialty"] < cw["urgency"] < 1.0


def test_registry_errors():
    assert {"fixed", "uncertainty", "pcgrad"} <= set(WEIGHTINGS)
    with pytest.raises(ValueError, match="unknown weighting 'gradnorm'"):
        create_weighting("gradnorm", TASKS)
    with pytest.raises(ValueError, match="already registered"):
        register_weighting("fixed")(type("Dup", (torch.nn.Module,), {}))


def test_pcgrad_projection_on_known_vectors():
    """Yu et al.'s two-task picture: conflicting gradients lose the component along the other."""
    g1, g2 = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0])  # g1 . g2 = -1 < 0
    # g1' = g1 - (-1/2) g2 = (0.5, 0.5); g2' = g2 - (-1/1) g1 = (0, 1); sum (0.5, 1.5)
    out = project_conflicts([g1, g2], [[1], [0]])
    assert torch.allclose(out, torch.tensor([0.5, 1.5]))
    assert float(out @ g1) > 0 and float(out @ g2) > 0  # the update helps both tasks
    assert float((g1 + g2) @ g1) == 0  # the plain sum does not help task 1 at all
    agree = [torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0])]
    assert torch.allclose(project_conflicts(agree, [[1], [0]]), agree[0] + agree[1])


def _toy(weighting):
    """A shared scalar-pair w and one head per task; task losses pull w in conflicting ways."""
    shared = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    heads = torch.nn.Parameter(torch.tensor([1.0, 1.0]))
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0])
    losses = {"urgency": -(a @ shared) * heads[0], "specialty": -(b @ shared) * heads[1]}
    total = weighting.backward(losses, [shared], [heads])
    return shared.grad, heads.grad, total


def test_pcgrad_writes_projected_shared_and_plain_head_gradients():
    tasks = ["urgency", "specialty"]
    grad_s, grad_h, total = _toy(create_weighting("pcgrad", tasks, seed=0))
    # the shared gradient is minus the projected sum of (a, b); each head gets its own task's
    # gradient, -(a . w) and -(b . w) with w = (1, 2)
    assert torch.allclose(grad_s, -torch.tensor([0.5, 1.5]))
    assert torch.allclose(grad_h, -torch.tensor([1.0, 1.0]))
    assert float(total.detach()) == pytest.approx(-2.0)
    plain_s, _, _ = _toy(create_weighting("fixed", tasks, weight=0.5))
    assert torch.allclose(plain_s, -0.5 * torch.tensor([0.0, 1.0]))  # 0.5 (a + b)


def test_pcgrad_reaches_a_point_the_plain_sum_does_not():
    """Known effect: with conflicting linear objectives plus a shared quadratic, the plain sum
    stalls task 1 (its gradient is cancelled) while PCGrad improves both."""
    tasks = ["urgency", "specialty"]
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0])

    def train(name):
        w = torch.nn.Parameter(torch.zeros(2))
        weighting = create_weighting(name, tasks, **({"weight": 0.5} if name == "fixed" else {}))
        opt = torch.optim.SGD([w], lr=0.05)
        for _ in range(40):
            opt.zero_grad()
            reg = 0.5 * (w @ w)
            weighting.backward({"urgency": -(a @ w) + reg, "specialty": -(b @ w) + reg}, [w], [])
            opt.step()
        return float(a @ w), float(b @ w)

    plain, pc = train("fixed"), train("pcgrad")
    assert abs(plain[0]) < 1e-6  # task 1 never moved under the plain sum
    assert pc[0] > 0.1 and pc[1] > 0.1  # PCGrad advanced both objectives
