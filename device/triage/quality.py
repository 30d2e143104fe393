"""Quality gates for one low-resolution frame: black, overexposed, hazy, blurred.

All from one histogram (np.bincount) and one gradient pass, so a gate costs well under a
millisecond at 320x240. A frame that fails `too_dark` or `overexposed` carries no usable
picture; `hazy` and `blurred` frames are still compared, but cannot prove an event empty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DARK_P99 = 24  # 99th percentile below this: too little light to see anything
BRIGHT_LEVEL = 250
OVEREXPOSED_SHARE = 0.6  # more than this share of pixels at or above BRIGHT_LEVEL
HAZY_SPAN = 24  # 1st to 99th percentile spread below this: no contrast (fog, frost, whiteout)
BLURRED_GRADIENT = 1.2  # mean absolute gradient (levels per pixel) below this: blurred
HISTOGRAM_STEP = 2  # the histogram samples every 2nd pixel of every 2nd row


@dataclass(frozen=True)
class Quality:
    """One frame's exposure and sharpness figures and the gates it fails."""

    mean: float
    p1: int
    p99: int
    bright_share: float
    gradient: float  # mean absolute horizontal and vertical gradient, levels per pixel
    flags: tuple[str, ...]

    @property
    def usable(self) -> bool:
        """False when the frame shows nothing (too dark or overexposed)."""
        return "too_dark" not in self.flags and "overexposed" not in self.flags

    @property
    def conclusive(self) -> bool:
        """True when the frame is good enough that no change in it means no animal."""
        return not self.flags


def assess(frame: np.ndarray) -> Quality:
    """The quality of a uint8 greyscale frame (h, w). The histogram is taken over every other
    pixel of every other row (a quarter of the frame: the same percentiles, three times
    faster); the gradient over the whole frame."""
    counts = np.bincount(frame[::HISTOGRAM_STEP, ::HISTOGRAM_STEP].ravel(), minlength=256)
    total = int(counts.sum())
    cumulative = np.cumsum(counts)
    p1 = int(np.searchsorted(cumulative, 0.01 * total))
    p99 = int(np.searchsorted(cumulative, 0.99 * total))
    mean = float(counts @ np.arange(256)) / total
    bright_share = float(counts[BRIGHT_LEVEL:].sum()) / total
    gradient = sharpness(frame)
    flags = []
    if p99 < DARK_P99:
        flags.append("too_dark")
    elif bright_share > OVEREXPOSED_SHARE:
        flags.append("overexposed")
    else:
        if p99 - p1 < HAZY_SPAN:
            flags.append("hazy")
        if gradient < BLURRED_GRADIENT:
            flags.append("blurred")
    return Quality(mean, p1, p99, bright_share, gradient, tuple(flags))


def sharpness(image: np.ndarray) -> float:
    """Mean absolute difference of neighbouring pixels (both directions), in levels."""
    if image.shape[0] < 2 or image.shape[1] < 2:
        return 0.0
    return (_mean_abs_diff(image[:, 1:], image[:, :-1]) + _mean_abs_diff(image[1:], image[:-1])) / 2


def _mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |a - b| of two uint8 arrays, without a wider copy (max - min cannot wrap)."""
    return float((np.maximum(a, b) - np.minimum(a, b)).sum(dtype=np.uint32)) / a.size
