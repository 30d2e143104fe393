"""Two peers of triage, run on the same frames in the same order, each with its own memory per
camera: the naive frame-difference trigger and OpenCV's MOG2 background subtractor.

Each gives a burst a score (higher: more change) or None when it has nothing to compare the
burst's first frame with and the burst has one frame (then a trap using it would have to keep
the burst). The masked regions (the cameras' burned-in data bar) are left out of both, as they
are out of triage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np

Mask = tuple[float, float, float, float]  # (left, top, right, bottom) fractions of the frame
Camera = tuple[str, str]

MOG2_HISTORY_FRAMES = 100  # a camera here has at most a few dozen time-lapse frames
MOG2_VAR_THRESHOLD = 16.0  # OpenCV's default
MOG2_OPENING_PX = 3  # square kernel of the opening that drops speckle from the foreground


def valid_pixels(shape: tuple[int, int], masks: Sequence[Mask]) -> np.ndarray:
    """True where a pixel of a frame of `shape` lies outside every mask."""
    height, width = shape
    valid = np.ones(shape, dtype=bool)
    for left, top, right, bottom in masks:
        rows = slice(math.floor(top * height), math.ceil(bottom * height))
        cols = slice(math.floor(left * width), math.ceil(right * width))
        valid[rows, cols] = False
    return valid


def mean_squared_difference(a: np.ndarray, b: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Mean squared difference of two uint8 frames, in squared 8-bit levels.

    picamera2's motion example computes `np.square(np.subtract(cur, prev)).mean()` on the uint8
    arrays themselves, where the subtraction wraps around (3 - 5 = 254) and so does the square:
    a slight darkening reads as a large change and a large change can read as none. Here the
    frames are widened to int32 first (255² fits easily), and the mean is taken in float64."""
    diff = a.astype(np.int32) - b.astype(np.int32)
    squared = diff * diff
    return float(squared[valid].mean() if valid is not None else squared.mean())


class _Masked:
    def __init__(self, masks: Sequence[Mask]) -> None:
        self.masks = tuple(masks)
        self._valid: dict[tuple[int, int], np.ndarray | None] = {}

    def valid(self, shape: tuple[int, int]) -> np.ndarray | None:
        """The unmasked pixels (None: all), cached per frame size."""
        if shape not in self._valid:
            mask = valid_pixels(shape, self.masks)
            self._valid[shape] = None if mask.all() else mask
        return self._valid[shape]


class NaiveDifference(_Masked):
    """Score: the largest mean squared difference between consecutive frames of the burst; its
    first frame is compared with the last frame the camera produced before (a time-lapse shot
    or an earlier event's frame), when there is one of the same size."""

    def __init__(self, masks: Sequence[Mask] = ()) -> None:
        super().__init__(masks)
        self._last: dict[Camera, np.ndarray] = {}

    def timelapse(self, camera: Camera, frames: Sequence[np.ndarray | None]) -> None:
        for frame in frames:
            if frame is not None:
                self._last[camera] = frame

    def burst(self, camera: Camera, frames: Sequence[np.ndarray | None]) -> float | None:
        previous = self._last.get(camera)
        score: float | None = None
        for frame in frames:
            if frame is None:
                continue
            if previous is not None and previous.shape == frame.shape:
                msd = mean_squared_difference(previous, frame, self.valid(frame.shape))
                score = msd if score is None else max(score, msd)
            previous = frame
        if previous is not None:
            self._last[camera] = previous
        return score


def load_cv2() -> tuple[ModuleType | None, str | None]:
    """OpenCV (one thread, as on a one-core Pi Zero) or None and why it is not here."""
    try:
        import cv2  # the evaluation-only extra, imported when MOG2 runs
    except ImportError as exc:
        return None, (
            f"OpenCV not installed ({exc}); install the eval extra: pip install -e '.[eval]'"
        )
    cv2.setNumThreads(1)
    return cv2, None


class Mog2(_Masked):
    """Score: the largest foreground share (after a small opening, inside the unmasked area) of
    the burst's frames. One subtractor per camera and frame size, learning from every frame
    (time-lapse and bursts, at OpenCV's automatic rate); a subtractor's first frame only
    teaches it, as it has nothing to compare with."""

    def __init__(
        self,
        cv2: Any,
        masks: Sequence[Mask] = (),
        history_frames: int = MOG2_HISTORY_FRAMES,
        var_threshold: float = MOG2_VAR_THRESHOLD,
    ) -> None:
        super().__init__(masks)
        self._cv2 = cv2
        self.history_frames = history_frames
        self.var_threshold = var_threshold
        self._kernel = np.ones((MOG2_OPENING_PX, MOG2_OPENING_PX), dtype=np.uint8)
        self._subtractors: dict[tuple[Camera, tuple[int, int]], Any] = {}

    def _subtractor(self, camera: Camera, shape: tuple[int, int]) -> tuple[Any, bool]:
        """The camera's subtractor for this frame size, and whether it has seen a frame."""
        key = (camera, shape)
        seen = key in self._subtractors
        if not seen:
            self._subtractors[key] = self._cv2.createBackgroundSubtractorMOG2(
                history=self.history_frames,
                varThreshold=self.var_threshold,
                detectShadows=False,
            )
        return self._subtractors[key], seen

    def timelapse(self, camera: Camera, frames: Sequence[np.ndarray | None]) -> None:
        for frame in frames:
            if frame is not None:
                self._subtractor(camera, frame.shape)[0].apply(frame, learningRate=-1)

    def burst(self, camera: Camera, frames: Sequence[np.ndarray | None]) -> float | None:
        score: float | None = None
        for frame in frames:
            if frame is None:
                continue
            subtractor, seen = self._subtractor(camera, frame.shape)
            foreground = subtractor.apply(frame, learningRate=-1)
            if not seen:
                continue
            opened = self._cv2.morphologyEx(foreground, self._cv2.MORPH_OPEN, self._kernel)
            valid = self.valid(frame.shape)
            moving = opened > 0
            share = float(moving[valid].mean() if valid is not None else moving.mean())
            score = share if score is None else max(score, share)
        return score
