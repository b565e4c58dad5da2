"""Chest augmentation: same shape and range, reproducible, and never mirrors the film."""

from __future__ import annotations

import pytest
import torch

from triage_ray.train.augment import chest_augment


def _films(b: int = 16, size: int = 48) -> torch.Tensor:
    x = torch.full((b, 1, size, size), 0.2)
    x[:, :, 10:38, 6:20] = 0.9  # a bright block on the image's left, like a marker or the heart
    return x


def test_shape_range_and_reproducibility():
    x = _films()
    a = chest_augment(x, 1.0, torch.Generator().manual_seed(1))
    b = chest_augment(x, 1.0, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b)
    assert not torch.equal(a, x)
    assert torch.equal(chest_augment(x, 0.0, torch.Generator()), x)


def test_no_horizontal_flip_at_full_strength():
    out = chest_augment(_films(64), 1.0, torch.Generator().manual_seed(0))
    left, right = out[..., :24].mean(dim=(1, 2, 3)), out[..., 24:].mean(dim=(1, 2, 3))
    assert (left > right).all()  # the bright side stays on the left in every jittered film


def test_strength_out_of_range():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        chest_augment(_films(), 1.5, torch.Generator())
