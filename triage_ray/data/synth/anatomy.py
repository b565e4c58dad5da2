"""A normal chest seen on a frontal radiograph, as a map of X-ray attenuation.

Image conventions of a frontal CXR: the patient's right is on the image's left; the heart sits
mostly right of the image midline; bone and soft tissue attenuate (bright), lung air does not
(dark). Geometry is in normalised coordinates (x right, y down, [-1, 1]); all lengths below are in
those units (1.0 ~ 17 cm on a 35 cm detector).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from triage_ray.data.synth.canvas import F32, Grid, smooth_field

MIDLINE = 0.02  # the mediastinum sits slightly right of the detector centre in the image
HEART_TILT = 0.3  # radians: the long axis points down towards the apex on the image right
HILUM_Y = -0.05  # height of the hila, where the pulmonary vessels fan out from
# Normal cardiothoracic ratio on a PA film is < 0.5 (Danzer 1919; any radiology text); we draw
# normal hearts with CTR ~ 0.39-0.51, and AP films magnify the heart ~10-15% (Hughes 1996).
NORMAL_CTR_MEAN, NORMAL_CTR_SD = 0.45, 0.03
AP_HEART_MAGNIFICATION = 1.12


@dataclass(frozen=True)
class Anatomy:
    """One patient's chest on one study. Findings edit these fields before drawing."""

    body_halfwidth: float  # skin line
    thorax_halfwidth: float  # inner rib cage
    soft_tissue: float  # habitus: attenuation of the soft-tissue slab
    lung_top: float  # apex height
    dome_y: tuple[float, float]  # hemidiaphragm dome apex y (image-left = patient right, image-right)
    dome_depth: float  # how far the costophrenic angles sit below the domes
    heart_cx: float
    heart_cy: float
    heart_ax: float  # half-width: CTR = heart_ax / thorax_halfwidth
    heart_ay: float
    mediastinum: float  # upper mediastinal half-width
    aortic_knob: float  # radius of the aortic knob (older patients: unfolded aorta)
    rib_spacing: float
    rib_phase: float
    bone: float  # bone attenuation (lower in older women)
    lung_air: float  # how much attenuation inflated lung removes
    texture: float  # amplitude of vascular/parenchymal markings
    breast: float  # soft-tissue shadow over the lower zones (0 for men)
    scapula_overlap: float  # 0 (PA: scapulae rotated out) .. 1 (AP: over the upper lungs)
    lung_scale: tuple[float, float] = (1.0, 1.0)  # per side lateral extent (volume loss < 1)
    # pneumothorax: (side, depth) per affected side; side -1 image-left, +1 image-right
    pneumothorax: tuple[tuple[int, float], ...] = ()
    texture_scale: float = 1.0  # emphysema thins the markings
    texture_seed: int = 0
    vessel_angles: tuple[float, ...] = field(default=(), repr=False)


def sample_anatomy(rng: np.random.Generator, *, age: float, female: bool) -> Anatomy:
    """Patient-to-patient variation: habitus, lung and heart size, rib spacing, bone density."""
    age = float(np.clip(age, 1, 95))
    child = float(np.clip((16 - age) / 16, 0, 1))
    thorax = rng.normal(0.80, 0.035) * (1 - 0.08 * child)
    ctr = rng.normal(NORMAL_CTR_MEAN + 0.0008 * (age - 45), NORMAL_CTR_SD)
    dome = rng.normal(0.42, 0.05)
    bone_loss = max(0.0, age - 50) / 45 * (0.35 if female else 0.18)
    return Anatomy(
        body_halfwidth=thorax + rng.uniform(0.08, 0.24),
        thorax_halfwidth=thorax,
        soft_tissue=rng.normal(1.0, 0.12),
        lung_top=rng.normal(-0.80, 0.03),
        dome_y=(dome, dome + abs(rng.normal(0.05, 0.025))),  # the right dome sits higher
        dome_depth=rng.normal(0.17, 0.025),
        heart_cx=MIDLINE + ctr * thorax / 3 + rng.normal(0, 0.015),
        heart_cy=dome - rng.normal(0.13, 0.02),
        heart_ax=ctr * thorax * 1.04,  # the tilt narrows the transverse extent a little
        heart_ay=rng.normal(0.27, 0.02),
        mediastinum=rng.normal(0.12, 0.01),
        aortic_knob=0.045 + 0.03 * max(0.0, age - 40) / 55 + rng.normal(0, 0.006),
        rib_spacing=rng.normal(0.165, 0.012),
        rib_phase=rng.uniform(0, 1),
        bone=rng.normal(0.16, 0.025) * (1 - bone_loss),
        lung_air=rng.normal(0.70, 0.05),
        texture=rng.normal(0.15, 0.025),
        breast=rng.uniform(0.08, 0.22) if female and age > 14 else 0.0,
        scapula_overlap=0.0,
        texture_seed=int(rng.integers(2**31)),
        vessel_angles=tuple(rng.uniform(-np.pi, np.pi, 28)),
    )


def position(anat: Anatomy, rng: np.random.Generator, *, view: str) -> Anatomy:
    """This study's positioning: inspiration depth, and the AP look (magnified heart, scapulae)."""
    shift = rng.normal(0, 0.03)
    ap = view == "AP"
    if ap:  # supine/portable: poorer inspiration, magnified heart, scapulae over the lungs
        shift += abs(rng.normal(0.06, 0.03))
    return replace(
        anat,
        dome_y=(anat.dome_y[0] + shift, anat.dome_y[1] + shift),
        heart_cy=anat.heart_cy + shift,
        heart_ax=anat.heart_ax * (AP_HEART_MAGNIFICATION if ap else 1.0),
        heart_ay=anat.heart_ay * (AP_HEART_MAGNIFICATION if ap else 1.0),
        mediastinum=anat.mediastinum * (1.15 if ap else 1.0),
        scapula_overlap=rng.uniform(0.6, 1.0) if ap else rng.uniform(0.0, 0.25),
    )


@dataclass
class Parts:
    """Intermediate maps that findings draw against (all (S, S) float32)."""

    lung: np.ndarray  # soft lung-field mask, both sides
    side: np.ndarray  # -1 on the image-left half (patient right), +1 on the image-right half
    heart: np.ndarray
    dome: np.ndarray  # y of the hemidiaphragm above each pixel's column
    lateral: np.ndarray  # distance inside the lateral lung border (normalised units)


def lung_width(anat: Anatomy, y: np.ndarray, side_scale: np.ndarray) -> np.ndarray:
    """Lateral lung border |x| at height y: rounded apex, widest above the diaphragm."""
    rise = np.clip((y - F32(anat.lung_top)) / F32(0.26), 0, None)
    return F32(anat.thorax_halfwidth * 0.97) * side_scale * (F32(1) - np.exp(-rise) * F32(0.95))


def dome_height(anat: Anatomy, x: np.ndarray, side: np.ndarray) -> np.ndarray:
    """Diaphragm y under each column: a dome per side falling to the costophrenic angle."""
    apex = np.where(side < 0, F32(anat.dome_y[0]), F32(anat.dome_y[1]))
    u = (np.abs(x - F32(MIDLINE)) - F32(0.30)) / F32(anat.thorax_halfwidth - 0.30)
    return apex + F32(anat.dome_depth) * u * u


def render_anatomy(grid: Grid, anat: Anatomy) -> tuple[np.ndarray, Parts]:
    """Attenuation map of the normal chest (S, S) plus the masks findings need."""
    x, y, r = grid.x, grid.y, grid.ramp
    side = np.where(x < F32(MIDLINE), F32(-1), F32(1))
    ax = np.abs(x - F32(MIDLINE))

    # soft tissue: a cylinder (thicker centrally), wider over the shoulders at the top
    bw = F32(anat.body_halfwidth) + F32(0.12) * np.clip((F32(-0.45) - y) / F32(0.4), 0, 1)
    body = r(bw - ax) * np.sqrt(np.clip(F32(1) - (ax / bw) ** 2, F32(0.04), F32(1)))
    atten = F32(anat.soft_tissue) * body

    # lungs
    scale = np.where(side < 0, F32(anat.lung_scale[0]), F32(anat.lung_scale[1]))
    lateral = lung_width(anat, y, scale) - ax
    dome = dome_height(anat, x, side)
    medial = ax - F32(anat.mediastinum)
    lung = r(lateral) * r(medial) * r(dome - y) * r(y - F32(anat.lung_top))

    # heart: a tilted ellipse resting on the left hemidiaphragm, flat-topped density profile
    hx, hy = x - F32(anat.heart_cx), y - F32(anat.heart_cy)
    c, s = F32(np.cos(HEART_TILT)), F32(np.sin(HEART_TILT))
    hu, hv = c * hx + s * hy, -s * hx + c * hy
    bulge = F32(1) + F32(0.18) * np.clip(hv / F32(anat.heart_ay), -1, 1)  # wider ventricles
    hd = np.sqrt((hu / (F32(anat.heart_ax) * bulge)) ** 2 + (hv / F32(anat.heart_ay)) ** 2)
    heart = r((F32(1) - hd) * F32(anat.heart_ay))
    atten += F32(0.3) * heart * np.sqrt(np.clip(F32(1) - hd * hd, 0, 1) + F32(0.6))

    # mediastinum (with the dark tracheal air column), aortic knob, faint spine
    upper = r(F32(anat.heart_cy) - y)
    atten += F32(0.3) * r(F32(anat.mediastinum) - ax) * upper
    atten -= F32(0.35) * r(F32(0.035) - ax) * r(F32(-0.3) - y)
    atten += F32(0.3) * grid.disc(MIDLINE + anat.mediastinum, -0.38, anat.aortic_knob)
    disc_spaces = F32(0.8) + F32(0.2) * np.cos(F32(2 * np.pi / 0.11) * y)
    atten += F32(0.12) * r(F32(0.06) - ax) * disc_spaces

    # lung air and markings: vessels fan out from the hila, plus fine parenchymal texture
    tex_rng = np.random.default_rng(anat.texture_seed)
    markings = _vessels(grid, anat) + F32(0.35) * smooth_field(tex_rng, grid.size, 24)
    tex = F32(anat.texture * anat.texture_scale) * markings
    air = F32(anat.lung_air) * lung * (F32(1) - F32(0.9) * heart)
    for ptx_side, depth in anat.pneumothorax:  # collapsed lung: no markings, more air at the rim
        rim = r(F32(depth) - lateral - F32(0.4) * np.clip(F32(anat.lung_top + 0.45) - y, 0, None))
        rim = rim * (side == F32(ptx_side)) * lung
        tex = tex * (F32(1) - rim)
        air = air + F32(0.18) * rim
        pleura = np.exp(-(((lateral - F32(depth)) / F32(0.012)) ** 2)) * (side == F32(ptx_side))
        atten += F32(0.10) * pleura * lung
    atten += lung * tex - air
    for sd in (-1, 1):  # hilar vessels
        atten += F32(0.12) * grid.blob(MIDLINE + sd * 0.2, HILUM_Y + 0.03 * sd, 0.06, 0.1) * lung

    # abdomen under the domes; gastric bubble under the image-right (patient left) dome
    atten += F32(0.35) * r(y - dome) * r(F32(anat.thorax_halfwidth) - ax)
    atten -= F32(0.3) * grid.blob(MIDLINE + 0.32, anat.dome_y[1] + 0.1, 0.08, 0.05)

    atten += _bones(grid, anat, ax, dome)
    if anat.breast > 0:
        for sd in (-1, 1):
            atten += F32(anat.breast) * grid.disc(MIDLINE + sd * 0.5, anat.dome_y[0] + 0.05, 0.32, 0.28)
    parts = Parts(lung=lung, side=side, heart=heart, dome=dome, lateral=lateral)
    return atten, parts


def _vessels(grid: Grid, anat: Anatomy) -> np.ndarray:
    """Streaks fanning out from each hilum and fading to the periphery.

    Spokes are looked up from a per-patient 1-D angular profile: one arctan2 and one gather per
    side instead of a loop over vessels (the renderer's hot spot).
    """
    out = np.zeros_like(grid.x)
    profiles = _spoke_profiles(anat.vessel_angles)
    for k, sd in enumerate((-1, 1)):
        dx = grid.x - F32(MIDLINE + sd * 0.17)
        dy = grid.y - F32(HILUM_Y)
        rad = np.sqrt(dx * dx + dy * dy)
        th = np.arctan2(dy, dx)
        idx = ((th + F32(np.pi)) * F32(_N_ANGLES / (2 * np.pi))).astype(np.int32) % _N_ANGLES
        out += profiles[k][idx] * np.exp(-rad / F32(0.4)) * (np.sign(dx) == sd)
    return out


_N_ANGLES = 720


def _spoke_profiles(angles: tuple[float, ...]) -> np.ndarray:
    """(2, N) angular profiles: a narrow peak (~2 degrees) per vessel direction, per side."""
    a = np.asarray(angles, dtype=np.float64).reshape(2, -1)
    offsets = np.arange(-6, 7)
    bump = np.exp(-((offsets * (2 * np.pi / _N_ANGLES) / 0.035) ** 2)).astype(F32)
    out = np.zeros((2, _N_ANGLES), dtype=F32)
    centre = np.round((a + np.pi) * (_N_ANGLES / (2 * np.pi))).astype(np.int64)
    for k in range(2):
        idx = (centre[k][:, None] + offsets[None, :]) % _N_ANGLES
        np.maximum.at(out[k], idx.ravel(), np.tile(bump, centre.shape[1]))
    return out


def _bones(grid: Grid, anat: Anatomy, ax: np.ndarray, dome: np.ndarray) -> np.ndarray:
    """Ribs (posterior arcs; fainter anterior ribs), clavicles and scapulae."""
    y, r = grid.y, grid.ramp
    inside = r(F32(anat.thorax_halfwidth + 0.04) - ax) * r(ax - F32(0.05))
    inside = inside * r(y - F32(anat.lung_top - 0.1)) * r(dome + F32(0.25) - y)
    # posterior ribs: arcs rising slightly from the spine, then sweeping down laterally
    u = ax - F32(0.22)
    v = (y - F32(0.55) * u * u - F32(0.25) * np.clip(u, 0, None)) / F32(anat.rib_spacing)
    posterior = np.clip(np.cos(F32(2 * np.pi) * (v + F32(anat.rib_phase))) - F32(0.45), 0, None)
    va = (y + F32(0.3) * ax) / F32(anat.rib_spacing * 1.3) + F32(anat.rib_phase * 0.7)
    anterior = np.clip(np.cos(F32(2 * np.pi) * va) - F32(0.6), 0, None)
    bone = posterior * F32(1 / 0.55) + anterior * r(F32(0.1) - y)
    bone = bone * inside * F32(anat.bone)
    for sd in (-1, 1):
        x0 = MIDLINE + sd * 0.07
        bone += F32(anat.bone * 2.5) * grid.segment((x0, -0.74), (x0 + sd * 0.58, -0.86), 0.028)
    # scapulae: lateral wedges; AP films swing their medial borders over the upper lungs
    medial = F32(anat.thorax_halfwidth - 0.08 - 0.22 * anat.scapula_overlap)
    # the medial border runs down and out to the inferior angle, fading out (no hard bottom edge)
    wedge = r(ax - medial - F32(0.45) * (y + F32(0.7))) * r(y + F32(0.82))
    wedge = wedge * np.clip((F32(0.05) - y) / F32(0.3), 0, 1)
    bone += F32(0.22) * wedge * r(F32(anat.body_halfwidth) - ax)
    return bone
