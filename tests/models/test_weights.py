"""Local weights in the formats sites hold: torchxrayvision checkpoints (written here as the package
writes them) and wrapped torch state dicts; a file of another backbone is refused, naming why."""

import pytest
import torch
import torchvision
import torchxrayvision as xrv

from triage_ray.models import create_backbone
from triage_ray.models.weights import load_weights, read_state_dict


def test_torchxrayvision_densenet_checkpoint_loads_into_densenet121(tmp_path):
    """xrv's DenseNet-121 files are a whole pickled model: its features must arrive unchanged."""
    torch.manual_seed(0)
    source = xrv.models.DenseNet(weights=None).eval()  # 18 pathologies, one-channel stem
    source.op_threshs = torch.rand(18)  # as the hub checkpoints carry
    path = tmp_path / "xrv-densenet.pt"
    torch.save(source, path)  # the format of xrv's hub files

    state, fmt = read_state_dict(path)
    assert fmt == "torchxrayvision_model" and "op_threshs" not in state
    model = create_backbone("densenet121", pretrained=True, weights_file=path,
                            num_outputs=15).eval()
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        # timm ends its features with norm5 + ReLU; xrv applies the ReLU in forward()
        assert torch.allclose(model.forward_features(x), torch.relu(source.features(x)), atol=1e-5)
    assert model.get_classifier().out_features == 15  # our head, not xrv's 18 pathologies


def test_torchxrayvision_resnet50_state_dict_loads(tmp_path):
    """xrv's ResNet-50 files are a torchvision state dict with a one-channel conv1 and 18 outputs."""
    source = torchvision.models.resnet50(num_classes=18, weights=None)
    source.conv1 = torch.nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    path = tmp_path / "xrv-resnet50.pth"
    torch.save(source.state_dict(), path)
    model = create_backbone("resnet50", pretrained=True, weights_file=path)
    assert torch.equal(model.state_dict()["conv1.weight"], source.state_dict()["conv1.weight"])
    assert torch.equal(model.state_dict()["layer4.2.conv3.weight"],
                       source.state_dict()["layer4.2.conv3.weight"])


def test_wrapped_and_ddp_prefixed_state_dict_loads(tmp_path):
    source = create_backbone("resnet10t", num_outputs=3)
    path = tmp_path / "ckpt.pt"
    torch.save({"model": {f"module.{k}": v for k, v in source.state_dict().items()}}, path)
    model = create_backbone("resnet10t", pretrained=True, weights_file=path)
    assert torch.equal(model.state_dict()["layer3.0.conv1.weight"],
                       source.state_dict()["layer3.0.conv1.weight"])


def test_weights_of_another_backbone_are_refused(tmp_path):
    path = tmp_path / "resnet18.pth"
    torch.save(create_backbone("resnet18").state_dict(), path)
    with pytest.raises(ValueError, match="does not fit .*another backbone"):
        load_weights(create_backbone("resnet10t"), path)


def test_a_pickle_naming_other_code_is_refused_not_run(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": _NotAModule()}, path)
    with pytest.raises(ValueError, match="not a weights file"):
        read_state_dict(path)


class _NotAModule:
    pass
