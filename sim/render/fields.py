"""Smooth random fields and box blur, used to precompute the view and the coats."""

from __future__ import annotations

import math

import numpy as np


def smoothstep(t: np.ndarray) -> np.ndarray:
    """Cubic ease so interpolated noise has no visible grid."""
    return t * t * (3.0 - 2.0 * t)


def value_noise(
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
    fy = smoothstep(ys - y0)[:, None]
    fx = smoothstep(xs - x0)[None, :]
    rows = grid[y0] * (1.0 - fy) + grid[y0 + 1] * fy
    return rows[:, x0] * (1.0 - fx) + rows[:, x0 + 1] * fx


def fractal_noise(
    rng: np.random.Generator, height: int, width: int, cell_px: float, octaves: int
) -> np.ndarray:
    """Sum of value-noise octaves (each half the cell and half the weight), about [-1, 1]."""
    total = np.zeros((height, width), np.float32)
    weight_sum = 0.0
    for octave in range(octaves):
        cell = max(1.5, cell_px / 2**octave)
        weight = 0.5**octave
        total += weight * value_noise(rng, height, width, cell, cell)
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


def box_blur(image: np.ndarray, radius_px: int) -> np.ndarray:
    """Separable box blur of a 2-D array (float32 out)."""
    if radius_px < 1:
        return image.astype(np.float32)
    return _blur_axis(_blur_axis(image, radius_px, 0), radius_px, 1)
