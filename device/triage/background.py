"""The background bank: empty frames of the trap's own view, per light, to compare bursts with.

Frames come from time-lapse shots and from events triage judged empty. A burst is compared with
the frames of the same light: the same IR state and the nearest brightness. The model is the
per-pixel median of those frames and a per-pixel noise estimate from their spread (the median
absolute deviation), floored so that a bank of one or two frames is not overconfident.

In gated mode the Pi loses its memory after every event, so the bank is saved on the data
partition (one .npz, written atomically) and read again at the first event of the next boot.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger("irbis.triage")

NOISE_FLOOR_DN = 3.0  # the least per-pixel noise assumed (8-bit levels): JPEG and sensor noise
NOISE_SHARE = 0.04  # plus this share of the level (shot noise grows with brightness)
MAD_TO_SIGMA = 1.4826
MODEL_FRAMES = 5  # frames in one model: the nearest in brightness among those of the same light
ACTIVITY_RATE = 0.2  # weight of the newest event in each block's activity (a moving average)
BUSY_ACTIVITY = 0.35  # a block active in this share of recent events is busy (vegetation, water)


@dataclass(frozen=True)
class BackgroundModel:
    """The empty view for one light: median level and per-pixel noise, float32 (h, w)."""

    median: np.ndarray
    sigma: np.ndarray
    frames: int
    level: float  # mean of the median image


@dataclass(eq=False)  # entries are compared by identity (their frames are arrays)
class _Entry:
    frame: np.ndarray  # uint8 (h, w)
    ir_on: bool
    time_s: float
    level: float


class BackgroundBank:
    """Up to `per_light` recent empty frames for each IR state and frame size."""

    def __init__(self, per_light: int = 8) -> None:
        if per_light < 1:
            raise ValueError(f"per_light {per_light}: expected >= 1")
        self.per_light = per_light
        self._entries: list[_Entry] = []
        self._cache: dict[tuple[int, ...], BackgroundModel] = {}
        # Per frame size: how often each block of the triage grid changed in recent events.
        self._activity: dict[tuple[int, int], np.ndarray] = {}
        self.dirty = False  # changed since load/save

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, frame: np.ndarray, *, ir_on: bool, time_s: float) -> None:
        """Keep one empty frame (uint8 greyscale); the oldest of its light goes when full."""
        if frame.ndim != 2 or frame.dtype != np.uint8 or frame.size == 0:
            raise ValueError(
                f"background frame: expected a non-empty uint8 (h, w) array, "
                f"got {frame.dtype} {frame.shape}"
            )
        entry = _Entry(np.array(frame, copy=True), ir_on, float(time_s), float(frame.mean()))
        same = [e for e in self._entries if e.ir_on == ir_on and e.frame.shape == frame.shape]
        if len(same) >= self.per_light:
            oldest = min(same, key=lambda e: e.time_s)
            self._entries.remove(oldest)
        self._entries.append(entry)
        self._cache.clear()
        self.dirty = True

    def model(self, shape: tuple[int, int], *, ir_on: bool, level: float) -> BackgroundModel | None:
        """The model for a burst of this size, IR state and mean level; None if none is kept."""
        same = [
            (i, e)
            for i, e in enumerate(self._entries)
            if e.ir_on == ir_on and e.frame.shape == shape
        ]
        if not same:
            return None
        wanted = max(level, 1.0)
        same.sort(key=lambda ie: (abs(np.log(max(ie[1].level, 1.0) / wanted)), -ie[1].time_s))
        chosen = tuple(sorted(i for i, _ in same[:MODEL_FRAMES]))
        cached = self._cache.get(chosen)
        if cached is None:
            cached = _build(np.stack([self._entries[i].frame for i in chosen]))
            self._cache[chosen] = cached
        return cached

    def note_activity(self, shape: tuple[int, int], active: np.ndarray) -> None:
        """Fold one event's active blocks (a bool grid) into the moving average of activity."""
        old = self._activity.get(shape)
        now = active.astype(np.float32)
        if old is None or old.shape != now.shape:
            old = np.zeros_like(now)
        self._activity[shape] = old * np.float32(1 - ACTIVITY_RATE) + now * ACTIVITY_RATE
        self.dirty = True

    def busy(self, shape: tuple[int, int]) -> np.ndarray | None:
        """Blocks that changed in many recent events (bool grid), or None when not known."""
        activity = self._activity.get(shape)
        return None if activity is None else activity > BUSY_ACTIVITY

    # -- persistence ----------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The bank as an .npz (no pickles): per frame size, the frames stacked (n, h, w) with
        their IR state and time (n, 2), and the activity grid. A few members, not two per
        frame: reading a member of an .npz costs about 0.15 ms, and gated mode reads the bank
        at every boot."""
        buf = io.BytesIO()
        arrays: dict[str, np.ndarray] = {}
        for height, width in sorted({e.frame.shape for e in self._entries}):
            same = [e for e in self._entries if e.frame.shape == (height, width)]
            arrays[f"frames_{height}x{width}"] = np.stack([e.frame for e in same])
            arrays[f"meta_{height}x{width}"] = np.array(
                [[float(e.ir_on), e.time_s] for e in same], dtype=np.float64
            )
        for (height, width), activity in self._activity.items():
            arrays[f"activity_{height}x{width}"] = activity
        np.savez(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, per_light: int = 8) -> BackgroundBank:
        """Read a bank saved by `to_bytes`. Raises ValueError naming what is wrong."""
        bank = cls(per_light)
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                for key in npz.files:
                    kind, _, size = key.partition("_")
                    if kind == "frames":
                        meta = npz[f"meta_{size}"]
                        frames = npz[key]
                        if frames.ndim != 3 or meta.shape != (len(frames), 2):
                            raise ValueError(f"{key}: {frames.shape} frames, {meta.shape} meta")
                        for frame, (ir_on, time_s) in zip(frames, meta, strict=True):
                            bank.add(frame, ir_on=bool(ir_on), time_s=float(time_s))
                    elif kind == "activity":
                        height, width = (int(v) for v in size.split("x"))
                        bank._activity[(height, width)] = npz[key].astype(np.float32)
        except (OSError, KeyError, IndexError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise ValueError(f"background bank unreadable: {type(exc).__name__}: {exc}") from None
        bank.dirty = False
        return bank

    @classmethod
    def load(
        cls, path: Path, per_light: int = 8, read: Callable[[Path], bytes] = Path.read_bytes
    ) -> BackgroundBank:
        """The bank saved at `path` (read with `read`: the trap passes its card IO's); an empty
        bank (logged) when it is missing or unreadable."""
        try:
            return cls.from_bytes(read(path), per_light)
        except FileNotFoundError:
            return cls(per_light)
        except (OSError, ValueError) as exc:
            log.warning(
                "background bank not loaded; starting empty",
                extra={"record": {"path": str(path), "error": str(exc)}},
            )
            return cls(per_light)


def _build(stack: np.ndarray) -> BackgroundModel:
    """Median and noise of a stack of uint8 frames (n, h, w)."""
    if len(stack) == 1:
        median = stack[0].astype(np.float32)
        spread = np.zeros_like(median)
    else:
        median = _median(list(stack)).astype(np.float32)
        residuals = [np.abs(frame.astype(np.float32) - median) for frame in stack]
        spread = _median(residuals) * np.float32(MAD_TO_SIGMA)
    floor = NOISE_FLOOR_DN + NOISE_SHARE * median
    sigma = np.maximum(spread, floor).astype(np.float32)
    return BackgroundModel(median, sigma, len(stack), float(median.mean()))


def _median(arrays: list[np.ndarray]) -> np.ndarray:
    """The per-pixel median of a few same-shaped arrays (as np.median over axis 0), with an
    odd-even transposition sort of whole arrays: n rounds of elementwise min/max, fifty times
    faster than np.median's partition along a short first axis."""
    a = list(arrays)
    n = len(a)
    for round_ in range(n):
        for i in range(round_ % 2, n - 1, 2):
            a[i], a[i + 1] = np.minimum(a[i], a[i + 1]), np.maximum(a[i], a[i + 1])
    if n % 2:
        return a[n // 2]
    return (a[n // 2 - 1].astype(np.float32) + a[n // 2]) / np.float32(2)
