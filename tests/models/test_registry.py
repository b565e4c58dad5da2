"""Every registered backbone builds as a 1-channel, 1-logit model; local weights load offline."""

import pytest
import timm
import torch

from triage_ray.models import BACKBONES, create_backbone, grayscale_normalisation


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_backbone_maps_grayscale_to_one_logit(name):
    model = create_backbone(name).eval()
    with torch.no_grad():
        out = model(torch.zeros(2, 1, 64, 64))  # (B, 1, H, W)
    assert out.shape == (2, 1)
    mean, std = grayscale_normalisation(model)
    assert 0 < mean < 1 and 0 < std < 1


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_backbone_starts_near_p_one_half(name):
    # timm's "goog" head init gave mobilenetv3 first logits with sd ~5 and it never recovered
    torch.manual_seed(0)
    model = create_backbone(name).train()
    with torch.no_grad():
        z = model(torch.randn(16, 1, 64, 64))
    assert z.abs().max() < 1.0, f"{name}: initial logits up to {z.abs().max():.2f}"


def test_unknown_backbone_names_the_choices():
    with pytest.raises(ValueError, match="resnet10t"):
        create_backbone("resnet_typo")


def test_pretrained_from_local_file_adapts_rgb_stem_and_drops_classifier(tmp_path):
    """An ImageNet-shaped checkpoint (3-channel stem, 1000 classes) loads with pretrained=True and
    no network: timm sums the RGB filters into one channel and leaves a fresh 1-logit head."""
    source = timm.create_model("resnet10t", pretrained=False)  # stands in for downloaded weights
    path = tmp_path / "resnet10t.pth"
    torch.save(source.state_dict(), path)

    model = create_backbone("resnet10t", pretrained=True, weights_file=path)

    stem = source.state_dict()["conv1.0.weight"]  # (32, 3, 3, 3)
    assert torch.allclose(model.state_dict()["conv1.0.weight"], stem.sum(dim=1, keepdim=True))
    assert torch.equal(model.state_dict()["layer4.0.conv1.weight"],
                       source.state_dict()["layer4.0.conv1.weight"])
    assert model.get_classifier().out_features == 1


def test_missing_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="weights_file"):
        create_backbone("resnet10t", pretrained=True, weights_file=tmp_path / "nope.pth")
