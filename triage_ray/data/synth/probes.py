"""Out-of-scope probe images made from in-scope ones: what the gate's image checks and feature
check must catch when the tags say "adult frontal chest". Each kind is a plain transform, named
for what it stands for in a real export."""

from __future__ import annotations

import numpy as np


def limb_image(size: int, rng: np.random.Generator) -> np.ndarray:
    """A non-chest radiograph stand-in: bright bone shafts on a dark field (a hand or forearm)."""
    img = np.full((size, size), 20, np.float32)
    x = np.linspace(-1, 1, size)[None, :]
    for c in rng.uniform(-0.6, 0.6, 4):
        img += 200 * np.exp(-((x - c) / 0.05) ** 2)
    return np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)


def probe_images(images: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """(N, H, W) uint8 in-scope images -> kind -> (N, H, W) probes of that kind."""
    rng = np.random.default_rng(seed)
    n, h, w = images.shape
    return {
        "blank": np.full_like(images, 118),
        "inverted (MONOCHROME1 shown raw)": 255 - images,
        "rotated 90 degrees": np.rot90(images, 1, axes=(1, 2)).copy(),
        "noise": rng.integers(0, 256, images.shape, dtype=np.uint8),
        "non-chest (bone shafts)": np.stack([limb_image(h, rng) for _ in range(n)]),
    }
