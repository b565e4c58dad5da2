import pytest
import torch

from triage_ray.intake.weighting import WEIGHTINGS, create_weighting, register_weighting

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
    assert {"fixed", "uncertainty"} <= set(WEIGHTINGS)
    with pytest.raises(ValueError, match="unknown weighting 'gradnorm'"):
        create_weighting("gradnorm", TASKS)
    with pytest.raises(ValueError, match="already registered"):
        register_weighting("fixed")(type("Dup", (torch.nn.Module,), {}))
