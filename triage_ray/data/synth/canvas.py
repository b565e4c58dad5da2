"""Drawing primitives for the generated radiographs: a coordinate grid and soft shapes on it.

Everything is drawn analytically on normalised coordinates (x right, y down, both in [-1, 1]), so a
rotation or magnification is a change of coordinates rather than a resampling, and any image size
works. Edges are linear ramps about one pixel wide: anti-aliased and much cheaper than sigmoids.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

F32 = np.float32


@dataclass(frozen=True)
class Grid:
    """Pixel-centre coordinates after the acquisition's rotation, shift and magnification."""

    x: np.ndarray  # (S, S) float32
    y: np.ndarray  # (S, S) float32
    size: int
    edge: float  # one pixel in normalised units: the width of every soft edge

    def ramp(self, f: np.ndarray) -> np.ndarray:
        """0 where f < -edge/2, 1 where f > edge/2, linear between: a soft `f > 0`."""
        # minimum/maximum, not np.clip: its Python wrapper costs more than the work at 64 px
        return np.minimum(np.maximum(F32(0.5) + f * F32(1.0 / self.edge), F32(0.0)), F32(1.0))

    def blob(self, cx: float, cy: float, rx: float, ry: float | None = None) -> np.ndarray:
        """Smooth bump exp(-d^2/2) of the elliptical distance d from (cx, cy) in radii units."""
        ry = rx if ry is None else ry
        d2 = ((self.x - F32(cx)) / F32(rx)) ** 2 + ((self.y - F32(cy)) / F32(ry)) ** 2
        return np.exp(F32(-0.5) * d2)

    def disc(self, cx: float, cy: float, rx: float, ry: float | None = None) -> np.ndarray:
        """Soft-edged filled ellipse."""
        ry = rx if ry is None else ry
        d = np.sqrt(((self.x - F32(cx)) / F32(rx)) ** 2 + ((self.y - F32(cy)) / F32(ry)) ** 2)
        return self.ramp((F32(1.0) - d) * F32(min(rx, ry)))

    def sphere(self, cx: float, cy: float, rx: float, ry: float | None = None) -> np.ndarray:
        """Projected thickness of an ellipsoid, 1 at the centre: a round lesion's profile."""
        ry = rx if ry is None else ry
        d2 = ((self.x - F32(cx)) / F32(rx)) ** 2 + ((self.y - F32(cy)) / F32(ry)) ** 2
        return np.sqrt(np.clip(F32(1) - d2, 0, None))

    def segment(self, p0: tuple[float, float], p1: tuple[float, float], width: float) -> np.ndarray:
        """Gaussian band of the given half-width along the segment p0-p1 (clavicles, lines)."""
        (x0, y0), (x1, y1) = p0, p1
        dx, dy = x1 - x0, y1 - y0
        along = (self.x - F32(x0)) * F32(dx) + (self.y - F32(y0)) * F32(dy)
        t = np.clip(along / F32(dx * dx + dy * dy), 0, 1)
        d2 = (self.x - F32(x0) - t * F32(dx)) ** 2 + (self.y - F32(y0) - t * F32(dy)) ** 2
        return np.exp(-d2 / F32(2 * width * width))


@lru_cache(maxsize=64)
def _pixel_centres(size: int) -> np.ndarray:
    return ((np.arange(size, dtype=np.float64) + 0.5) / size * 2.0 - 1.0).astype(F32)


def make_grid(size: int, *, rotation_deg: float = 0.0, shift: tuple[float, float] = (0.0, 0.0),
              magnification: float = 1.0) -> Grid:
    """Coordinates of the patient seen through the detector: rotated, shifted and magnified."""
    c = _pixel_centres(size)
    xx, yy = np.meshgrid(c, c)  # (S, S): x varies along columns
    th = np.deg2rad(rotation_deg)
    cos, sin = F32(np.cos(th)), F32(np.sin(th))
    xs, ys = xx - F32(shift[0]), yy - F32(shift[1])
    m = F32(1.0 / magnification)
    x = (cos * xs + sin * ys) * m
    y = (-sin * xs + cos * ys) * m
    return Grid(x=x, y=y, size=size, edge=2.0 / size)


@lru_cache(maxsize=64)
def _upsampler(size: int, coarse: int) -> np.ndarray:
    """(S, n) row-normalised Gaussian interpolation weights from an n-point lattice to S pixels."""
    t = _pixel_centres(size).astype(np.float64)
    c = np.linspace(-1.0, 1.0, coarse)
    h = 2.0 / (coarse - 1)
    w = np.exp(-0.5 * ((t[:, None] - c[None, :]) / (0.6 * h)) ** 2)
    w[w < 1e-4] = 0.0  # no denormals (slow float32 products)
    return (w / w.sum(axis=1, keepdims=True)).astype(F32)


def smooth_field(rng: np.random.Generator, size: int, coarse: int) -> np.ndarray:
    """A smooth zero-mean random field (unit-ish variance) with features ~2/coarse wide: (S, S)."""
    u = _upsampler(size, coarse)
    g = rng.standard_normal((coarse, coarse), dtype=F32)
    f = u @ g @ u.T
    return f / F32(max(float(f.std()), 1e-6))


@lru_cache(maxsize=16)
def _blur_matrix(size: int, sigma_px: float) -> np.ndarray:
    i = np.arange(size)
    w = np.exp(-0.5 * ((i[:, None] - i[None, :]) / sigma_px) ** 2)
    w[w < 1e-4] = 0.0  # no denormals: they make float32 matrix products ~100x slower
    return (w / w.sum(axis=1, keepdims=True)).astype(F32)


def blur(img: np.ndarray, sigma_px: float) -> np.ndarray:
    """Separable Gaussian blur (detector unsharpness) as two small matrix products."""
    b = _blur_matrix(img.shape[0], round(float(sigma_px), 1))
    return b @ img @ b.T
