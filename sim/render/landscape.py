"""The view's background in colour and IR: sky, ridges, ground, boulders, vignette, IR light."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.render.fields import fractal_noise, value_noise
from sim.render.pixels import luma
from sim.render.types import SceneSpec

_LIGHT_DIR = np.array([-0.5, -0.62, 0.6], np.float32) / np.float32(
    np.linalg.norm([-0.5, -0.62, 0.6])
)  # sun from the upper left
_SNOW_RGB = np.array([232.0, 236.0, 244.0], np.float32)
_ROCK_RGBS = np.array(
    [[128, 119, 106], [112, 106, 100], [136, 126, 110], [104, 97, 89], [121, 116, 112]],
    np.float32,
)


@dataclass
class Canvas:
    """The landscape while it is painted: colour, IR reflectance, and the crest line."""

    rgb: np.ndarray  # float32 (h, w, 3), 0..255
    ir: np.ndarray  # float32 (h, w), IR reflectance 0..1
    crest_frac: np.ndarray  # float32 (w,), row fraction where the near slope starts


def _ridge_line(
    rng: np.random.Generator, width: int, base: float, amplitude: float, peaky: float
) -> np.ndarray:
    """A horizon profile as row fractions, one per column; `peaky` adds sharp summits."""
    rolling = fractal_noise(rng, 1, width, width / 3.0, 5)[0]
    summits = 1.0 - 2.0 * np.abs(fractal_noise(rng, 1, width, width / 4.0, 4)[0])
    return (base + amplitude * (rolling - peaky * summits)).astype(np.float32)


def paint_landscape(spec: SceneSpec, rng: np.random.Generator) -> Canvas:
    """Sky, a far snowy range, and the near rocky slope with snow patches and boulders."""
    h, w = spec.height, spec.width
    far_ridge = _ridge_line(rng, w, rng.uniform(0.17, 0.21), 0.1, 0.8)
    crest = np.maximum(far_ridge + 0.05, _ridge_line(rng, w, rng.uniform(0.31, 0.37), 0.07, 0.0))
    canvas = Canvas(np.zeros((h, w, 3), np.float32), np.zeros((h, w), np.float32), crest)
    rows = ((np.arange(h, dtype=np.float32) + 0.5) / h)[:, None]
    _paint_sky(canvas, rng, rows < far_ridge[None, :])
    _paint_far_range(canvas, rng, rows, far_ridge)
    _paint_ground(canvas, rng, rows)
    _paint_boulders(canvas, rng)
    _apply_lens_vignette(canvas.rgb)
    return canvas


def _paint_sky(canvas: Canvas, rng: np.random.Generator, sky: np.ndarray) -> None:
    """Blue-grey gradient with soft clouds; dark in IR (nothing to reflect the illuminator)."""
    h, w = sky.shape
    t = np.clip(np.arange(h, dtype=np.float32) / (0.3 * h), 0, 1)[:, None, None]
    top = np.array([112, 148, 196], np.float32)
    horizon = np.array([198, 210, 224], np.float32)
    colour = top * (1 - t) + horizon * t
    clouds = np.clip((fractal_noise(rng, h, w, w / 4.0, 4) - 0.05) * 2.2, 0, 1)[..., None]
    colour = colour * (1 - 0.75 * clouds) + np.float32(238.0) * 0.75 * clouds
    canvas.rgb[sky] = colour[sky]
    canvas.ir[sky] = 0.02


def _paint_far_range(
    canvas: Canvas, rng: np.random.Generator, rows: np.ndarray, far_ridge: np.ndarray
) -> None:
    """Distant mountains: hazy grey rock, snowy tops streaked by gullies."""
    h, w = canvas.ir.shape
    far = (rows >= far_ridge[None, :]) & (rows < canvas.crest_frac[None, :])
    below_px = (rows - far_ridge[None, :]) * h
    gullies = value_noise(rng, h, w, h / 8.0, w / 90.0)
    snow_line_px = h * (0.06 + 0.04 * fractal_noise(rng, 1, w, w / 8.0, 3))
    snowy = below_px < snow_line_px * (1 + 0.6 * gullies)
    relief = 1.0 + 0.12 * fractal_noise(rng, h, w, w / 25.0, 4)[..., None]
    lit = np.clip(0.5 - 40.0 * np.gradient(far_ridge), 0, 1)[None, :, None]  # faces to the sun
    relief = relief * (0.8 + 0.3 * lit)
    rock = np.array([100, 106, 118], np.float32) * relief
    colour = np.where(snowy[..., None], _SNOW_RGB * 0.92 * relief, rock)
    haze = np.array([196, 206, 220], np.float32)
    colour = colour * 0.62 + haze * 0.38
    canvas.rgb[far] = colour[far]
    canvas.ir[far] = 0.04


def _paint_ground(canvas: Canvas, rng: np.random.Generator, rows: np.ndarray) -> None:
    """The near slope: gravel and scree with soft-edged snow patches."""
    h, w = canvas.ir.shape
    near = rows >= canvas.crest_frac[None, :]
    depth = np.clip((rows - canvas.crest_frac[None, :]) / (1 - canvas.crest_frac[None, :]), 0, 1)
    scale = w / 640.0
    gravel = 0.6 * value_noise(rng, h, w, 2.5 * scale, 2.5 * scale)
    gravel += 0.4 * value_noise(rng, h, w, 7 * scale, 7 * scale)
    mid = fractal_noise(rng, h, w, 40 * scale, 3)
    ground = (
        np.array([118, 108, 94], np.float32)
        * ((0.8 + 0.2 * gravel) * (0.9 + 0.12 * mid))[..., None]
    )
    patches = fractal_noise(rng, h, w, w / 6.0, 4) + 0.08 * gravel
    threshold = rng.uniform(-0.05, 0.25) + 0.15 * depth  # more snow up the slope
    snow_alpha = np.clip((patches - threshold) * 10.0, 0, 1)
    drifts = fractal_noise(rng, h, w, 30 * scale, 3)
    snow = _SNOW_RGB * (0.88 + 0.07 * drifts + 0.03 * gravel)[..., None]
    colour = ground * (1 - snow_alpha[..., None]) + snow * snow_alpha[..., None]
    haze = np.clip(1 - depth * 4, 0, 1)[..., None] * 0.25
    colour = colour * (1 - haze) + np.float32(200.0) * haze
    canvas.rgb[near] = colour[near]
    ir = luma(ground) / 255.0 * (1 - snow_alpha) + 0.88 * snow_alpha
    canvas.ir[near] = ir[near]


def _paint_boulders(canvas: Canvas, rng: np.random.Generator) -> None:
    """Boulders, far ones first, bigger and lower in the frame when nearer."""
    h, w = canvas.ir.shape
    crest = float(np.mean(canvas.crest_frac))
    count = int(rng.integers(9, 15))
    centres_y = np.sort(crest + 0.03 + (1.08 - crest) * rng.random(count) ** 0.8)
    for centre_y in centres_y:
        depth = (centre_y - crest) / (1 - crest)
        radius_x = w * (0.03 + 0.15 * depth) * rng.uniform(0.7, 1.3)
        radius_y = radius_x * rng.uniform(0.45, 0.75)
        centre_x = rng.uniform(-0.08, 1.08) * w
        _paint_boulder(canvas, rng, centre_x, centre_y * h, radius_x, radius_y)


def _paint_boulder(
    canvas: Canvas,
    rng: np.random.Generator,
    centre_x: float,
    centre_y: float,
    radius_x: float,
    radius_y: float,
) -> None:
    """One boulder: contact shadow, a lumpy dome lit from the upper left, cracks, a snow cap."""
    h, w = canvas.ir.shape
    y0, y1 = max(0, int(centre_y - 1.15 * radius_y)), min(h, int(centre_y + 1.0 * radius_y) + 1)
    x0, x1 = max(0, int(centre_x - 1.3 * radius_x)), min(w, int(centre_x + 1.5 * radius_x) + 1)
    if y1 - y0 < 2 or x1 - x0 < 2:
        return
    bh, bw = y1 - y0, x1 - x0
    dy = ((np.arange(y0, y1, dtype=np.float32) - centre_y) / radius_y)[:, None]
    dx = ((np.arange(x0, x1, dtype=np.float32) - centre_x) / radius_x)[None, :]
    rgb = canvas.rgb[y0:y1, x0:x1]
    ir = canvas.ir[y0:y1, x0:x1]
    shadow = ((dx - 0.3) / 1.15) ** 2 + ((dy - 0.55) / 0.35) ** 2 < 1
    rgb[shadow] *= 0.55
    ir[shadow] *= 0.8
    lumps = value_noise(rng, bh, bw, radius_x / 2.5, radius_x / 2.5)
    distance = np.sqrt(dx * dx + dy * dy) * (1 + 0.16 * lumps)
    inside = (distance < 1) & (dy < 0.5 + 0.1 * lumps)
    z = np.sqrt(np.clip(1 - distance * distance, 0, 1)) + 0.12
    bumps = fractal_noise(rng, bh, bw, max(3.0, radius_x / 6), 3)
    grad_y, grad_x = np.gradient(bumps * 3.0)
    normal = np.stack([dx + grad_x, dy + grad_y, z], axis=-1)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    lambert = np.clip(normal @ _LIGHT_DIR, 0, 1)
    facing = np.clip(normal[..., 2], 0, 1)
    texture = fractal_noise(rng, bh, bw, max(4.0, radius_x / 4), 4)
    albedo = _ROCK_RGBS[rng.integers(len(_ROCK_RGBS))] * (0.82 + 0.3 * texture)[..., None]
    cracks = np.abs(value_noise(rng, bh, bw, radius_x / 2, radius_x / 3)) < 0.02
    albedo[cracks] *= 0.7
    colour = albedo * (0.3 + 0.85 * lambert)[..., None]
    ir_value = luma(albedo) / 255.0 * (0.35 + 0.65 * facing)
    if rng.random() < 0.65:
        cap = normal[..., 1] < rng.uniform(-0.55, -0.3) + 0.25 * lumps + 0.1 * texture
        colour[cap] = (_SNOW_RGB * (0.7 + 0.32 * lambert[..., None]))[cap]
        ir_value[cap] = (0.85 * (0.4 + 0.6 * facing))[cap]
    rgb[inside] = colour[inside]
    ir[inside] = ir_value[inside]


def _apply_lens_vignette(rgb: np.ndarray) -> None:
    """Daylight lens falloff: corners about 15% darker."""
    h, w = rgb.shape[:2]
    ys = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    xs = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    rgb *= (1 - 0.15 * (xs * xs + ys * ys) / 2)[..., None]


def ir_illumination(spec: SceneSpec, crest_frac: np.ndarray) -> np.ndarray:
    """IR illuminator reach: the near ground brightest, the far slope dim, a vignetted beam."""
    h, w = spec.height, spec.width
    rows = ((np.arange(h, dtype=np.float32) + 0.5) / h)[:, None]
    depth = np.clip((rows - crest_frac[None, :]) / (1 - crest_frac[None, :]), 0, 1)
    reach = np.where(rows >= crest_frac[None, :], 0.3 + 0.7 * depth**0.9, 0.1)
    xs = ((np.arange(w, dtype=np.float32) + 0.5) / w)[None, :]
    return (reach * ir_beam(xs, rows)).astype(np.float32)


def ir_beam(x_frac: np.ndarray | float, y_frac: np.ndarray | float) -> np.ndarray:
    """Relative IR beam strength (the LED hot spot is centred a little below the middle)."""
    r2 = ((np.asarray(x_frac) - 0.5) / 0.62) ** 2 + ((np.asarray(y_frac) - 0.6) / 0.62) ** 2
    return np.clip(1 - 0.6 * r2, 0.15, 1.0).astype(np.float32)
