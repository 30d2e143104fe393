"""Snow-leopard coats: rosette and spot sheets, shading, and one coat per seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.render.fields import box_blur, fractal_noise, smoothstep
from sim.render.pixels import RGBX, to_uint8
from sim.render.pose import SPRITE_BODY_PX, Grid, paint_head, paint_tail, paint_torso

_COAT_MARGIN = 0.25  # coat pattern sheets extend this far (body lengths) around the box
_COAT_MARK_RGB = np.array([58, 54, 51], np.float32)
_ROSETTE_CENTRE_TINT = np.array([0.88, 0.84, 0.77], np.float32)  # tawny inside the rings
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class CoatKit:
    """Per-scene material for coats: regions, base colours, shading, and pattern sheets."""

    grid: Grid
    regions: tuple[np.ndarray, ...]  # bool (h, w) per pattern kind: legs, body, head, tail
    tail_tip: np.ndarray  # bool (h, w)
    lit_base: np.ndarray  # float32 (3, h, w): pale smoky-grey coat with whiter belly, shaded
    lit_marks: np.ndarray  # float32 (3, h, w): the dark marks' colour, shaded
    sheets: tuple[tuple[np.ndarray, np.ndarray], ...]  # per kind: (dark, tawny centre)
    mottle: np.ndarray  # float32 sheet
    margin_px: int


def _spot_sheet(
    rng: np.random.Generator, height: int, width: int, spacing_px: float, rosettes: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Dark marks on a jittered grid (cellular noise): broken rosette rings or solid spots."""
    gh, gw = int(height / spacing_px) + 3, int(width / spacing_px) + 3
    jitter_y, jitter_x = rng.uniform(-0.35, 0.35, (2, gh, gw))
    centre_y = (np.arange(gh)[:, None] - 0.5 + jitter_y) * spacing_px
    centre_x = (np.arange(gw)[None, :] - 0.5 + jitter_x) * spacing_px
    low, high = (0.28, 0.42) if rosettes else (0.15, 0.3)
    radius = rng.uniform(low, high, (gh, gw)) * spacing_px
    ring_px = rng.uniform(0.08, 0.13, (gh, gw)) * spacing_px
    gaps, gap_phase = rng.integers(3, 6, (gh, gw)), rng.uniform(0, 2 * np.pi, (gh, gw))
    ys = np.arange(height, dtype=np.float32)[:, None]
    xs = np.arange(width, dtype=np.float32)[None, :]
    cell_y = np.broadcast_to((ys // spacing_px).astype(np.intp) + 1, (height, width))
    cell_x = np.broadcast_to((xs // spacing_px).astype(np.intp) + 1, (height, width))
    best = np.full((height, width), np.inf, np.float32)
    best_y = np.zeros((height, width), np.intp)
    best_x = np.zeros((height, width), np.intp)
    for oy in (-1, 0, 1):
        for ox in (-1, 0, 1):
            iy, ix = cell_y + oy, cell_x + ox
            d = np.hypot(ys - centre_y[iy, ix], xs - centre_x[iy, ix]).astype(np.float32)
            closer = d < best
            best = np.where(closer, d, best)
            best_y = np.where(closer, iy, best_y)
            best_x = np.where(closer, ix, best_x)
    r = radius[best_y, best_x]
    if not rosettes:
        return best < r, np.zeros((height, width), bool)
    angle = np.arctan2(ys - centre_y[best_y, best_x], xs - centre_x[best_y, best_x])
    unbroken = np.cos(gaps[best_y, best_x] * angle + gap_phase[best_y, best_x]) > -0.45
    ring = (np.abs(best - r) < ring_px[best_y, best_x]) & unbroken
    return ring, best < r - ring_px[best_y, best_x]


def make_coat_kit(rng: np.random.Generator) -> CoatKit:
    """Regions, colours, shading and pattern sheets shared by every coat of a scene."""
    grid = Grid()
    torso, head, tail, tip = (np.zeros((grid.height, grid.width), bool) for _ in range(4))
    paint_torso(torso, grid)
    paint_head(head, grid)
    paint_tail(tail, grid, 0.0)
    paint_tail(tip, grid, 0.0, tip_only=True)
    kind = np.zeros(torso.shape, np.uint8)
    for value, region in ((1, torso), (3, tail), (2, head), (4, tip)):
        kind[_dilate(region, 6)] = value
    silhouette = torso | head | tail
    rim = box_blur(silhouette.astype(np.float32), int(0.05 * SPRITE_BODY_PX))
    shading = np.where(silhouette, 0.68 + 0.32 * np.clip((rim - 0.4) / 0.5, 0, 1), 0.86)
    shading *= 1.05 - 0.1 * np.clip((grid.y[:, None] + 0.15) / 0.35, 0, 1)
    margin = int(_COAT_MARGIN * SPRITE_BODY_PX)
    sheet_h, sheet_w = grid.height + 2 * margin, grid.width + 2 * margin
    spacing = (0.065, 0.1, 0.04, 0.11)  # legs, body, head, tail (body lengths)
    sheets = tuple(
        _spot_sheet(rng, sheet_h, sheet_w, spacing[k] * SPRITE_BODY_PX, rosettes=k in (1, 3))
        for k in range(4)
    )
    mottle = fractal_noise(rng, sheet_h, sheet_w, 0.15 * SPRITE_BODY_PX, 3)
    lit_base = np.moveaxis(_coat_base(grid, kind) * shading[..., None], -1, 0)
    lit_marks = _COAT_MARK_RGB[:, None, None] * shading[None]
    regions = tuple(kind == k for k in range(4))
    return CoatKit(
        grid,
        regions,
        kind == 4,
        np.ascontiguousarray(lit_base, np.float32),
        lit_marks.astype(np.float32),
        sheets,
        mottle,
        margin,
    )


def _dilate(mask: np.ndarray, radius_px: int) -> np.ndarray:
    """Grow a mask by about `radius_px` (box blur threshold)."""
    return box_blur(mask.astype(np.float32), radius_px) > 0.02


def _coat_base(grid: Grid, kind: np.ndarray) -> np.ndarray:
    """Ground colour: smoky grey-beige back, whitish belly, pale legs."""
    back = np.array([172, 168, 157], np.float32)
    belly = np.array([226, 224, 217], np.float32)
    t = np.clip((grid.y[:, None] + 0.12) / 0.28, 0, 1)[..., None]
    colour = back + (belly - back) * smoothstep(t)
    legs = np.array([208, 204, 194], np.float32)
    colour = np.where((kind == 0)[..., None] & (grid.y[:, None, None] > 0.12), legs, colour)
    return np.broadcast_to(colour, (grid.height, grid.width, 3)).astype(np.float32)


@dataclass(frozen=True)
class Coat:
    """One animal's shaded coat on the canonical grid: packed colour and its luma."""

    rgbx: np.ndarray  # packed uint32 (h, w)
    grey: np.ndarray  # uint8 (h, w)


def make_coat(kit: CoatKit, coat_seed: int) -> Coat:
    """Cut this animal's pattern from the scene's sheets at seed-chosen offsets, then shade it."""
    rng = np.random.default_rng([int(coat_seed) & 0xFFFFFFFF, 0xC0A7])
    h, w = kit.grid.height, kit.grid.width
    span = 2 * kit.margin_px
    dark = kit.tail_tip.copy()
    centre = np.zeros((h, w), bool)
    for region, (sheet_dark, sheet_centre) in zip(kit.regions, kit.sheets, strict=True):
        oy, ox = (int(v) for v in rng.integers(0, span + 1, 2))
        dark |= region & sheet_dark[oy : oy + h, ox : ox + w]
        centre |= region & sheet_centre[oy : oy + h, ox : ox + w]
    oy, ox = (int(v) for v in rng.integers(0, span + 1, 2))
    warmth = rng.uniform(-1, 1)
    tint = np.array([1 + 0.03 * warmth, 1 + 0.01 * warmth, 1 - 0.04 * warmth], np.float32)
    tint *= np.float32(rng.uniform(0.94, 1.04))
    mottle = kit.mottle[oy : oy + h, ox : ox + w] * np.float32(0.07) + np.float32(1.0)
    packed = np.zeros((h, w), RGBX)
    grey = np.zeros((h, w), np.float32)
    for channel in range(3):  # planar: every step a contiguous 2-D operation
        plane = kit.lit_base[channel] * mottle
        plane *= tint[channel]
        np.multiply(plane, _ROSETTE_CENTRE_TINT[channel], out=plane, where=centre)
        np.copyto(plane, kit.lit_marks[channel], where=dark)
        grey += plane * _LUMA_WEIGHTS[channel]
        packed |= to_uint8(plane).astype(RGBX) << (8 * channel)
    return Coat(packed, to_uint8(grey))
