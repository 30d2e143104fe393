"""Falling snow: a per-scene flake bank and drawing it at a phase."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.render.pixels import RGBX, average, pack_colour
from sim.render.types import SceneSpec, Snowfall

_FLAKES_PER_FRAME = 2500  # at density 1 in a 640x480 frame
_NEAR_FLAKE_SHARE = 0.02
_FAR, _MID, _NEAR = 0, 1, 2  # flake sizes: one faint pixel, 2x2, soft disc


@dataclass(frozen=True)
class SnowBank:
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


def make_snow_bank(spec: SceneSpec, rng: np.random.Generator) -> SnowBank:
    """Precompute the flakes of this scene (order is random so any prefix is a fair sample)."""
    count = int(_FLAKES_PER_FRAME * spec.width * spec.height / (640 * 480)) + 1
    size = np.where(rng.random(count) < 0.28, _MID, _FAR)
    size[rng.random(count) < _NEAR_FLAKE_SHARE] = _NEAR
    fall = np.where(size == _FAR, rng.uniform(0.06, 0.16, count), rng.uniform(0.15, 0.3, count))
    fall = np.where(size == _NEAR, rng.uniform(0.35, 0.7, count), fall)
    scale = spec.width / 640.0
    kernels = tuple(_flake_kernel(max(2.0, r * scale)) for r in (2.5, 3.5, 4.5, 6.0, 8.0))
    return SnowBank(
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


def draw_snow(canvas: np.ndarray, bank: SnowBank, snow: Snowfall, infrared: bool) -> None:
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
        else (pack_colour((levels[0],) * 3), pack_colour((levels[1],) * 3))
    )
    r, c = rows[size == _FAR], cols[size == _FAR]
    if infrared:
        canvas[r, c] = (canvas[r, c].astype(np.uint16) + far_level) >> 1
    else:
        canvas[r, c] = average(canvas[r, c], far_level)
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
    if canvas.dtype == RGBX:
        patch = patch.view(np.uint8).reshape(y1 - y0, x1 - x0, 4)
        alpha = alpha[..., None]
    values = patch.astype(np.int32)
    values += ((level - values) * alpha) >> 8
    patch[...] = values
