"""The wind-swayed foreground: grass along the bottom and a branch at a top corner."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.render.landscape import Canvas
from sim.render.pixels import luma, pack, to_uint8
from sim.render.types import SceneSpec


@dataclass(frozen=True)
class SwaySprite:
    """A wind-moved layer: rows shift sideways by weight * sway; padded so shifts pull in pixels."""

    top: int
    left: int
    height: int
    width: int  # of the frame region it covers
    pad_px: int  # extra sprite columns on each side
    rgbx: np.ndarray  # packed uint32 (height, width + 2 * pad)
    ir: np.ndarray  # uint8 (height, width + 2 * pad)
    mask: np.ndarray  # bool (height, width + 2 * pad)
    row_weight: np.ndarray  # float32 (height,): 0 where it is rooted, 1 at the tips
    sway_px: float  # shift at weight 1 for strength*sin(phase) == 1
    under_rgbx: np.ndarray  # the landscape under the region, to redraw it swayed
    under_ir: np.ndarray


def _splat(
    rgb: np.ndarray, mask: np.ndarray, ys: np.ndarray, xs: np.ndarray, colours: np.ndarray
) -> None:
    """Set pixels (ys, xs) to colours where they fall inside the sprite."""
    keep = (ys >= 0) & (ys < mask.shape[0]) & (xs >= 0) & (xs < mask.shape[1])
    ys, xs = ys[keep], xs[keep]
    rgb[ys, xs] = colours[keep]
    mask[ys, xs] = True


def _grass_pixels(
    spec: SceneSpec, rng: np.random.Generator, band_h: int, sprite_w: int
) -> tuple[np.ndarray, np.ndarray]:
    """Tufts of dry grass blades rooted at the bottom edge: sprite colour and mask."""
    rgb = np.zeros((band_h, sprite_w, 3), np.float32)
    mask = np.zeros((band_h, sprite_w), bool)
    tufts = int(sprite_w / (22 * spec.width / 640)) + 1
    samples = np.linspace(0, 1, int(band_h * 1.5), dtype=np.float32)[None, :]
    for tuft_x in rng.uniform(0, sprite_w, tufts):
        blades = int(rng.integers(8, 22))
        heights = (band_h * rng.uniform(0.3, 1.0, blades) * rng.uniform(0.5, 1.0))[:, None]
        leans = rng.normal(0, 0.35, blades)[:, None]
        base_x = (tuft_x + rng.normal(0, 3, blades))[:, None]
        tints = rng.uniform(0.75, 1.1, blades)[:, None, None]
        ys = (band_h - 1 - heights * samples).astype(np.intp)
        xs = (base_x + leans * heights * samples**1.6).astype(np.intp)
        straw = np.array([205, 182, 122], np.float32) * (0.45 + 0.55 * samples[..., None])
        colours = np.broadcast_to(straw * tints, (*ys.shape, 3))
        _splat(rgb, mask, ys.ravel(), xs.ravel(), colours.reshape(-1, 3))
        thick = np.broadcast_to(samples < 0.55, ys.shape)
        _splat(rgb, mask, ys[thick], xs[thick] + 1, colours[thick] * 0.85)
    return rgb, mask


def _branch_pixels(
    rng: np.random.Generator, height: int, width: int, from_left: bool
) -> tuple[np.ndarray, np.ndarray]:
    """A juniper branch hanging from the top edge: a tapering stem and needle clumps."""
    rgb = np.zeros((height, width, 3), np.float32)
    mask = np.zeros((height, width), bool)
    scale = width / 200.0
    t = np.linspace(0, 1, int(height * 3), dtype=np.float32)
    start_x, tip_x = 0.1 * width, 0.75 * width
    stem_x = start_x + (tip_x - start_x) * t**1.3 + 0.08 * width * np.sin(t * 3.0)
    stem_y = (height * 0.92) * t
    radius = (3.5 - 2.5 * t) * scale
    bark = np.array([[72, 58, 46]], np.float32)
    for offset in np.arange(-4, 5) * 0.5 * scale:
        keep = np.abs(offset) <= radius
        ys, xs = stem_y[keep].astype(np.intp), (stem_x + offset)[keep].astype(np.intp)
        _splat(rgb, mask, ys, xs, np.repeat(bark, len(ys), axis=0))
    for clump_t in rng.uniform(0.25, 1.0, 14):
        index = int(clump_t * (len(t) - 1))
        cx = stem_x[index] + rng.normal(0, 10 * scale)
        cy = stem_y[index] + rng.normal(0, 6 * scale)
        dots = int(rng.integers(90, 180))
        ys = (cy + rng.normal(0, 7 * scale, dots)).astype(np.intp)
        xs = (cx + rng.normal(0, 10 * scale, dots)).astype(np.intp)
        colours = np.array([62, 80, 50], np.float32) * rng.uniform(0.6, 1.15, dots)[:, None]
        for dy, dx in ((0, 0), (0, 1), (1, 0)):
            _splat(rgb, mask, ys + dy, xs + dx, colours)
    if not from_left:
        rgb, mask = rgb[:, ::-1], mask[:, ::-1]
    return rgb, mask


def _make_sway_sprite(
    canvas: Canvas,
    region: tuple[int, int, int, int],
    pixels: tuple[np.ndarray, np.ndarray],
    ir_light: np.ndarray,
    motion: tuple[np.ndarray, float],
) -> SwaySprite:
    """Package a padded sprite with its IR look and the landscape it covers.

    `ir_light` is the IR level a white surface would reach over the (padded) sprite.
    """
    top, left, height, width = region
    rgb, mask = pixels
    row_weight, sway_px = motion
    pad = (mask.shape[1] - width) // 2
    ir = to_uint8(ir_light * (0.55 + 0.25 * luma(rgb) / 200.0))
    under = (slice(top, top + height), slice(left, left + width))
    return SwaySprite(
        top,
        left,
        height,
        width,
        pad,
        pack(to_uint8(rgb)),
        ir,
        mask.copy(),
        row_weight.astype(np.float32),
        sway_px,
        pack(to_uint8(canvas.rgb[under])),
        to_uint8(canvas.ir[under]),
    )


def build_sway_sprites(
    spec: SceneSpec, rng: np.random.Generator, canvas: Canvas, ir_lights: tuple[np.ndarray, ...]
) -> tuple[SwaySprite, ...]:
    """The grass band along the bottom and the branch at one top corner.

    `canvas.ir` must already hold final IR levels; `ir_lights` are the IR levels of a white
    surface on the ground and in the open beam (the branch is close to the lamp).
    """
    h, w = spec.height, spec.width
    ground_light, beam_light = ir_lights
    pad = int(0.05 * w)
    band_h = int(0.15 * h)
    grass_light = np.pad(ground_light[h - band_h :], ((0, 0), (pad, pad)), mode="edge")
    grass = _make_sway_sprite(
        canvas,
        (h - band_h, 0, band_h, w),
        _grass_pixels(spec, rng, band_h, w + 2 * pad),
        grass_light * 1.1,
        (((band_h - np.arange(band_h)) / band_h) ** 1.5, 0.03 * w),
    )
    branch_h, branch_w = int(0.42 * h), int(0.3 * w)
    from_left = bool(rng.random() < 0.5)
    left = 0 if from_left else w - branch_w
    branch_light = np.pad(
        beam_light[:branch_h, left : left + branch_w], ((0, 0), (pad, pad)), mode="edge"
    )
    branch = _make_sway_sprite(
        canvas,
        (0, left, branch_h, branch_w),
        _branch_pixels(rng, branch_h, branch_w + 2 * pad, from_left),
        branch_light * 1.4,
        ((np.arange(branch_h) / branch_h) ** 1.2, 0.04 * w),
    )
    return grass, branch


def paste_sway(canvas: np.ndarray, sprite: SwaySprite, sway: float, infrared: bool) -> None:
    """Draw a sway sprite into a frame canvas, rows shifted by their weight times `sway`."""
    region = canvas[
        sprite.top : sprite.top + sprite.height, sprite.left : sprite.left + sprite.width
    ]
    pixels = sprite.ir if infrared else sprite.rgbx
    shift_px = np.rint(sprite.row_weight * (sway * sprite.sway_px)).astype(np.intp)
    np.clip(shift_px, -sprite.pad_px, sprite.pad_px, out=shift_px)
    if not shift_px.any():
        cols = slice(sprite.pad_px, sprite.pad_px + sprite.width)
        np.copyto(region, pixels[:, cols], where=sprite.mask[:, cols])
        return
    np.copyto(region, sprite.under_ir if infrared else sprite.under_rgbx)
    padded_w = sprite.mask.shape[1]
    source = (np.arange(sprite.height) * padded_w)[:, None] + (
        sprite.pad_px + np.arange(sprite.width)[None, :] - shift_px[:, None]
    )
    np.copyto(region, pixels.ravel().take(source), where=sprite.mask.ravel().take(source))
