"""Out-of-scope probe images made from in-scope ones: what the gate's image checks and feature
check must catch when the tags say "adult frontal chest". Each kind is a plain transform, named
for what it stands for in a real export.

Two families. `probe_images`: broken files (blank, inverted, rotated, noise, not a chest), which
any check should catch. `shift_probes`: what another population or another site looks like while
the tags still say "adult frontal chest": another site's processing of the same films (look-up
table, edge enhancement, collimation, burnt-in text, a noisier detector) and, where the model was
trained on generated images, the generator's own children (`pediatric_images`). Their catch rates
are measurements, not targets: a low one says which shift the feature check does not guard
against.
"""

from __future__ import annotations

import numpy as np


def limb_image(size: int, rng: np.random.Generator) -> np.ndarray:
    """A non-chest radiograph stand-in: bright bone shafts on a dark field (a hand or forearm)."""
    img = np.full((size, size), 20, np.float32)
    x = np.linspace(-1, 1, size)[None, :]
    for c in rng.uniform(-0.6, 0.6, 4):
        img += 200 * np.exp(-((x - c) / 0.05) ** 2)
    return np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)


SHIFT_NOISE_SD = 12.0  # gray levels: about 3x the generated detector noise at 64 px
PEDIATRIC_AGES = (2, 9)  # years, [low, high)


def _blur3(images: np.ndarray) -> np.ndarray:
    """A 3 x 3 box blur per image (edges replicated), for unsharp masking."""
    p = np.pad(images.astype(np.float32), ((0, 0), (1, 1), (1, 1)), mode="edge")
    h, w = images.shape[1:]
    return sum(p[:, i:i + h, j:j + w] for i in range(3) for j in range(3)) / 9.0


def _burnt_in(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """White text-like blocks in a band across the top (a site's burnt-in annotations)."""
    out = images.copy()
    n, h, w = images.shape
    band = max(2, h // 8)
    for k in range(n):
        x = int(rng.integers(1, max(2, w // 8)))
        while x < w - 3:
            cw = int(rng.integers(2, max(3, w // 16) + 1))
            out[k, 1:band, x:x + cw] = 250
            x += cw + int(rng.integers(1, 3))
    return out


def shift_probes(images: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """(N, H, W) uint8 in-scope images -> kind -> the same films as another site would send them."""
    rng = np.random.default_rng(seed + 1)
    x = images.astype(np.float32)
    n, h, w = images.shape
    m = max(1, round(0.15 * h))

    def u8(a: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(a), 0, 255).astype(np.uint8)

    collimated = images.copy()
    collimated[:, :m, :] = collimated[:, -m:, :] = 0
    collimated[:, :, :m] = collimated[:, :, -m:] = 0
    return {
        "site LUT: gamma 0.6": u8(255 * (x / 255) ** 0.6),
        "site LUT: gamma 1.6": u8(255 * (x / 255) ** 1.6),
        "edge enhancement (unsharp mask x1.5)": u8(x + 1.5 * (x - _blur3(images))),
        "collimation (15% black border)": collimated,
        "burnt-in text band": _burnt_in(images, rng),
        "noisier detector (+12 gray levels SD)": u8(x + rng.normal(0, SHIFT_NOISE_SD, x.shape)),
    }


def pediatric_images(n: int, size: int, seed: int) -> np.ndarray:
    """(n, size, size) uint8: the generator's children aged 2-8, PA or AP, no findings (its
    pediatric thorax: narrower chest, no breast shadow, the same heart-size model)."""
    from triage_ray.data.synth.render import StudySpec, render_study

    rng = np.random.default_rng(seed + 2)
    return np.stack([render_study(StudySpec(index=10_000_000 + i, patient=10_000_000 + i,
                                            age=int(rng.integers(*PEDIATRIC_AGES)),
                                            female=bool(rng.random() < 0.5),
                                            view="PA" if rng.random() < 0.6 else "AP"),
                                  size, seed) for i in range(n)])


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
