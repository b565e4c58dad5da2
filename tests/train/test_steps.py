"""A linear-probe epoch trains the head alone: backbone weights and BatchNorm statistics unchanged."""

from __future__ import annotations

import torch

from triage_ray.models import create_backbone
from triage_ray.train.schedules import build_optimizer
from triage_ray.train.steps import train_epoch
from triage_ray.train.supervision import get_supervision


def _batches(n: int = 3):
    g = torch.Generator().manual_seed(0)
    for _ in range(n):
        yield torch.rand(8, 1, 32, 32, generator=g), torch.randint(0, 2, (8, 1), generator=g).float()


def test_head_only_epoch_freezes_features_then_full_epoch_trains_them():
    torch.manual_seed(0)
    model = create_backbone("resnet10t")
    sup = get_supervision("binary", ())
    opt, _ = build_optimizer(model, lr=1e-2, weight_decay=1e-4, epochs=2, schedule="cosine")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train_epoch(model, _batches(), opt, sup, mean=0.5, std=0.25, head_only=True)
    after = model.state_dict()
    body = [k for k in before if not k.startswith("fc.")]
    assert all(torch.equal(before[k], after[k]) for k in body)  # incl. BN running stats
    assert not torch.equal(before["fc.weight"], after["fc.weight"])

    train_epoch(model, _batches(), opt, sup, mean=0.5, std=0.25)
    assert not torch.equal(before["layer1.0.conv1.weight"], model.state_dict()["layer1.0.conv1.weight"])
    assert all(p.requires_grad for p in model.parameters()) and model.training
