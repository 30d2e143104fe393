"""The renderer's public types: what a scene, its light and its actors are, and a frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
