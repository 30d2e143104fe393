"""From composed scene levels to output frames: look, light changes, exposure, noise, lores."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.render.fields import smoothstep
from sim.render.pixels import RGBX
from sim.render.types import Light, LightChange, Rendered, SceneSpec

# --- looks: how the light turns the scene into pixel levels ---------------------------------------

DAY_LUX = 50.0
NIGHT_LUX = 5.0
IR_DOMINATES_LUX = 20.0  # with the illuminator on below this, the frame is the IR look
IR_MEAN_LEVEL = 100.0  # auto exposure of the IR look aims the frame mean here
_NOISE_SIGMAS = (2.0, 3.0, 4.0, 5.5, 7.5, 10.0, 13.0)  # noise banks, 8-bit levels
_UNIT_NOISE_Q = 256  # the unit noise bank holds N(0, 1) * this, as int16
_GAIN_ONE_Q = 128  # fixed-point exposure gain: level * q >> 7
_GAIN_MAX_Q = 256  # 255 * 256 still fits uint16


@dataclass(frozen=True)
class Look:
    """How the camera renders the scene under one light."""

    name: str
    infrared: bool
    exposure: float  # scene brightness multiplier the auto exposure could not recover
    saturation: float  # 1: full colour, 0: grey
    tint: tuple[float, float, float]  # white balance drift (blue dusk)
    noise_sigma: float  # 8-bit levels
    sun_shadows: bool


def look_for(light: Light) -> Look:
    """The camera's rendering under `light`: day colour, twilight, dark night or IR grey."""
    lux = max(0.0, float(light.lux))
    if light.ir_on and lux < IR_DOMINATES_LUX:
        return Look("infrared", True, 1.0, 0.0, (1.0, 1.0, 1.0), 5.5, False)
    if lux >= DAY_LUX:
        return Look("day", False, 1.0, 1.0, (1.0, 1.0, 1.0), 2.0, True)
    if lux >= NIGHT_LUX:
        t = math.log(lux / NIGHT_LUX) / math.log(DAY_LUX / NIGHT_LUX)
        tint = (0.9 + 0.1 * t, 0.97 + 0.03 * t, 1.1 - 0.1 * t)
        return Look("twilight", False, 0.4 + 0.6 * t, 0.35 + 0.65 * t, tint, 9.0 - 6.5 * t, False)
    t = lux / NIGHT_LUX
    exposure = 0.03 + 0.37 * t * t
    return Look("night", False, exposure, 0.35 * t, (0.9, 0.97, 1.1), 13.0 - 4.0 * t, False)


def _nearest_sigma_index(sigma: float) -> int:
    """Index of the precomputed noise bank closest to `sigma` (in log terms)."""
    logs = np.log(np.asarray(_NOISE_SIGMAS))
    return int(np.argmin(np.abs(logs - math.log(max(sigma, 0.5)))))


# --- lores ----------------------------------------------------------------------------------------


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


# --- exposure -------------------------------------------------------------------------------------


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
        gains *= 1 + (np.float32(max(0.0, change.band_gain)) - 1) * smoothstep(inside)
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


def _gain_and_noise(levels: np.ndarray, gain_q: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """uint16 levels * gain (Q7) + noise, clipped -> uint8 (in place on `levels`)."""
    levels *= gain_q
    levels >>= 7
    signed = levels.view(np.int16)
    signed += noise
    np.clip(signed, 0, 255, out=signed)
    return signed.astype(np.uint8)


def _expose_colour(packed: np.ndarray, gain_q: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Packed levels * gain (Q7, per column and channel) + noise -> uint8 RGBX (h, w, 4)."""
    h, w = packed.shape
    return _gain_and_noise(packed.view(np.uint8).reshape(h, w, 4).astype(np.uint16), gain_q, noise)


def _grey_rgbx(grey: np.ndarray) -> np.ndarray:
    """uint8 grey (h, w) -> RGBX (h, w, 4) with equal colour channels."""
    rgbx = np.empty((*grey.shape, 4), np.uint8)
    np.multiply(grey, np.uint32(0x010101), out=rgbx.view(RGBX)[..., 0], dtype=RGBX)
    return rgbx


def _expose_grey(grey: np.ndarray, gain_q: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Grey levels * gain (Q7, per column) + noise -> uint8."""
    return _gain_and_noise(grey.astype(np.uint16), gain_q, noise)


# --- the output stage -----------------------------------------------------------------------------


class Exposure:
    """The camera's output stage for one spec: gains, look, sensor noise banks, lores plan."""

    def __init__(self, spec: SceneSpec) -> None:
        """Plan the lores sampling; noise banks are built on first use."""
        self._spec = spec
        self._noise_banks: dict[int, np.ndarray] = {}
        self._unit_noise: np.ndarray | None = None
        self._downscale = _downscale_plan(spec)

    def develop(
        self,
        canvas: np.ndarray,
        look: Look,
        changes: Sequence[LightChange],
        rng: np.random.Generator,
    ) -> Rendered:
        """Expose a composed canvas (packed colour, or IR grey) under `look`; noise from `rng`."""
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

    def _noise(self, look: Look, rng: np.random.Generator, channels: int) -> np.ndarray:
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
