"""How each finding looks, one small class per finding, registered by name.

A finding may `adjust` the anatomy before it is drawn (a big heart, low flat domes, volume loss,
a collapsed lung rim) and/or `draw` extra attenuation on top of it (nodules, opacities, fluid).
`c` is the conspicuity in (0, 1]: it scales size or density, so c near 0 is a genuinely subtle
finding. Appearances follow textbook descriptions (e.g. Felson's Principles of Chest Roentgenology);
magnitudes were set by eye on the rendered images, not measured from patients.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from triage_ray.data.synth.anatomy import MIDLINE, Anatomy, Parts, lung_width
from triage_ray.data.synth.canvas import F32, Grid, smooth_field


class Finding:
    """Base: no change. Subclasses override one or both hooks."""

    name = ""

    def adjust(self, anat: Anatomy, c: float, rng: np.random.Generator) -> Anatomy:
        return anat

    def draw(self, grid: Grid, anat: Anatomy, parts: Parts, c: float,
             rng: np.random.Generator) -> np.ndarray | None:
        return None


FINDINGS: dict[str, Finding] = {}


def register(name: str) -> Callable[[type[Finding]], type[Finding]]:
    """Class decorator: make `name` renderable (the registry the generator draws from)."""

    def deco(cls: type[Finding]) -> type[Finding]:
        if name in FINDINGS:
            raise ValueError(f"finding {name!r} registered twice")
        inst = cls()
        inst.name = name
        FINDINGS[name] = inst
        return cls

    return deco


def get_finding(name: str) -> Finding:
    try:
        return FINDINGS[name]
    except KeyError:
        raise KeyError(f"no renderer for finding {name!r}; known: {sorted(FINDINGS)}") from None


def lung_point(anat: Anatomy, rng: np.random.Generator, *, side: int | None = None,
               zone: tuple[float, float] = (0.0, 1.0)) -> tuple[float, float, int]:
    """A point inside a lung field; `zone` is the vertical band as fractions apex (0) .. base (1)."""
    sd = int(side if side is not None else rng.choice([-1, 1]))
    top, base = anat.lung_top + 0.08, anat.dome_y[0 if sd < 0 else 1] - 0.04
    y = top + (base - top) * rng.uniform(*zone)
    scale = anat.lung_scale[0 if sd < 0 else 1]
    w = float(lung_width(anat, np.array([y], dtype=F32), np.array([scale], dtype=F32))[0])
    inner = anat.mediastinum + 0.04
    u = inner + (max(w - 0.04, inner + 0.02) - inner) * rng.uniform(0.1, 1.0)
    return MIDLINE + sd * u, y, sd


def _side_mask(parts: Parts, sd: int) -> np.ndarray:
    return (parts.side == F32(sd)).astype(F32)


@register("Nodule")
class Nodule(Finding):
    """Well-defined round opacity < 3 cm: small, faint ones are the classic miss."""

    def draw(self, grid, anat, parts, c, rng):
        cx, cy, _ = lung_point(anat, rng)
        r = rng.uniform(0.025, 0.055)
        return F32(0.06 + 0.34 * c) * grid.sphere(cx, cy, r)


@register("Mass")
class Mass(Finding):
    """Lobulated opacity > 3 cm."""

    def draw(self, grid, anat, parts, c, rng):
        cx, cy, _ = lung_point(anat, rng, zone=(0.1, 0.8))
        r = rng.uniform(0.08, 0.15) * (0.7 + 0.3 * c)
        out = grid.sphere(cx, cy, r)
        for _ in range(3):
            a = rng.uniform(0, 2 * np.pi)
            out = np.maximum(out, grid.sphere(cx + 0.5 * r * np.cos(a), cy + 0.5 * r * np.sin(a),
                                              r * rng.uniform(0.5, 0.8)))
        return F32(0.08 + 0.35 * c) * out


def _patchy(grid: Grid, rng: np.random.Generator, cx: float, cy: float, rx: float, ry: float,
            mottle: float, coarse: int) -> np.ndarray:
    """An opacity filling part of a lobe: dense centre, mottled, ill-defined margins."""
    extent = grid.blob(cx, cy, rx, ry)
    field = smooth_field(rng, grid.size, coarse)
    return np.clip(extent * F32(1.8) - F32(0.5) + F32(mottle) * field * extent, 0, 1)


@register("Consolidation")
class Consolidation(Finding):
    """Dense lobar/segmental airspace opacity."""

    def draw(self, grid, anat, parts, c, rng):
        cx, cy, _ = lung_point(anat, rng, zone=(0.3, 1.0))
        patch = _patchy(grid, rng, cx, cy, rng.uniform(0.1, 0.2), rng.uniform(0.1, 0.2), 0.5, 10)
        return F32(0.12 + 0.45 * c) * patch * parts.lung


@register("Pneumonia")
class Pneumonia(Finding):
    """Patchy, often multifocal airspace opacity (radiologically a consolidation pattern)."""

    def draw(self, grid, anat, parts, c, rng):
        out = np.zeros_like(grid.x)
        for _ in range(int(rng.integers(1, 3))):
            cx, cy, _ = lung_point(anat, rng, zone=(0.3, 1.0))
            out = np.maximum(out, _patchy(grid, rng, cx, cy, rng.uniform(0.08, 0.16),
                                          rng.uniform(0.08, 0.16), 0.9, 14))
        return F32(0.10 + 0.38 * c) * out * parts.lung


@register("Infiltration")
class Infiltration(Finding):
    """Faint, ill-defined, patchy opacity; often bilateral."""

    def draw(self, grid, anat, parts, c, rng):
        out = np.zeros_like(grid.x)
        sides = [-1, 1] if rng.random() < 0.4 else [int(rng.choice([-1, 1]))]
        for sd in sides:
            cx, cy, _ = lung_point(anat, rng, side=sd, zone=(0.2, 0.9))
            out = np.maximum(out, _patchy(grid, rng, cx, cy, rng.uniform(0.12, 0.22),
                                          rng.uniform(0.15, 0.25), 1.0, 16))
        return F32(0.08 + 0.35 * c) * out * parts.lung


@register("Atelectasis")
class Atelectasis(Finding):
    """Plate-like basal opacity with volume loss (the dome on that side rises)."""

    def adjust(self, anat, c, rng):
        sd = int(rng.choice([-1, 1]))
        k = 0 if sd < 0 else 1
        dome = list(anat.dome_y)
        dome[k] -= 0.06 * c
        scale = list(anat.lung_scale)
        scale[k] *= 1 - 0.04 * c
        return replace(anat, dome_y=tuple(dome), lung_scale=tuple(scale))

    def draw(self, grid, anat, parts, c, rng):
        cx, cy, _ = lung_point(anat, rng, zone=(0.65, 0.95))
        tilt = rng.normal(0, 0.15)
        u = (grid.x - F32(cx)) * F32(np.cos(tilt)) + (grid.y - F32(cy)) * F32(np.sin(tilt))
        v = -(grid.x - F32(cx)) * F32(np.sin(tilt)) + (grid.y - F32(cy)) * F32(np.cos(tilt))
        plate = np.exp(F32(-0.5) * ((u / F32(0.16)) ** 2 + (v / F32(0.025 + 0.02 * c)) ** 2))
        return F32(0.12 + 0.4 * c) * plate * parts.lung


@register("Edema")
class Edema(Finding):
    """Bilateral perihilar haze ("bat wing"), septal lines at the bases, a larger heart."""

    def adjust(self, anat, c, rng):
        return replace(anat, heart_ax=anat.heart_ax * (1 + 0.08 * c), texture=anat.texture * (1 + 0.4 * c))

    def draw(self, grid, anat, parts, c, rng):
        haze = grid.blob(MIDLINE - 0.25, -0.0, 0.22, 0.3) + grid.blob(MIDLINE + 0.25, -0.0, 0.22, 0.3)
        out = F32(0.08 + 0.35 * c) * haze
        for sd in (-1, 1):  # Kerley B lines: short horizontal lines at the lateral bases
            for _ in range(int(2 + 4 * c)):
                y = anat.dome_y[0 if sd < 0 else 1] - rng.uniform(0.03, 0.2)
                x1 = MIDLINE + sd * (anat.thorax_halfwidth - 0.04)
                out += F32(0.08 * c) * grid.segment((x1, y), (x1 - sd * 0.07, y), 0.006)
        return out * parts.lung


@register("Effusion")
class Effusion(Finding):
    """Fluid at the base: a meniscus climbing the lateral wall, blunting the costophrenic angle."""

    def draw(self, grid, anat, parts, c, rng):
        sides = [-1, 1] if rng.random() < 0.3 else [int(rng.choice([-1, 1]))]
        out = np.zeros_like(grid.x)
        for sd in sides:
            base = anat.dome_y[0 if sd < 0 else 1] + anat.dome_depth
            h = F32(0.04 + 0.4 * c)
            near_wall = np.exp(-np.clip(parts.lateral, 0, None) / F32(0.08))
            top = F32(base) - h * (F32(0.55) + F32(0.45) * near_wall)
            fluid = grid.ramp(grid.y - top) * _side_mask(parts, sd)
            out += F32(0.6) * fluid * grid.ramp(parts.lateral + F32(0.02))
        return out


@register("Cardiomegaly")
class Cardiomegaly(Finding):
    """Cardiothoracic ratio > 0.5: the heart's transverse diameter grows."""

    def adjust(self, anat, c, rng):
        return replace(anat, heart_ax=anat.heart_ax * (1.18 + 0.35 * c),
                       heart_ay=anat.heart_ay * (1.0 + 0.12 * c),
                       heart_cx=anat.heart_cx + 0.03 * c)


@register("Pneumothorax")
class Pneumothorax(Finding):
    """Air between lung and chest wall: a lucent rim without markings and a thin pleural line."""

    def adjust(self, anat, c, rng):
        sd = int(rng.choice([-1, 1]))
        return replace(anat, pneumothorax=(*anat.pneumothorax, (sd, 0.04 + 0.28 * c)))


@register("Emphysema")
class Emphysema(Finding):
    """Hyperinflation: dark lungs, low flat domes, sparse markings, narrow heart, apical bullae."""

    def adjust(self, anat, c, rng):
        return replace(
            anat, lung_air=anat.lung_air + 0.08 + 0.2 * c,
            dome_y=(anat.dome_y[0] + 0.04 + 0.1 * c, anat.dome_y[1] + 0.04 + 0.1 * c),
            dome_depth=anat.dome_depth * (1 - 0.5 * c), texture_scale=anat.texture_scale * (1 - 0.5 * c),
            heart_ax=anat.heart_ax * (1 - 0.1 * c), lung_top=anat.lung_top - 0.03 * c,
        )

    def draw(self, grid, anat, parts, c, rng):
        out = np.zeros_like(grid.x)
        for _ in range(int(rng.integers(0, 4))):
            cx, cy, _ = lung_point(anat, rng, zone=(0.0, 0.35))
            out -= F32(0.15 * c) * grid.sphere(cx, cy, rng.uniform(0.04, 0.09))
        return out * parts.lung


@register("Fibrosis")
class Fibrosis(Finding):
    """Reticular (net-like) peripheral and basal opacity with volume loss."""

    def adjust(self, anat, c, rng):
        k = 1 - 0.06 * c
        return replace(anat, lung_scale=(anat.lung_scale[0] * k, anat.lung_scale[1] * k),
                       dome_y=(anat.dome_y[0] - 0.04 * c, anat.dome_y[1] - 0.04 * c))

    def draw(self, grid, anat, parts, c, rng):
        net = np.exp(-((smooth_field(rng, grid.size, 36) / F32(0.35)) ** 2))
        zone = np.exp(-np.clip(parts.lateral, 0, None) / F32(0.18)) * grid.ramp(grid.y + F32(0.2))
        return F32(0.08 + 0.3 * c) * net * zone * parts.lung


@register("Pleural_Thickening")
class PleuralThickening(Finding):
    """A smooth band along the lateral chest wall, or an apical cap."""

    def draw(self, grid, anat, parts, c, rng):
        sd = int(rng.choice([-1, 1]))
        width = F32(0.012 + 0.035 * c)
        band = np.exp(-np.clip(parts.lateral, 0, None) / width) * parts.lung * _side_mask(parts, sd)
        if rng.random() < 0.4:  # apical cap
            band = band * grid.ramp(F32(anat.lung_top + 0.35) - grid.y)
        return F32(0.15 + 0.3 * c) * band


@register("Hernia")
class Hernia(Finding):
    """Hiatus hernia: a retrocardiac round opacity, often with an air-fluid level."""

    def draw(self, grid, anat, parts, c, rng):
        cx, cy = MIDLINE + rng.normal(0.03, 0.02), anat.heart_cy + rng.uniform(0.0, 0.08)
        r = 0.06 + 0.07 * c
        ball = grid.sphere(cx, cy, r * 1.2, r)
        gas = grid.ramp(F32(cy - 0.2 * r) - grid.y) * ball if rng.random() < 0.6 else 0 * ball
        return F32(0.08 + 0.3 * c) * ball - F32(0.25 + 0.2 * c) * gas


@register("Fracture")
class Fracture(Finding):
    """A rib fracture: a lucent line across a lateral rib, with some callus."""

    def draw(self, grid, anat, parts, c, rng):
        sd = int(rng.choice([-1, 1]))
        u = rng.uniform(0.45, 0.7) * anat.thorax_halfwidth / 0.8
        slope = 0.45 * u**1.5  # snap a random height onto a posterior rib's centre line
        k = round((rng.uniform(-0.5, 0.2) - slope) / anat.rib_spacing + anat.rib_phase)
        y = (k - anat.rib_phase) * anat.rib_spacing + slope
        x = MIDLINE + sd * u
        gap = grid.segment((x - 0.01, y - 0.05), (x + 0.01, y + 0.05), 0.006 + 0.006 * c)
        callus = grid.blob(x, y, 0.02 + 0.02 * c, 0.03)
        return F32(anat.bone) * (F32(0.15 * c) * callus - F32(0.5 + 0.4 * c) * gap)
