"""Backbone registry: each entry is a timm model name plus why it is on the list.

Any name here goes through `timm.create_model(name, in_chans=1, num_classes=1)`: one grayscale
channel in, one logit (abnormal) out. With `pretrained=True` timm adapts the first convolution
(summing RGB filters) and drops the ImageNet classifier. Weights come from the hub when reachable, or
from a local file (`weights_file`) offline, read by `triage_ray.models.weights` (timm/torch state
dicts and torchxrayvision checkpoints; a file that does not fit the backbone is refused).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

BACKBONES: dict[str, str] = {}  # name -> one-line reason it is vetted


def register_backbone(reason: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Register the decorated function's name as a backbone (timm's pattern: name = function)."""

    def deco(fn: Callable[[], None]) -> Callable[[], None]:
        BACKBONES[fn.__name__] = reason
        return fn

    return deco


@register_backbone("5M params, fastest ResNet on CPU (~2x resnet18): default for laptops")
def resnet10t() -> None: ...


@register_backbone("11M params, the classic CXR baseline (CheXNet-era papers)")
def resnet18() -> None: ...


@register_backbone("0.6M params, smallest; for smoke runs and very slow machines")
def mobilenetv3_small_050() -> None: ...


@register_backbone("1.5M params, good accuracy per CPU-second")
def mobilenetv3_small_100() -> None: ...


@register_backbone("4M params, strong ImageNet transfer; slow on CPU, use with a GPU")
def efficientnet_b0() -> None: ...


@register_backbone("3.4M params, modern ConvNeXt design")
def convnext_atto() -> None: ...


@register_backbone("8M params, DenseNet-121 of CheXNet and torchxrayvision; GPU only in practice")
def densenet121() -> None: ...


@register_backbone("26M params, torchxrayvision's resnet50-res512-all architecture; GPU only")
def resnet50() -> None: ...


def create_backbone(
    name: str,
    *,
    pretrained: bool = False,
    weights_file: str | Path | None = None,
    drop_rate: float | None = None,
    num_outputs: int = 1,
):
    """Build a registered backbone: (B, 1, H, W) grayscale in, (B, num_outputs) logits out
    (output 0 is the abnormal logit; see `triage_ray.train.supervision`)."""
    import timm

    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
    kwargs: dict = {"in_chans": 1, "num_classes": int(num_outputs)}
    if drop_rate is not None:
        kwargs["drop_rate"] = drop_rate
    from_file = pretrained and weights_file is not None
    model = timm.create_model(name, pretrained=pretrained and not from_file, **kwargs)
    if from_file:  # timm / torch state dicts and torchxrayvision checkpoints (models.weights)
        from triage_ray.models.weights import load_weights

        load_weights(model, weights_file)
    reset_logit_head(model)
    return model


HEAD_INIT_STD = 0.01


def reset_logit_head(model) -> None:
    """Start the logit head near p = 0.5, whatever the family's own head init does.

    Why: timm's EfficientNet/MobileNet ("goog") init draws the classifier uniformly in
    +-1/sqrt(out_features), i.e. +-1 for a single logit over ~1,000 features. The first logits
    then have a standard deviation of ~5, the first epochs' BCE is 1.6-2.2 instead of 0.69, and
    mobilenetv3_small_100 ended a 3-epoch default run at test AUROC 0.57 (resnet10t: 0.79). With
    this reset it trains (measured: loss 0.69 -> 0.62 in 2 epochs on 4,000 images).
    """
    import torch

    head = model.get_classifier()
    if isinstance(head, torch.nn.Linear):
        torch.nn.init.normal_(head.weight, std=HEAD_INIT_STD)
        torch.nn.init.zeros_(head.bias)


def grayscale_normalisation(model) -> tuple[float, float]:
    """(mean, std) for one-channel input, from the model's own pretrained config (timm's convention
    for in_chans=1: the average of the RGB statistics), never hard-coded."""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    mean = cfg.get("mean", (0.5,))
    std = cfg.get("std", (0.5,))
    return float(sum(mean) / len(mean)), float(sum(std) / len(std))
