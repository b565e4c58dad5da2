"""SimCLR (lightly's head and loss): an epoch lowers the contrastive loss on images that have
structure, and its backbone loads into a classifier of any head size."""

from __future__ import annotations

import torch
from lightly.loss import NTXentLoss
from lightly.models.modules import SimCLRProjectionHead

from triage_ray.models import create_backbone
from triage_ray.train.ssl import simclr_epoch


def _films(n: int = 64, size: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = 0.2 + 0.05 * torch.rand(n, 1, size, size, generator=g)
    for i in range(n):  # each film its own bright block: views of one film share it
        r, c = (int(v) for v in torch.randint(2, size - 12, (2,), generator=g))
        x[i, :, r:r + 10, c:c + 10] = 0.9
    return x


def test_simclr_epochs_lower_the_loss_and_the_backbone_loads_for_fine_tuning(tmp_path):
    torch.manual_seed(0)
    backbone = create_backbone("resnet10t", num_outputs=0)
    head = SimCLRProjectionHead(backbone.num_features, 64, 32)
    opt = torch.optim.AdamW([*backbone.parameters(), *head.parameters()], lr=1e-3)
    films = _films()
    losses = [simclr_epoch(backbone, head, films.split(32), opt, NTXentLoss(temperature=0.5),
                           mean=0.5, std=0.25, strength=0.5,
                           generator=torch.Generator().manual_seed(e))[0] for e in range(4)]
    assert losses[-1] < losses[0], losses

    path = tmp_path / "ssl.pth"
    torch.save(backbone.state_dict(), path)
    model = create_backbone("resnet10t", pretrained=True, weights_file=path, num_outputs=15)
    assert torch.equal(model.state_dict()["layer2.0.conv1.weight"],
                       backbone.state_dict()["layer2.0.conv1.weight"])
    assert model.get_classifier().out_features == 15
