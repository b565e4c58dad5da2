"""Out-of-scope probe images made from in-scope ones: what the gate's image checks and feature
check must catch when the tags say "adult frontal chest". Each kind is a plain transform, named
for what it stands for in a real export.

Two families. `probe_images`: broken files (blank, inverted, rotated, noise, not a chest), which
any check should catch. `shift_probes`: what another population or another site looks like while
the tags still say "adult frontal chest": another site's processing of the same films (look-up
table, edge enhancement, collimation, burnt-in text, a noisier detector) and, where the model was
trained on generated images, `generated_shift_probes`: the generator's own children, its adults on
portable AP films with a heavier habitus, and a drawn lateral film. Their catch rates
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
    rng = np.random.default_rng(seed + 2)
    return np.stack([_render(i, int(rng.integers(*PEDIATRIC_AGES)), bool(rng.random() < 0.5),
                             size, seed, "PA" if rng.random() < 0.6 else "AP") for i in range(n)])


HEAVY_SOFT_TISSUE = 1.8  # x the patient's soft-tissue attenuation (the generator's adults: 1.0 +- 0.12)
HEAVY_BODY_MARGIN = 0.40  # skin line this far outside the rib cage (the generator's: 0.08-0.24)


def heavy_habitus_images(n: int, size: int, seed: int, *, ordinary: bool = False) -> np.ndarray:
    """(n, size, size) uint8: the generator's adults aged 40-79 on portable AP films with a heavier
    habitus than any it trains on (thicker soft tissue, skin line far outside the ribs). Exposure
    control and the site's windowing bring each film back to the gray range of the same patient's
    ordinary film (1st-99th percentile stretched to it), so what differs is contrast and noise,
    not brightness (which the image checks would catch). ordinary: the same patients' ordinary
    films instead (the probe's control)."""
    from dataclasses import replace

    def heavy(anat):
        return replace(anat, soft_tissue=anat.soft_tissue * HEAVY_SOFT_TISSUE,
                       body_halfwidth=anat.thorax_halfwidth + HEAVY_BODY_MARGIN)

    rng = np.random.default_rng(seed + 3)
    out = []
    for i in range(n):
        age, female = int(rng.integers(40, 80)), bool(rng.random() < 0.5)
        usual = _render(i, age, female, size, seed, "AP")
        if ordinary:
            out.append(usual)
            continue
        film = _render(i, age, female, size, seed, "AP", edit=heavy).astype(np.float32)
        (lo, hi), (to_lo, to_hi) = np.percentile(film, [1, 99]), np.percentile(usual, [1, 99])
        film = to_lo + (film - lo) * (to_hi - to_lo) / max(hi - lo, 1.0)
        out.append(np.clip(np.rint(film), 0, 255).astype(np.uint8))
    return np.stack(out)


def _render(i: int, age: int, female: bool, size: int, seed: int, view: str,
            edit=None) -> np.ndarray:
    """One normal study of the generator, outside its training studies' indices."""
    from triage_ray.data.synth.render import StudySpec, render_study

    spec = StudySpec(index=10_000_000 + i, patient=10_000_000 + i, age=age, female=female,
                     view=view)
    return render_study(spec, size, seed, edit=edit)


def lateral_image(size: int, rng: np.random.Generator) -> np.ndarray:
    """A drawn lateral chest film (the patient facing image-left), exposed and noised as the
    generator's frontal films are: spine and back at the right, sternum at the left, heart
    anterior and low, the lungs overlapping between, arms raised over the upper chest. The
    generator draws no lateral view; this stands for one exported with a frontal view tag."""
    from triage_ray.data.synth.acquisition import expose, sample_acquisition
    from triage_ray.data.synth.canvas import F32, make_grid

    acq = sample_acquisition(rng, view="PA", size=size)
    g = make_grid(size, rotation_deg=acq.rotation_deg, shift=acq.shift,
                  magnification=acq.magnification)
    front, back = -0.78 + rng.normal(0, 0.04), 0.86 + rng.normal(0, 0.04)
    body = g.sphere((front + back) / 2, 0.0, (back - front) / 2, 4.0)
    atten = F32(1.5 * rng.normal(1.0, 0.1)) * body
    dome = rng.normal(0.38, 0.05)
    lung_floor = dome + F32(0.18) * np.clip((g.x + 0.2) / 0.8, 0, 1)  # the posterior recess is low
    lung = g.disc(0.0, -0.05, 0.62, 0.8) * g.ramp(lung_floor - g.y)
    atten -= F32(0.75) * lung
    atten += F32(0.65) * g.disc(-0.22 + rng.normal(0, 0.04), dome - 0.12, 0.33, 0.30)  # heart
    atten += F32(0.25) * g.blob(0.12, -0.05, 0.12, 0.18)  # hila
    spine_x = back - 0.3
    for y in np.arange(-1.1, 1.1, 0.125):  # vertebral bodies and their discs
        atten += F32(0.55) * g.disc(spine_x, float(y), 0.085, 0.05)
    atten += F32(0.25) * g.segment((spine_x + 0.14, -1.0), (spine_x + 0.14, 1.0), 0.03)
    atten += F32(0.45) * g.segment((front + 0.06, -0.62), (front + 0.1, 0.18), 0.018)  # sternum
    for side in (-0.06, 0.06):  # the raised arms over the upper chest
        atten += F32(0.5) * g.disc(0.1 + side, -0.78, 0.22, 0.25)
        atten += F32(0.4) * g.segment((0.0 + side, -1.0), (0.2 + side, -0.55), 0.04)
    img = expose(atten, acq)
    img = img + F32(acq.noise_sd) * rng.standard_normal(img.shape, dtype=F32)
    return (np.clip(img, 0, 1) * F32(255) + F32(0.5)).astype(np.uint8)


def generated_shift_probes(n: int, size: int, seed: int) -> dict[str, np.ndarray]:
    """kind -> (n, size, size) uint8: what another population or view looks like to a model trained
    on generated films, while the tags still say "adult frontal chest"."""
    rng = np.random.default_rng(seed + 4)
    return {"children aged 2-8 (generated)": pediatric_images(n, size, seed),
            "lateral films tagged as frontal (drawn)":
                np.stack([lateral_image(size, rng) for _ in range(n)]),
            "portable AP, heavier habitus (generated)": heavy_habitus_images(n, size, seed)}


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
