"""The simulated camera's pictures: a ridge-top camera-trap view, what moves in it, light, noise.

A `Scene` precomputes everything that depends only on its seed (the landscape in colour and in
infrared, the swaying grass and branch, noise banks, a snowflake bank, coat patterns and animal
poses), so a frame costs a few whole-frame integer operations plus small sprite copies: the
simulator renders thousands of frames per run. Every random choice of a frame comes from the
`rng` passed to `render`, so the same scene, light, actors and rng state give identical bytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

# --- public types -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SceneSpec:
    """Frame sizes, the view's seed and the JPEG quality of one simulated camera."""

    width: int = 640  # main stream, pixels
    height: int = 480
    lores_width: int = 320  # lores stream: downscaled greyscale of the same view
    lores_height: int = 240
    seed: int = 0  # the view (rocks, snow patches, ridge line) depends only on this
    jpeg_quality: int = 80

    def __post_init__(self) -> None:
        if self.width < 64 or self.height < 48:
            raise ValueError(f"main stream {self.width}x{self.height}: expected at least 64x48")
        if not (8 <= self.lores_width <= self.width and 6 <= self.lores_height <= self.height):
            raise ValueError(
                f"lores stream {self.lores_width}x{self.lores_height}: expected at least 8x6 "
                f"and at most the main stream {self.width}x{self.height}"
            )
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality {self.jpeg_quality}: expected 1..100")


@dataclass(frozen=True)
class Light:
    """Scene illuminance and the IR illuminator state at the instant of the frame."""

    lux: float  # > ~50 day colour; 5..50 twilight; < ~5 night
    ir_on: bool = False  # at night: the IR greyscale look; without it nearly black and noisy


@dataclass(frozen=True)
class Animal:
    """A snow leopard: body, head, long tail, walking legs, and a rosette coat."""

    x_frac: float  # body centre, fraction of frame width (outside 0..1: partly or wholly out)
    y_frac: float  # body centre, fraction of frame height
    length_frac: float  # body length (without head and tail) as a fraction of the width
    heading: int = 1  # +1 walking right, -1 left
    gait_phase: float = 0.0  # radians; one stride per 2*pi
    coat_seed: int = 0  # the rosette pattern: same seed, same animal


@dataclass(frozen=True)
class Wind:
    """Grass along the bottom and a branch at a top corner, swayed by strength*sin(phase)."""

    strength: float  # 1.0: a strong gust (grass tips move ~3% of the width)
    phase: float  # radians


@dataclass(frozen=True)
class LightChange:
    """A whole-scene brightness change, optionally with a soft cloud-shadow band.

    The whole frame is multiplied by `gain` (cloud: < 1, sun on rock: > 1). When `offset_frac`
    is not 0, a soft-edged vertical shadow band `band_width_frac` wide, centred at
    `offset_frac` of the width, is darkened further by `band_gain` (a cloud edge sweeping).
    Light changes multiply together; a combined gain above 2 is clamped to 2.
    """

    gain: float
    offset_frac: float = 0.0
    band_width_frac: float = 0.3
    band_gain: float = 0.6


@dataclass(frozen=True)
class Snowfall:
    """Falling snow: small far flakes, bigger blurred near ones; positions follow `phase`."""

    density: float  # 0..1 (1: a heavy fall, ~2500 flakes in a 640x480 frame)
    phase: float  # one unit moves a near flake about half a frame height


Actor = Animal | Wind | LightChange | Snowfall


@dataclass(frozen=True)
class Rendered:
    """One frame: main-stream colour image and the lores greyscale of the same view.

    `rgb` is the first three channels of an RGBX buffer (a strided view: `encode_jpeg` hands
    the buffer to the encoder without a copy; `np.ascontiguousarray` gives a compact copy).
    """

    rgb: np.ndarray  # uint8 (height, width, 3)
    lores: np.ndarray  # uint8 (lores_height, lores_width)
    look: str = "day"  # 'day', 'twilight', 'night' or 'infrared'


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    """Encode an (h, w, 3) uint8 image as baseline JPEG (deterministic: same pixels, same bytes)."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected a uint8 (h, w, 3) array, got {rgb.dtype} {rgb.shape}")
    rgbx = _rgbx_buffer(rgb)
    if rgbx is None:
        image = Image.fromarray(rgb)
    else:  # Pillow keeps RGB as RGBX: same pixels, same bytes, no conversion
        image = Image.frombuffer("RGBX", (rgb.shape[1], rgb.shape[0]), rgbx, "raw", "RGBX", 0, 1)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(quality), subsampling="4:2:0")
    return buffer.getvalue()


def _rgbx_buffer(rgb: np.ndarray) -> np.ndarray | None:
    """The compact (h, w, 4) buffer `rgb` is the first three channels of, if it is one."""
    base = rgb.base
    if not isinstance(base, np.ndarray) or base.dtype != np.uint8 or not base.flags.c_contiguous:
        return None
    h, w = rgb.shape[:2]
    same_start = base.__array_interface__["data"][0] == rgb.__array_interface__["data"][0]
    if base.shape == (h, w, 4) and rgb.strides == base.strides and same_start:
        return base
    return None


# --- looks: how the light turns the scene into pixel levels ------------------------------------

DAY_LUX = 50.0
NIGHT_LUX = 5.0
IR_DOMINATES_LUX = 20.0  # with the illuminator on below this, the frame is the IR look
_IR_MEAN_LEVEL = 100.0  # auto exposure of the IR look aims the frame mean here
_NOISE_SIGMAS = (2.0, 3.0, 4.0, 5.5, 7.5, 10.0, 13.0)  # noise banks, 8-bit levels
_UNIT_NOISE_Q = 256  # the unit noise bank holds N(0, 1) * this, as int16
_GAIN_ONE_Q = 128  # fixed-point exposure gain: level * q >> 7
_GAIN_MAX_Q = 256  # 255 * 256 still fits uint16


@dataclass(frozen=True)
class _Look:
    """How the camera renders the scene under one light."""

    name: str
    infrared: bool
    exposure: float  # scene brightness multiplier the auto exposure could not recover
    saturation: float  # 1: full colour, 0: grey
    tint: tuple[float, float, float]  # white balance drift (blue dusk)
    noise_sigma: float  # 8-bit levels
    sun_shadows: bool


def _look_for(light: Light) -> _Look:
    """The camera's rendering under `light`: day colour, twilight, dark night or IR grey."""
    lux = max(0.0, float(light.lux))
    if light.ir_on and lux < IR_DOMINATES_LUX:
        return _Look("infrared", True, 1.0, 0.0, (1.0, 1.0, 1.0), 5.5, False)
    if lux >= DAY_LUX:
        return _Look("day", False, 1.0, 1.0, (1.0, 1.0, 1.0), 2.0, True)
    if lux >= NIGHT_LUX:
        t = math.log(lux / NIGHT_LUX) / math.log(DAY_LUX / NIGHT_LUX)
        tint = (0.9 + 0.1 * t, 0.97 + 0.03 * t, 1.1 - 0.1 * t)
        return _Look("twilight", False, 0.4 + 0.6 * t, 0.35 + 0.65 * t, tint, 9.0 - 6.5 * t, False)
    t = lux / NIGHT_LUX
    exposure = 0.03 + 0.37 * t * t
    return _Look("night", False, exposure, 0.35 * t, (0.9, 0.97, 1.1), 13.0 - 4.0 * t, False)


def _nearest_sigma_index(sigma: float) -> int:
    """Index of the precomputed noise bank closest to `sigma` (in log terms)."""
    logs = np.log(np.asarray(_NOISE_SIGMAS))
    return int(np.argmin(np.abs(logs - math.log(max(sigma, 0.5)))))


# --- smooth noise and blur (precompute only) ---------------------------------------------------


def _smoothstep(t: np.ndarray) -> np.ndarray:
    """Cubic ease so interpolated noise has no visible grid."""
    return t * t * (3.0 - 2.0 * t)


def _value_noise(
    rng: np.random.Generator, height: int, width: int, cell_y_px: float, cell_x_px: float
) -> np.ndarray:
    """Smooth random field in [-1, 1]: random grid values, smoothly interpolated."""
    grid_h = math.ceil(height / cell_y_px) + 2
    grid_w = math.ceil(width / cell_x_px) + 2
    grid = rng.uniform(-1.0, 1.0, size=(grid_h, grid_w)).astype(np.float32)
    ys = np.arange(height, dtype=np.float32) / np.float32(cell_y_px) + rng.random()
    xs = np.arange(width, dtype=np.float32) / np.float32(cell_x_px) + rng.random()
    y0 = ys.astype(np.intp)
    x0 = xs.astype(np.intp)
    fy = _smoothstep(ys - y0)[:, None]
    fx = _smoothstep(xs - x0)[None, :]
    rows = grid[y0] * (1.0 - fy) + grid[y0 + 1] * fy
    return rows[:, x0] * (1.0 - fx) + rows[:, x0 + 1] * fx


def _fractal_noise(
    rng: np.random.Generator, height: int, width: int, cell_px: float, octaves: int
) -> np.ndarray:
    """Sum of value-noise octaves (each half the cell and half the weight), about [-1, 1]."""
    total = np.zeros((height, width), np.float32)
    weight_sum = 0.0
    for octave in range(octaves):
        cell = max(1.5, cell_px / 2**octave)
        weight = 0.5**octave
        total += weight * _value_noise(rng, height, width, cell, cell)
        weight_sum += weight
    return total / np.float32(weight_sum)


def _blur_axis(image: np.ndarray, radius_px: int, axis: int) -> np.ndarray:
    """Box blur along one axis with edge padding (cumulative-sum trick)."""
    pad = [(radius_px + 1, radius_px) if a == axis else (0, 0) for a in range(image.ndim)]
    padded = np.pad(image.astype(np.float32), pad, mode="edge")
    sums = np.cumsum(padded, axis=axis, dtype=np.float32)
    length = image.shape[axis]
    window = 2 * radius_px + 1
    upper = np.take(sums, np.arange(window, window + length), axis=axis)
    lower = np.take(sums, np.arange(0, length), axis=axis)
    return (upper - lower) / np.float32(window)


def _box_blur(image: np.ndarray, radius_px: int) -> np.ndarray:
    """Separable box blur of a 2-D array (float32 out)."""
    if radius_px < 1:
        return image.astype(np.float32)
    return _blur_axis(_blur_axis(image, radius_px, 0), radius_px, 1)


def _luma(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of a float (..., 3) array."""
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """Round and clip a float image to uint8."""
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


# --- packed pixels: colour frames are composed as one uint32 per pixel ------------------------
# Masked copies and gathers of 3-byte pixels are slow in numpy (short strided inner loops); one
# little-endian uint32 per pixel (R | G << 8 | B << 16, X byte unused) keeps every composition
# step a plain 2-D operation. Per-byte scaling uses shifts and masks (no carries between bytes).

_RGBX = np.dtype("<u4")
_LOW7 = np.uint32(0x7F7F7F7F)
_LOW6 = np.uint32(0x3F3F3F3F)
_LOW5 = np.uint32(0x1F1F1F1F)


def _pack(rgb: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) -> packed RGBX uint32 (...)."""
    four = np.zeros((*rgb.shape[:-1], 4), np.uint8)
    four[..., :3] = rgb
    return four.view(_RGBX)[..., 0]


def _pack_colour(rgb: tuple[int, int, int]) -> np.uint32:
    """One packed pixel."""
    return np.uint32(rgb[0] | rgb[1] << 8 | rgb[2] << 16)


def _unpack(packed: np.ndarray) -> np.ndarray:
    """Packed RGBX (h, w) -> uint8 (h, w, 3)."""
    return np.ascontiguousarray(packed.view(np.uint8).reshape(*packed.shape, 4)[..., :3])


def _scale_3_4(packed: np.ndarray) -> np.ndarray:
    """Every byte times 3/4 (a far leg in the body's shade)."""
    return ((packed >> 1) & _LOW7) + ((packed >> 2) & _LOW6)


def _scale_5_8(packed: np.ndarray) -> np.ndarray:
    """Every byte times 5/8 (a cast shadow)."""
    return ((packed >> 1) & _LOW7) + ((packed >> 3) & _LOW5)


def _average(packed: np.ndarray, other: np.ndarray | np.uint32) -> np.ndarray:
    """Per-byte mean of two packed pixel arrays (a faint far snowflake)."""
    return ((packed >> 1) & _LOW7) + ((other >> 1) & _LOW7)


# --- the landscape ----------------------------------------------------------------------------

_LIGHT_DIR = np.array([-0.5, -0.62, 0.6], np.float32) / np.float32(
    np.linalg.norm([-0.5, -0.62, 0.6])
)  # sun from the upper left
_SNOW_RGB = np.array([232.0, 236.0, 244.0], np.float32)
_ROCK_RGBS = np.array(
    [[128, 119, 106], [112, 106, 100], [136, 126, 110], [104, 97, 89], [121, 116, 112]],
    np.float32,
)


@dataclass
class _Canvas:
    """The landscape while it is painted: colour, IR reflectance, and the crest line."""

    rgb: np.ndarray  # float32 (h, w, 3), 0..255
    ir: np.ndarray  # float32 (h, w), IR reflectance 0..1
    crest_frac: np.ndarray  # float32 (w,), row fraction where the near slope starts


def _ridge_line(
    rng: np.random.Generator, width: int, base: float, amplitude: float, peaky: float
) -> np.ndarray:
    """A horizon profile as row fractions, one per column; `peaky` adds sharp summits."""
    rolling = _fractal_noise(rng, 1, width, width / 3.0, 5)[0]
    summits = 1.0 - 2.0 * np.abs(_fractal_noise(rng, 1, width, width / 4.0, 4)[0])
    return (base + amplitude * (rolling - peaky * summits)).astype(np.float32)


def _paint_landscape(spec: SceneSpec, rng: np.random.Generator) -> _Canvas:
    """Sky, a far snowy range, and the near rocky slope with snow patches and boulders."""
    h, w = spec.height, spec.width
    far_ridge = _ridge_line(rng, w, rng.uniform(0.17, 0.21), 0.1, 0.8)
    crest = np.maximum(far_ridge + 0.05, _ridge_line(rng, w, rng.uniform(0.31, 0.37), 0.07, 0.0))
    canvas = _Canvas(np.zeros((h, w, 3), np.float32), np.zeros((h, w), np.float32), crest)
    rows = ((np.arange(h, dtype=np.float32) + 0.5) / h)[:, None]
    _paint_sky(canvas, rng, rows < far_ridge[None, :])
    _paint_far_range(canvas, rng, rows, far_ridge)
    _paint_ground(canvas, rng, rows)
    _paint_boulders(canvas, rng)
    _apply_lens_vignette(canvas.rgb)
    return canvas


def _paint_sky(canvas: _Canvas, rng: np.random.Generator, sky: np.ndarray) -> None:
    """Blue-grey gradient with soft clouds; dark in IR (nothing to reflect the illuminator)."""
    h, w = sky.shape
    t = np.clip(np.arange(h, dtype=np.float32) / (0.3 * h), 0, 1)[:, None, None]
    top = np.array([112, 148, 196], np.float32)
    horizon = np.array([198, 210, 224], np.float32)
    colour = top * (1 - t) + horizon * t
    clouds = np.clip((_fractal_noise(rng, h, w, w / 4.0, 4) - 0.05) * 2.2, 0, 1)[..., None]
    colour = colour * (1 - 0.75 * clouds) + np.float32(238.0) * 0.75 * clouds
    canvas.rgb[sky] = colour[sky]
    canvas.ir[sky] = 0.02


def _paint_far_range(
    canvas: _Canvas, rng: np.random.Generator, rows: np.ndarray, far_ridge: np.ndarray
) -> None:
    """Distant mountains: hazy grey rock, snowy tops streaked by gullies."""
    h, w = canvas.ir.shape
    far = (rows >= far_ridge[None, :]) & (rows < canvas.crest_frac[None, :])
    below_px = (rows - far_ridge[None, :]) * h
    gullies = _value_noise(rng, h, w, h / 8.0, w / 90.0)
    snow_line_px = h * (0.06 + 0.04 * _fractal_noise(rng, 1, w, w / 8.0, 3))
    snowy = below_px < snow_line_px * (1 + 0.6 * gullies)
    relief = 1.0 + 0.12 * _fractal_noise(rng, h, w, w / 25.0, 4)[..., None]
    lit = np.clip(0.5 - 40.0 * np.gradient(far_ridge), 0, 1)[None, :, None]  # faces to the sun
    relief = relief * (0.8 + 0.3 * lit)
    rock = np.array([100, 106, 118], np.float32) * relief
    colour = np.where(snowy[..., None], _SNOW_RGB * 0.92 * relief, rock)
    haze = np.array([196, 206, 220], np.float32)
    colour = colour * 0.62 + haze * 0.38
    canvas.rgb[far] = colour[far]
    canvas.ir[far] = 0.04


def _paint_ground(canvas: _Canvas, rng: np.random.Generator, rows: np.ndarray) -> None:
    """The near slope: gravel and scree with soft-edged snow patches."""
    h, w = canvas.ir.shape
    near = rows >= canvas.crest_frac[None, :]
    depth = np.clip((rows - canvas.crest_frac[None, :]) / (1 - canvas.crest_frac[None, :]), 0, 1)
    scale = w / 640.0
    gravel = 0.6 * _value_noise(rng, h, w, 2.5 * scale, 2.5 * scale)
    gravel += 0.4 * _value_noise(rng, h, w, 7 * scale, 7 * scale)
    mid = _fractal_noise(rng, h, w, 40 * scale, 3)
    ground = (
        np.array([118, 108, 94], np.float32)
        * ((0.8 + 0.2 * gravel) * (0.9 + 0.12 * mid))[..., None]
    )
    patches = _fractal_noise(rng, h, w, w / 6.0, 4) + 0.08 * gravel
    threshold = rng.uniform(-0.05, 0.25) + 0.15 * depth  # more snow up the slope
    snow_alpha = np.clip((patches - threshold) * 10.0, 0, 1)
    drifts = _fractal_noise(rng, h, w, 30 * scale, 3)
    snow = _SNOW_RGB * (0.88 + 0.07 * drifts + 0.03 * gravel)[..., None]
    colour = ground * (1 - snow_alpha[..., None]) + snow * snow_alpha[..., None]
    haze = np.clip(1 - depth * 4, 0, 1)[..., None] * 0.25
    colour = colour * (1 - haze) + np.float32(200.0) * haze
    canvas.rgb[near] = colour[near]
    ir = _luma(ground) / 255.0 * (1 - snow_alpha) + 0.88 * snow_alpha
    canvas.ir[near] = ir[near]


def _paint_boulders(canvas: _Canvas, rng: np.random.Generator) -> None:
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
    canvas: _Canvas,
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
    lumps = _value_noise(rng, bh, bw, radius_x / 2.5, radius_x / 2.5)
    distance = np.sqrt(dx * dx + dy * dy) * (1 + 0.16 * lumps)
    inside = (distance < 1) & (dy < 0.5 + 0.1 * lumps)
    z = np.sqrt(np.clip(1 - distance * distance, 0, 1)) + 0.12
    bumps = _fractal_noise(rng, bh, bw, max(3.0, radius_x / 6), 3)
    grad_y, grad_x = np.gradient(bumps * 3.0)
    normal = np.stack([dx + grad_x, dy + grad_y, z], axis=-1)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    lambert = np.clip(normal @ _LIGHT_DIR, 0, 1)
    facing = np.clip(normal[..., 2], 0, 1)
    texture = _fractal_noise(rng, bh, bw, max(4.0, radius_x / 4), 4)
    albedo = _ROCK_RGBS[rng.integers(len(_ROCK_RGBS))] * (0.82 + 0.3 * texture)[..., None]
    cracks = np.abs(_value_noise(rng, bh, bw, radius_x / 2, radius_x / 3)) < 0.02
    albedo[cracks] *= 0.7
    colour = albedo * (0.3 + 0.85 * lambert)[..., None]
    ir_value = _luma(albedo) / 255.0 * (0.35 + 0.65 * facing)
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


def _ir_illumination(spec: SceneSpec, crest_frac: np.ndarray) -> np.ndarray:
    """IR illuminator reach: the near ground brightest, the far slope dim, a vignetted beam."""
    h, w = spec.height, spec.width
    rows = ((np.arange(h, dtype=np.float32) + 0.5) / h)[:, None]
    depth = np.clip((rows - crest_frac[None, :]) / (1 - crest_frac[None, :]), 0, 1)
    reach = np.where(rows >= crest_frac[None, :], 0.3 + 0.7 * depth**0.9, 0.1)
    xs = ((np.arange(w, dtype=np.float32) + 0.5) / w)[None, :]
    return (reach * _ir_beam(xs, rows)).astype(np.float32)


def _ir_beam(x_frac: np.ndarray | float, y_frac: np.ndarray | float) -> np.ndarray:
    """Relative IR beam strength (the LED hot spot is centred a little below the middle)."""
    r2 = ((np.asarray(x_frac) - 0.5) / 0.62) ** 2 + ((np.asarray(y_frac) - 0.6) / 0.62) ** 2
    return np.clip(1 - 0.6 * r2, 0.15, 1.0).astype(np.float32)


# --- swaying grass and branch ------------------------------------------------------------------


@dataclass(frozen=True)
class _SwaySprite:
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
    canvas: _Canvas,
    region: tuple[int, int, int, int],
    pixels: tuple[np.ndarray, np.ndarray],
    ir_light: np.ndarray,
    motion: tuple[np.ndarray, float],
) -> _SwaySprite:
    """Package a padded sprite with its IR look and the landscape it covers.

    `ir_light` is the IR level a white surface would reach over the (padded) sprite.
    """
    top, left, height, width = region
    rgb, mask = pixels
    row_weight, sway_px = motion
    pad = (mask.shape[1] - width) // 2
    ir = _to_uint8(ir_light * (0.55 + 0.25 * _luma(rgb) / 200.0))
    under = (slice(top, top + height), slice(left, left + width))
    return _SwaySprite(
        top,
        left,
        height,
        width,
        pad,
        _pack(_to_uint8(rgb)),
        ir,
        mask.copy(),
        row_weight.astype(np.float32),
        sway_px,
        _pack(_to_uint8(canvas.rgb[under])),
        _to_uint8(canvas.ir[under]),
    )


def _build_sway_sprites(
    spec: SceneSpec, rng: np.random.Generator, canvas: _Canvas, ir_lights: tuple[np.ndarray, ...]
) -> tuple[_SwaySprite, ...]:
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


def _paste_sway(canvas: np.ndarray, sprite: _SwaySprite, sway: float, infrared: bool) -> None:
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


# --- animals ----------------------------------------------------------------------------------

_SPRITE_BODY_PX = 200  # body length of the canonical animal sprite
_BOX_X = (-1.45, 0.86)  # sprite box around the body centre, in body lengths (x forward)
_BOX_Y = (-0.34, 0.62)  # (y down)
_GAIT_POSES = 8  # leg poses per stride
_COAT_MARGIN = 0.25  # coat pattern sheets extend this far (body lengths) around the box
_COAT_CACHE_SIZE = 48
_BODY, _FAR_LEG, _EYE, _SHADOW = 1, 2, 3, 4  # pose labels
_EYE_RGB = (170, 176, 96)
_COAT_MARK_RGB = np.array([58, 54, 51], np.float32)
_ROSETTE_CENTRE_TINT = np.array([0.88, 0.84, 0.77], np.float32)  # tawny inside the rings
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], np.float32)


class _Grid:
    """Pixel centres of the canonical animal box, in body lengths from the body centre."""

    def __init__(self) -> None:
        px = _SPRITE_BODY_PX
        self.x0, self.y0 = _BOX_X[0], _BOX_Y[0]
        self.width = round((_BOX_X[1] - _BOX_X[0]) * px)
        self.height = round((_BOX_Y[1] - _BOX_Y[0]) * px)
        self.x = self.x0 + (np.arange(self.width, dtype=np.float32) + 0.5) / px
        self.y = self.y0 + (np.arange(self.height, dtype=np.float32) + 0.5) / px

    def window(self, x_lo: float, x_hi: float, y_lo: float, y_hi: float) -> tuple[slice, slice]:
        """Row and column slices covering a rectangle given in body lengths."""
        px = _SPRITE_BODY_PX
        c0 = max(0, int((x_lo - self.x0) * px) - 1)
        c1 = min(self.width, int((x_hi - self.x0) * px) + 2)
        r0 = max(0, int((y_lo - self.y0) * px) - 1)
        r1 = min(self.height, int((y_hi - self.y0) * px) + 2)
        return slice(r0, max(r0, r1)), slice(c0, max(c0, c1))


def _paint_ellipse(
    mask: np.ndarray, grid: _Grid, centre: tuple[float, float], axes: tuple[float, float]
) -> None:
    """Set the pixels inside an axis-aligned ellipse (body lengths)."""
    (cx, cy), (ax, ay) = centre, axes
    rows, cols = grid.window(cx - ax, cx + ax, cy - ay, cy + ay)
    dx = ((grid.x[cols] - cx) / ax)[None, :]
    dy = ((grid.y[rows] - cy) / ay)[:, None]
    mask[rows, cols] |= dx * dx + dy * dy <= 1


def _paint_capsule(
    mask: np.ndarray,
    grid: _Grid,
    start: tuple[float, float],
    end: tuple[float, float],
    radii: tuple[float, float],
) -> None:
    """Set the pixels within a tapering radius of a segment (body lengths)."""
    (x0, y0), (x1, y1) = start, end
    r = max(radii)
    rows, cols = grid.window(min(x0, x1) - r, max(x0, x1) + r, min(y0, y1) - r, max(y0, y1) + r)
    px = grid.x[cols][None, :] - x0
    py = grid.y[rows][:, None] - y0
    dx, dy = x1 - x0, y1 - y0
    t = np.clip((px * dx + py * dy) / max(dx * dx + dy * dy, 1e-9), 0, 1)
    ex, ey = px - t * dx, py - t * dy
    radius = radii[0] + (radii[1] - radii[0]) * t
    mask[rows, cols] |= ex * ex + ey * ey <= radius * radius


def _tail_points(gait_phase: float) -> np.ndarray:
    """Points along the long tail: droops from the rump, tip curled up, swinging with the gait."""
    t = np.linspace(0, 1, 17)[:, None]
    controls = np.array([[-0.46, -0.03], [-0.82, 0.06], [-1.02, 0.42], [-1.3, 0.1]])
    controls[3, 1] += 0.05 * math.sin(gait_phase)
    weights = np.hstack([(1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3])
    return weights @ controls


def _paint_tail(mask: np.ndarray, grid: _Grid, gait_phase: float, tip_only: bool = False) -> None:
    """The thick tail (snow leopards' are nearly body length), or just its dark tip."""
    points = _tail_points(gait_phase)
    first = len(points) - 3 if tip_only else 0
    for i in range(first, len(points) - 1):
        radius_a, radius_b = 0.062 + 0.012 * i / 16, 0.062 + 0.012 * (i + 1) / 16
        _paint_capsule(mask, grid, tuple(points[i]), tuple(points[i + 1]), (radius_a, radius_b))


def _paint_torso(mask: np.ndarray, grid: _Grid) -> None:
    """Body, chest, haunch and neck."""
    _paint_ellipse(mask, grid, (0.0, 0.0), (0.5, 0.17))
    _paint_ellipse(mask, grid, (0.27, 0.03), (0.24, 0.19))
    _paint_ellipse(mask, grid, (-0.3, 0.0), (0.22, 0.19))
    _paint_capsule(mask, grid, (0.36, -0.02), (0.56, -0.1), (0.12, 0.1))


def _paint_head(mask: np.ndarray, grid: _Grid) -> None:
    """Round head, short muzzle, small rounded ears."""
    _paint_ellipse(mask, grid, (0.63, -0.12), (0.13, 0.115))
    _paint_ellipse(mask, grid, (0.735, -0.075), (0.065, 0.06))
    _paint_ellipse(mask, grid, (0.565, -0.215), (0.04, 0.04))
    _paint_ellipse(mask, grid, (0.625, -0.232), (0.037, 0.037))


_LEGS = (  # hip/shoulder x, phase offset (walk: near hind, near fore, far hind, far fore), far
    (-0.3, 0.0, False),
    (0.3, 0.5 * math.pi, False),
    (-0.27, math.pi, True),
    (0.33, 1.5 * math.pi, True),
)


def _paint_leg(mask: np.ndarray, grid: _Grid, root_x: float, phase: float, far: bool) -> None:
    """A thick two-segment leg swinging with the stride; the foot folds back as it swings."""
    root_y = 0.04 if far else 0.06
    swing = 0.34 * math.sin(phase)
    fold = 0.7 * max(0.0, math.cos(phase))
    knee = (root_x + 0.2 * math.sin(swing), root_y + 0.2 * math.cos(swing))
    lower = swing - fold
    paw = (knee[0] + 0.19 * math.sin(lower), knee[1] + 0.19 * math.cos(lower))
    thigh = 0.1 if root_x < 0 else 0.085
    _paint_capsule(mask, grid, (root_x, root_y), knee, (thigh, 0.068))
    _paint_capsule(mask, grid, knee, paw, (0.062, 0.058))
    _paint_ellipse(mask, grid, (paw[0] + 0.025, paw[1]), (0.075, 0.045))


@dataclass(frozen=True)
class _Pose:
    """One gait pose as uint8 labels, and the sprite rows each label occupies."""

    labels: np.ndarray
    row_spans: dict[int, tuple[int, int]]  # label -> (first row, past-last row)


def _pose(grid: _Grid, gait_phase: float) -> _Pose:
    """Rasterize one gait pose and note where the far legs and the shadow lie."""
    labels = _pose_labels(grid, gait_phase)
    spans = {}
    for label in (_FAR_LEG, _EYE, _SHADOW):
        rows = np.nonzero((labels == label).any(axis=1))[0]
        spans[label] = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, 0)
    return _Pose(labels, spans)


def _window_rows(placement: _Placement, span: tuple[int, int]) -> slice:
    """The rows of a placement window fed by sprite rows span[0]..span[1]-1."""
    first = int(np.searchsorted(placement.rows, span[0]))
    return slice(first, int(np.searchsorted(placement.rows, span[1])))


def _pose_labels(grid: _Grid, gait_phase: float) -> np.ndarray:
    """Rasterize one gait pose: body, far legs, eye and ground shadow as uint8 labels."""
    near = np.zeros((grid.height, grid.width), bool)
    far = np.zeros_like(near)
    for root_x, offset, is_far in _LEGS:
        _paint_leg(far if is_far else near, grid, root_x, gait_phase + offset, is_far)
    _paint_tail(near, grid, gait_phase)
    _paint_torso(near, grid)
    _paint_head(near, grid)
    eyes = np.zeros_like(near)
    _paint_ellipse(eyes, grid, (0.69, -0.145), (0.018, 0.014))
    shadow = np.zeros_like(near)
    _paint_ellipse(shadow, grid, (-0.05, 0.52), (0.62, 0.05))
    labels = np.zeros(near.shape, np.uint8)
    labels[shadow] = _SHADOW
    labels[far] = _FAR_LEG
    labels[near] = _BODY
    labels[eyes & near] = _EYE
    return labels


@dataclass(frozen=True)
class _CoatKit:
    """Per-scene material for coats: regions, base colours, shading, and pattern sheets."""

    grid: _Grid
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


def _coat_kit(rng: np.random.Generator) -> _CoatKit:
    """Regions, colours, shading and pattern sheets shared by every coat of a scene."""
    grid = _Grid()
    torso, head, tail, tip = (np.zeros((grid.height, grid.width), bool) for _ in range(4))
    _paint_torso(torso, grid)
    _paint_head(head, grid)
    _paint_tail(tail, grid, 0.0)
    _paint_tail(tip, grid, 0.0, tip_only=True)
    kind = np.zeros(torso.shape, np.uint8)
    for value, region in ((1, torso), (3, tail), (2, head), (4, tip)):
        kind[_dilate(region, 6)] = value
    silhouette = torso | head | tail
    rim = _box_blur(silhouette.astype(np.float32), int(0.05 * _SPRITE_BODY_PX))
    shading = np.where(silhouette, 0.68 + 0.32 * np.clip((rim - 0.4) / 0.5, 0, 1), 0.86)
    shading *= 1.05 - 0.1 * np.clip((grid.y[:, None] + 0.15) / 0.35, 0, 1)
    margin = int(_COAT_MARGIN * _SPRITE_BODY_PX)
    sheet_h, sheet_w = grid.height + 2 * margin, grid.width + 2 * margin
    spacing = (0.065, 0.1, 0.04, 0.11)  # legs, body, head, tail (body lengths)
    sheets = tuple(
        _spot_sheet(rng, sheet_h, sheet_w, spacing[k] * _SPRITE_BODY_PX, rosettes=k in (1, 3))
        for k in range(4)
    )
    mottle = _fractal_noise(rng, sheet_h, sheet_w, 0.15 * _SPRITE_BODY_PX, 3)
    lit_base = np.moveaxis(_coat_base(grid, kind) * shading[..., None], -1, 0)
    lit_marks = _COAT_MARK_RGB[:, None, None] * shading[None]
    regions = tuple(kind == k for k in range(4))
    return _CoatKit(
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
    return _box_blur(mask.astype(np.float32), radius_px) > 0.02


def _coat_base(grid: _Grid, kind: np.ndarray) -> np.ndarray:
    """Ground colour: smoky grey-beige back, whitish belly, pale legs."""
    back = np.array([172, 168, 157], np.float32)
    belly = np.array([226, 224, 217], np.float32)
    t = np.clip((grid.y[:, None] + 0.12) / 0.28, 0, 1)[..., None]
    colour = back + (belly - back) * _smoothstep(t)
    legs = np.array([208, 204, 194], np.float32)
    colour = np.where((kind == 0)[..., None] & (grid.y[:, None, None] > 0.12), legs, colour)
    return np.broadcast_to(colour, (grid.height, grid.width, 3)).astype(np.float32)


@dataclass(frozen=True)
class _Coat:
    """One animal's shaded coat on the canonical grid: packed colour and its luma."""

    rgbx: np.ndarray  # packed uint32 (h, w)
    grey: np.ndarray  # uint8 (h, w)


def _make_coat(kit: _CoatKit, coat_seed: int) -> _Coat:
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
    packed = np.zeros((h, w), _RGBX)
    grey = np.zeros((h, w), np.float32)
    for channel in range(3):  # planar: every step a contiguous 2-D operation
        plane = kit.lit_base[channel] * mottle
        plane *= tint[channel]
        np.multiply(plane, _ROSETTE_CENTRE_TINT[channel], out=plane, where=centre)
        np.copyto(plane, kit.lit_marks[channel], where=dark)
        grey += plane * _LUMA_WEIGHTS[channel]
        packed |= _to_uint8(plane).astype(_RGBX) << (8 * channel)
    return _Coat(packed, _to_uint8(grey))


@dataclass(frozen=True)
class _Placement:
    """Where a scaled sprite lands: the frame window and the sprite rows/cols feeding it."""

    top: int
    bottom: int
    left: int
    right: int
    rows: np.ndarray
    cols: np.ndarray


def _place_animal(animal: Animal, grid: _Grid, frame_w: int, frame_h: int) -> _Placement | None:
    """Nearest-neighbour mapping of the canonical sprite onto the frame (None: out of view)."""
    length_px = animal.length_frac * frame_w
    if length_px <= 0.5:
        return None
    heading = -1.0 if animal.heading < 0 else 1.0
    cx, cy = animal.x_frac * frame_w, animal.y_frac * frame_h
    xa, xb = cx + heading * _BOX_X[0] * length_px, cx + heading * _BOX_X[1] * length_px
    left, right = max(0, math.floor(min(xa, xb))), min(frame_w, math.ceil(max(xa, xb)))
    top = max(0, math.floor(cy + _BOX_Y[0] * length_px))
    bottom = min(frame_h, math.ceil(cy + _BOX_Y[1] * length_px))
    if left >= right or top >= bottom:
        return None
    scale = _SPRITE_BODY_PX / length_px
    u = heading * (np.arange(left, right) + 0.5 - cx) * scale - grid.x0 * _SPRITE_BODY_PX
    v = (np.arange(top, bottom) + 0.5 - cy) * scale - grid.y0 * _SPRITE_BODY_PX
    cols = np.clip(np.floor(u), 0, grid.width - 1).astype(np.intp)
    rows = np.clip(np.floor(v), 0, grid.height - 1).astype(np.intp)
    return _Placement(top, bottom, left, right, rows, cols)


def _gather(sprite: np.ndarray, placement: _Placement) -> np.ndarray:
    """The sprite resampled onto the placement window."""
    return sprite.take(placement.rows, axis=0).take(placement.cols, axis=1)


# --- snow ------------------------------------------------------------------------------------

_FLAKES_PER_FRAME = 2500  # at density 1 in a 640x480 frame
_NEAR_FLAKE_SHARE = 0.02
_FAR, _MID, _NEAR = 0, 1, 2  # flake sizes: one faint pixel, 2x2, soft disc


@dataclass(frozen=True)
class _SnowBank:
    """Flakes with start positions, fall speeds and sizes; a density takes the first n."""

    x0: np.ndarray  # float64 fractions
    y0: np.ndarray
    fall: np.ndarray  # frame heights per phase unit
    drift: np.ndarray  # width fraction of side-to-side wander
    drift_rate: np.ndarray
    drift_phase: np.ndarray
    size: np.ndarray  # _FAR, _MID or _NEAR
    kernel: np.ndarray  # index into kernels for near flakes
    kernels: tuple[np.ndarray, ...]  # int32 alpha (Q8) discs


def _snow_bank(spec: SceneSpec, rng: np.random.Generator) -> _SnowBank:
    """Precompute the flakes of this scene (order is random so any prefix is a fair sample)."""
    count = int(_FLAKES_PER_FRAME * spec.width * spec.height / (640 * 480)) + 1
    size = np.where(rng.random(count) < 0.28, _MID, _FAR)
    size[rng.random(count) < _NEAR_FLAKE_SHARE] = _NEAR
    fall = np.where(size == _FAR, rng.uniform(0.06, 0.16, count), rng.uniform(0.15, 0.3, count))
    fall = np.where(size == _NEAR, rng.uniform(0.35, 0.7, count), fall)
    scale = spec.width / 640.0
    kernels = tuple(_flake_kernel(max(2.0, r * scale)) for r in (2.5, 3.5, 4.5, 6.0, 8.0))
    return _SnowBank(
        rng.random(count),
        rng.random(count),
        fall,
        rng.uniform(0.003, 0.02, count),
        rng.uniform(0.5, 2.0, count),
        rng.uniform(0, 2 * np.pi, count),
        size,
        rng.integers(0, len(kernels), count),
        kernels,
    )


def _flake_kernel(radius_px: float) -> np.ndarray:
    """Soft disc alpha (Q8) for a near, out-of-focus flake."""
    half = math.ceil(radius_px)
    d = np.hypot(*np.meshgrid(np.arange(-half, half + 1), np.arange(-half, half + 1)))
    alpha = np.clip(1.15 - d / radius_px, 0, 1) ** 0.8 * 0.92
    return np.rint(alpha * 256).astype(np.int32)


def _draw_snow(canvas: np.ndarray, bank: _SnowBank, snow: Snowfall, infrared: bool) -> None:
    """Flakes at positions given by the phase: far ones faint pixels, near ones soft discs."""
    count = int(np.clip(snow.density, 0, 1) * len(bank.x0))
    if count == 0:
        return
    h, w = canvas.shape
    phase = float(snow.phase)
    y = np.mod(bank.y0[:count] + bank.fall[:count] * phase, 1.0)
    wander = bank.drift[:count] * np.sin(bank.drift_rate[:count] * phase + bank.drift_phase[:count])
    x = np.mod(bank.x0[:count] + wander, 1.0)
    rows = np.minimum((y * h).astype(np.intp), h - 1)
    cols = np.minimum((x * w).astype(np.intp), w - 1)
    size = bank.size[:count]
    levels = (175, 225, 255) if infrared else (238, 244, 248)
    far_level, mid_level = (
        (np.uint8(levels[0]), np.uint8(levels[1]))
        if infrared
        else (_pack_colour((levels[0],) * 3), _pack_colour((levels[1],) * 3))
    )
    r, c = rows[size == _FAR], cols[size == _FAR]
    if infrared:
        canvas[r, c] = (canvas[r, c].astype(np.uint16) + far_level) >> 1
    else:
        canvas[r, c] = _average(canvas[r, c], far_level)
    r, c = rows[size == _MID], cols[size == _MID]
    for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):
        canvas[np.minimum(r + dy, h - 1), np.minimum(c + dx, w - 1)] = mid_level
    near = size == _NEAR
    for row, col, k in zip(rows[near], cols[near], bank.kernel[:count][near], strict=True):
        _blend_kernel(canvas, int(row), int(col), bank.kernels[k], levels[2])


def _blend_kernel(canvas: np.ndarray, row: int, col: int, kernel: np.ndarray, level: int) -> None:
    """Alpha-blend a bright soft disc centred at (row, col), clipped to the frame."""
    half = kernel.shape[0] // 2
    h, w = canvas.shape
    y0, y1 = max(0, row - half), min(h, row + half + 1)
    x0, x1 = max(0, col - half), min(w, col + half + 1)
    if y0 >= y1 or x0 >= x1:
        return
    alpha = kernel[y0 - row + half : y1 - row + half, x0 - col + half : x1 - col + half]
    patch = canvas[y0:y1, x0:x1]
    if canvas.dtype == _RGBX:
        patch = patch.view(np.uint8).reshape(y1 - y0, x1 - x0, 4)
        alpha = alpha[..., None]
    values = patch.astype(np.int32)
    values += ((level - values) * alpha) >> 8
    patch[...] = values


# --- lores ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Downscale:
    """How the lores stream samples the main one: two diagonal phases per block, averaged."""

    rows_a: np.ndarray | slice
    cols_a: np.ndarray | slice
    rows_b: np.ndarray | slice
    cols_b: np.ndarray | slice


def _downscale_plan(spec: SceneSpec) -> _Downscale:
    """Strided slices when the sizes divide evenly, index arrays otherwise."""
    fy, fx = spec.height / spec.lores_height, spec.width / spec.lores_width
    if fy.is_integer() and fx.is_integer():
        sy, sx = int(fy), int(fx)
        oy, ox = (sy - 1) // 2, (sx - 1) // 2
        return _Downscale(
            slice(oy, None, sy),
            slice(ox, None, sx),
            slice(sy - 1 - oy, None, sy),
            slice(sx - 1 - ox, None, sx),
        )

    def samples(count: int, factor: float, at: float, limit: int) -> np.ndarray:
        return np.minimum((np.arange(count) * factor + at * factor).astype(np.intp), limit - 1)

    lh, lw = spec.lores_height, spec.lores_width
    return _Downscale(
        samples(lh, fy, 0.25, spec.height)[:, None],
        samples(lw, fx, 0.25, spec.width)[None, :],
        samples(lh, fy, 0.75, spec.height)[:, None],
        samples(lw, fx, 0.75, spec.width)[None, :],
    )


def _luma_u16(rgb: np.ndarray) -> np.ndarray:
    """Luma * 256 of a uint8 RGB array (Rec. 601 weights 77/150/29)."""
    y = rgb[..., 0].astype(np.uint16) * np.uint16(77)
    y += rgb[..., 1].astype(np.uint16) * np.uint16(150)
    y += rgb[..., 2].astype(np.uint16) * np.uint16(29)
    return y


def _lores_from_rgb(rgb: np.ndarray, plan: _Downscale) -> np.ndarray:
    """Greyscale lores of a colour frame."""
    luma = _luma_u16(rgb[plan.rows_a, plan.cols_a]) >> 1
    luma += _luma_u16(rgb[plan.rows_b, plan.cols_b]) >> 1
    return (luma >> 8).astype(np.uint8)


def _lores_from_grey(grey: np.ndarray, plan: _Downscale) -> np.ndarray:
    """Lores of a greyscale (IR) frame."""
    total = grey[plan.rows_a, plan.cols_a].astype(np.uint16)
    total += grey[plan.rows_b, plan.cols_b]
    return (total >> 1).astype(np.uint8)


# --- exposure and noise -----------------------------------------------------------------------


def _column_gains(changes: Sequence[LightChange], width: int) -> np.ndarray:
    """Brightness multiplier per column (float32, width) from the light changes."""
    gains = np.ones(width, np.float32)
    x = (np.arange(width, dtype=np.float32) + 0.5) / width
    for change in changes:
        gains *= np.float32(max(0.0, float(change.gain)))
        if change.offset_frac == 0.0:
            continue
        half = max(1e-3, change.band_width_frac / 2)
        soft = 0.4 * half
        inside = np.clip((half + soft - np.abs(x - change.offset_frac)) / (2 * soft), 0, 1)
        gains *= 1 + (np.float32(max(0.0, change.band_gain)) - 1) * _smoothstep(inside)
    return gains


def _gain_q(gain: np.ndarray) -> np.ndarray:
    """Fixed-point (Q7) uint16 gains, clamped so 255 * gain fits uint16."""
    q = np.rint(gain * _GAIN_ONE_Q)
    return np.clip(q, 0, _GAIN_MAX_Q).astype(np.uint16)


def _desaturate(packed: np.ndarray, saturation: float) -> np.ndarray:
    """Blend packed pixels towards their luma (red and blue as two 16-bit lanes, no carries)."""
    keep = np.uint32(round(float(np.clip(saturation, 0, 1)) * _GAIN_ONE_Q))
    red_blue = packed & np.uint32(0x00FF00FF)
    green = packed >> 8
    green &= np.uint32(0xFF)
    luma = red_blue & np.uint32(0xFF)
    luma *= np.uint32(77)
    scratch = red_blue >> 16
    scratch *= np.uint32(29)
    luma += scratch
    np.multiply(green, np.uint32(150), out=scratch)
    luma += scratch
    luma >>= 8
    luma *= np.uint32(_GAIN_ONE_Q) - keep
    red_blue *= keep
    red_blue += luma
    np.left_shift(luma, 16, out=scratch)
    red_blue += scratch
    green *= keep
    green += luma
    red_blue >>= 7
    red_blue &= np.uint32(0x00FF00FF)
    green >>= 7
    green <<= 8
    red_blue |= green
    return red_blue


def _expose_colour(packed: np.ndarray, gain_q: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Packed levels * gain (Q7, per column and channel) + noise -> uint8 RGBX (h, w, 4)."""
    h, w = packed.shape
    levels = packed.view(np.uint8).reshape(h, w, 4).astype(np.uint16)
    levels *= gain_q
    levels >>= 7
    signed = levels.view(np.int16)
    signed += noise
    np.clip(signed, 0, 255, out=signed)
    return signed.astype(np.uint8)


def _grey_rgbx(grey: np.ndarray) -> np.ndarray:
    """uint8 grey (h, w) -> RGBX (h, w, 4) with equal colour channels."""
    rgbx = np.empty((*grey.shape, 4), np.uint8)
    np.multiply(grey, np.uint32(0x010101), out=rgbx.view(_RGBX)[..., 0], dtype=_RGBX)
    return rgbx


def _expose_grey(grey: np.ndarray, gain_q: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Grey levels * gain (Q7, per column) + noise -> uint8."""
    levels = grey.astype(np.uint16)
    levels *= gain_q
    levels >>= 7
    signed = levels.view(np.int16)
    signed += noise
    np.clip(signed, 0, 255, out=signed)
    return signed.astype(np.uint8)


# --- the scene --------------------------------------------------------------------------------


class Scene:
    """One camera view: precomputed once from its spec, then rendered frame by frame."""

    def __init__(self, spec: SceneSpec) -> None:
        """Paint the view and precompute banks, sprites and sampling plans."""
        self._spec = spec
        streams = np.random.SeedSequence([int(spec.seed) & 0xFFFFFFFF, 0x1B15]).spawn(4)
        canvas = _paint_landscape(spec, np.random.default_rng(streams[0]))
        ground_light = _ir_illumination(spec, canvas.crest_frac)
        ir_scale = _IR_MEAN_LEVEL / float(np.mean(canvas.ir * ground_light))
        canvas.ir = canvas.ir * ground_light * np.float32(ir_scale)
        rows = ((np.arange(spec.height) + 0.5) / spec.height)[:, None]
        beam_light = _ir_beam(((np.arange(spec.width) + 0.5) / spec.width)[None, :], rows)
        self._ir_scale = ir_scale
        self._sway = _build_sway_sprites(
            spec,
            np.random.default_rng(streams[1]),
            canvas,
            (ground_light * np.float32(ir_scale), beam_light * np.float32(ir_scale)),
        )
        self._base_rgbx = _pack(_to_uint8(canvas.rgb))
        self._base_ir = _to_uint8(canvas.ir)
        for sprite in self._sway:
            _paste_sway(self._base_rgbx, sprite, 0.0, infrared=False)
            _paste_sway(self._base_ir, sprite, 0.0, infrared=True)
        self._base_rgbx.setflags(write=False)
        self._base_ir.setflags(write=False)
        self._snow = _snow_bank(spec, np.random.default_rng(streams[2]))
        self._coat_stream = streams[3]
        self._coat_kit: _CoatKit | None = None
        self._coats: dict[int, _Coat] = {}
        self._poses: dict[int, _Pose] = {}
        self._noise_banks: dict[int, np.ndarray] = {}
        self._unit_noise: np.ndarray | None = None
        self._downscale = _downscale_plan(spec)

    @property
    def spec(self) -> SceneSpec:
        """The spec this scene was built from."""
        return self._spec

    @property
    def background_rgb(self) -> np.ndarray:
        """The empty view in daylight, without noise: uint8 (height, width, 3)."""
        return _unpack(self._base_rgbx)

    def render(self, light: Light, actors: Sequence[Actor], rng: np.random.Generator) -> Rendered:
        """One frame of the view under `light` with `actors`; sensor noise drawn from `rng`."""
        look = _look_for(light)
        animals = sorted((a for a in actors if isinstance(a, Animal)), key=lambda a: a.length_frac)
        sway = sum(
            float(a.strength) * math.sin(float(a.phase)) for a in actors if isinstance(a, Wind)
        )
        canvas = (self._base_ir if look.infrared else self._base_rgbx).copy()
        self._draw_layers(canvas, animals, sway, look)
        for snow in actors:
            if isinstance(snow, Snowfall):
                _draw_snow(canvas, self._snow, snow, look.infrared)
        changes = [a for a in actors if isinstance(a, LightChange)]
        gains = _column_gains(changes, self._spec.width)
        if look.infrared:
            grey = _expose_grey(canvas, _gain_q(gains), self._noise(look, rng, 1))
            rgb = _grey_rgbx(grey)[..., :3]
            return Rendered(rgb, _lores_from_grey(grey, self._downscale), look.name)
        if look.saturation < 0.99:
            canvas = _desaturate(canvas, look.saturation)
        tint = np.array([*look.tint, 0.0], np.float32) * np.float32(look.exposure)
        rgbx = _expose_colour(canvas, _gain_q(gains[:, None] * tint), self._noise(look, rng, 4))
        rgb = rgbx[..., :3]
        return Rendered(rgb, _lores_from_rgb(rgb, self._downscale), look.name)

    # -- composition ---------------------------------------------------------------------------

    def _draw_layers(
        self, canvas: np.ndarray, animals: list[Animal], sway: float, look: _Look
    ) -> None:
        """Animals behind the swaying foreground layers (redrawn where they moved or were hit)."""
        h, w = self._spec.height, self._spec.width
        placed = []
        for animal in animals:
            placement = _place_animal(animal, self._kit().grid, w, h)
            if placement is not None:
                placed.append((animal, placement))
        if sway != 0.0:
            for sprite in self._sway:
                rows = slice(sprite.top, sprite.top + sprite.height)
                cols = slice(sprite.left, sprite.left + sprite.width)
                np.copyto(
                    canvas[rows, cols], sprite.under_ir if look.infrared else sprite.under_rgbx
                )
        for animal, placement in placed:
            self._draw_animal(canvas, animal, placement, look)
        for sprite in self._sway:
            if sway != 0.0 or any(_overlaps(p, sprite) for _, p in placed):
                _paste_sway(canvas, sprite, sway, look.infrared)

    def _draw_animal(
        self, canvas: np.ndarray, animal: Animal, placement: _Placement, look: _Look
    ) -> None:
        """Paste one animal (pose by gait, coat by seed), with a ground shadow in sunlight."""
        pose = self._pose(animal.gait_phase)
        labels = _gather(pose.labels, placement)
        coat = self._coat(animal.coat_seed)
        region = canvas[placement.top : placement.bottom, placement.left : placement.right]
        far = _window_rows(placement, pose.row_spans[_FAR_LEG])
        eyes = _window_rows(placement, pose.row_spans[_EYE])
        if look.infrared:
            pixels = self._animal_ir_lut(animal).take(_gather(coat.grey, placement))
            dark = (pixels[far] >> 1) + (pixels[far] >> 2)
            np.copyto(pixels[eyes], np.uint8(255), where=labels[eyes] == _EYE)  # eyeshine
        else:
            if look.sun_shadows:
                shadow = _window_rows(placement, pose.row_spans[_SHADOW])
                under = region[shadow]
                np.copyto(under, _scale_5_8(under), where=labels[shadow] == _SHADOW)
            pixels = _gather(coat.rgbx, placement)
            dark = _scale_3_4(pixels[far])
            np.copyto(pixels[eyes], _pack_colour(_EYE_RGB), where=labels[eyes] == _EYE)
        np.copyto(pixels[far], dark, where=labels[far] == _FAR_LEG)
        np.copyto(region, pixels, where=(labels - np.uint8(1)) < _SHADOW - 1)

    def _animal_ir_lut(self, animal: Animal) -> np.ndarray:
        """Coat luma -> IR level: nearer animals catch more of the illuminator."""
        nearness = float(np.clip(0.35 + 0.65 * animal.length_frac / 0.22, 0.35, 2.5))
        beam = float(_ir_beam(animal.x_frac, animal.y_frac))
        gain = 0.45 * nearness * beam * self._ir_scale / 255.0
        return np.clip(np.rint(np.arange(256, dtype=np.float32) * gain), 0, 255).astype(np.uint8)

    # -- lazily built material -----------------------------------------------------------------

    def _kit(self) -> _CoatKit:
        """The scene's coat material, built on first use."""
        if self._coat_kit is None:
            self._coat_kit = _coat_kit(np.random.default_rng(self._coat_stream))
        return self._coat_kit

    def _coat(self, coat_seed: int) -> _Coat:
        """The coat of one animal (cached; the oldest dropped beyond a bound)."""
        coat = self._coats.get(coat_seed)
        if coat is None:
            if len(self._coats) >= _COAT_CACHE_SIZE:
                self._coats.pop(next(iter(self._coats)))
            coat = self._coats[coat_seed] = _make_coat(self._kit(), coat_seed)
        return coat

    def _pose(self, gait_phase: float) -> _Pose:
        """The gait pose nearest `gait_phase` (cached)."""
        index = round(float(gait_phase) / (2 * math.pi) * _GAIT_POSES) % _GAIT_POSES
        pose = self._poses.get(index)
        if pose is None:
            phase = index * 2 * math.pi / _GAIT_POSES
            pose = self._poses[index] = _pose(self._kit().grid, phase)
        return pose

    def _noise(self, look: _Look, rng: np.random.Generator, channels: int) -> np.ndarray:
        """A frame of sensor noise: a random window of this sigma's precomputed bank."""
        index = _nearest_sigma_index(look.noise_sigma)
        h, w = self._spec.height, self._spec.width
        bank = self._noise_banks.get(index)
        if bank is None:
            bank = self._noise_banks[index] = self._scaled_noise(_NOISE_SIGMAS[index])
        start = int(rng.integers(0, len(bank) - h * w * channels))
        window = bank[start : start + h * w * channels]
        return window.reshape((h, w, channels) if channels > 1 else (h, w))

    def _scaled_noise(self, sigma: float) -> np.ndarray:
        """An int8 Gaussian noise bank of `sigma` levels, scaled from the scene's unit bank."""
        if self._unit_noise is None:
            size = self._spec.height * self._spec.width * 4
            seed = [int(self._spec.seed) & 0xFFFFFFFF, 0x901]
            normal = np.random.default_rng(seed).standard_normal(size + size // 2, np.float32)
            normal *= np.float32(_UNIT_NOISE_Q)
            self._unit_noise = np.clip(np.rint(normal), -32767, 32767).astype(np.int16)
        scaled = self._unit_noise * np.float32(sigma / _UNIT_NOISE_Q)
        return np.clip(np.rint(scaled), -127, 127).astype(np.int8)


def _overlaps(placement: _Placement, sprite: _SwaySprite) -> bool:
    """Whether an animal's window touches a sway sprite's region."""
    return (
        placement.top < sprite.top + sprite.height
        and sprite.top < placement.bottom
        and placement.left < sprite.left + sprite.width
        and sprite.left < placement.right
    )
