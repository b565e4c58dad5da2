"""Chest-appropriate augmentation, applied on the fly to a batch of [0, 1] images.

What a radiograph varies by in practice: a few degrees of patient rotation, some shift and
magnification in the collimated field, and exposure (brightness, contrast, gamma). No horizontal
flip: the heart is on the left, and a flipped film is a different (dextrocardia) study; laterality
would also be wrong for the side a finding is on. One `strength` in [0, 1] scales every range, so a
sweep can search a single number.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# ranges at strength 1 (each drawn uniformly in +-range per image)
MAX_ROTATION_DEG = 8.0
MAX_SHIFT = 0.06  # fraction of the image side
MAX_LOG_SCALE = math.log(1.08)
MAX_LOG_GAMMA = math.log(1.35)
MAX_CONTRAST = 0.15  # multiplicative, around the image mean
MAX_BRIGHTNESS = 0.06


def chest_augment(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """(B, 1, H, W) float in [0, 1] -> the same shape, geometrically and photometrically jittered."""
    if strength <= 0:
        return x
    if strength > 1:
        raise ValueError(f"augment strength must lie in [0, 1], got {strength}")
    b = x.shape[0]

    def draw(limit: float) -> torch.Tensor:  # (B,) uniform in [-limit, limit]
        return (torch.rand(b, generator=generator) * 2 - 1) * (limit * strength)

    angle = draw(math.radians(MAX_ROTATION_DEG))
    scale = torch.exp(draw(MAX_LOG_SCALE))
    shift = torch.stack([draw(MAX_SHIFT * 2), draw(MAX_SHIFT * 2)], dim=1)  # grid units span 2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # border padding: a shifted film shows more of its own edge, not a black bar
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    gamma = torch.exp(draw(MAX_LOG_GAMMA)).view(b, 1, 1, 1)
    x = x.clamp(0, 1).pow(gamma)
    mean = x.mean(dim=(2, 3), keepdim=True)
    x = (x - mean) * (1 + draw(MAX_CONTRAST).view(b, 1, 1, 1)) + mean
    return (x + draw(MAX_BRIGHTNESS).view(b, 1, 1, 1)).clamp(0, 1)
