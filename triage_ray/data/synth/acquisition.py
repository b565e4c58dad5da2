"""How the radiograph was taken: positioning, exposure, detector noise and blur, markers, devices.

None of this is a finding, but a model must learn to ignore it: portable AP films are noisier,
rotated more often and carry ECG leads and lines; every film has a side marker somewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from triage_ray.data.synth.canvas import F32, Grid, blur

# Portable AP films are noisier (lower dose, scatter) and more often rotated than departmental PA
# films; the magnitudes are chosen by eye to look like downsampled clinical films, not measured.
NOISE_SD = {"PA": (0.012, 0.022), "AP": (0.018, 0.034)}  # display units (0..1) at 128 px
NOISE_REFERENCE_SIZE = 128  # per-pixel noise scales with size: a 64-px pixel averages four
ROTATION_SD_DEG = {"PA": 1.5, "AP": 3.5}
P_ECG_LEADS_AP, P_LINE_AP = 0.5, 0.3


@dataclass(frozen=True)
class Acquisition:
    rotation_deg: float
    shift: tuple[float, float]
    magnification: float
    level: float  # film-curve centre (attenuation units): exposure
    width: float  # film-curve width: lower kVp / harder windowing -> more contrast
    fog: float  # scatter: lifts the blacks, lowers contrast
    noise_sd: float
    blur_px: float
    marker: tuple[str, float, float]  # letter, x, y of the side marker
    ecg_leads: tuple[tuple[float, float], ...]
    line: tuple[tuple[float, float], ...]  # polyline of a tube/catheter, () when none


def sample_acquisition(rng: np.random.Generator, *, view: str, size: int) -> Acquisition:
    """Draw this study's acquisition; `view` is "PA" or "AP" (anything else is treated as PA)."""
    v = "AP" if view == "AP" else "PA"
    ap = v == "AP"
    corner_x = rng.choice([-0.82, 0.82])
    marker = ("L" if corner_x > 0 else "R", float(corner_x + rng.normal(0, 0.03)),
              float(-0.85 + rng.normal(0, 0.03)))
    leads: tuple[tuple[float, float], ...] = ()
    if ap and rng.random() < P_ECG_LEADS_AP:
        leads = tuple((float(rng.uniform(-0.7, 0.7)), float(rng.uniform(-0.8, 0.6)))
                      for _ in range(int(rng.integers(2, 5))))
    line: tuple[tuple[float, float], ...] = ()
    if ap and rng.random() < P_LINE_AP:  # e.g. a central line entering from the neck
        x0 = float(rng.uniform(-0.3, 0.3))
        line = ((x0, -1.0), (x0 * 0.5, -0.6), (0.0 + rng.normal(0, 0.03), -0.1))
    return Acquisition(
        rotation_deg=float(rng.normal(0, ROTATION_SD_DEG[v])),
        shift=(float(rng.normal(0, 0.03)), float(rng.normal(0, 0.03))),
        magnification=float(rng.normal(1.0, 0.04)),
        level=float(rng.normal(0.66, 0.05)),
        width=float(rng.uniform(0.26, 0.36)),
        fog=float(rng.uniform(0.0, 0.12) + (0.05 if ap else 0.0)),
        noise_sd=float(rng.uniform(*NOISE_SD[v])) * size / NOISE_REFERENCE_SIZE,
        blur_px=float(rng.uniform(0.4, 0.9)),
        marker=marker,
        ecg_leads=leads,
        line=line,
    )


def devices(grid: Grid, acq: Acquisition) -> np.ndarray:
    """Radio-opaque objects outside the patient model (attenuation units)."""
    out = np.zeros_like(grid.x)
    for cx, cy in acq.ecg_leads:
        out += F32(0.9) * grid.disc(cx, cy, 0.035)
    for p0, p1 in zip(acq.line, acq.line[1:], strict=False):
        out += F32(0.5) * grid.segment(p0, p1, 0.008)
    return out


def expose(atten: np.ndarray, acq: Acquisition) -> np.ndarray:
    """Attenuation -> display brightness in [0, 1] (bright = attenuating), before noise."""
    # a film-like characteristic curve: linear mid-range, soft toe and shoulder
    img = F32(1) / (F32(1) + np.exp((F32(acq.level) - atten) / F32(acq.width)))
    img = F32(acq.fog) + F32(1 - acq.fog) * img
    size = img.shape[0]
    if acq.blur_px * 64 / size > 0.15:  # the blur is in 64-px units: a detector property
        img = blur(img, acq.blur_px * size / 64)
    return img


def burn_marker(img: np.ndarray, acq: Acquisition) -> np.ndarray:
    """Paint the lead side marker (a bright block with the letter cut out), in place."""
    size = img.shape[0]
    letter, mx, my = acq.marker
    h = max(5, round(size * 0.07))
    r0 = int(np.clip((my + 1) / 2 * size, 0, size - h))
    c0 = int(np.clip((mx + 1) / 2 * size, 0, size - h))
    img[r0:r0 + h, c0:c0 + h] = 0.95
    g = _glyph(letter, h)
    img[r0:r0 + h, c0:c0 + h][g] = 0.3
    return img


def _glyph(letter: str, h: int) -> np.ndarray:
    """A crude h x h boolean glyph of "L" or "R"."""
    g = np.zeros((h, h), dtype=bool)
    a, b = max(1, h // 5), h - max(1, h // 5)
    g[a:b, a] = True  # stem
    if letter == "L":
        g[b - 1, a:b] = True
    else:
        mid = (a + b) // 2
        g[a, a:b - 1] = True
        g[mid, a:b - 1] = True
        g[a:mid, b - 2] = True
        for i in range(mid, b):
            g[i, min(b - 1, a + (i - a) * (b - a) // max(1, b - a))] = True
    return g
