"""Animals in a frame: placement, cached poses and coats, shadow, far legs, eyeshine."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.render.coat import Coat, CoatKit, make_coat, make_coat_kit
from sim.render.expose import Look
from sim.render.landscape import ir_beam
from sim.render.pixels import pack_colour, scale_3_4, scale_5_8
from sim.render.pose import (
    BOX_X,
    BOX_Y,
    EYE,
    FAR_LEG,
    GAIT_POSES,
    SHADOW,
    SPRITE_BODY_PX,
    Grid,
    Pose,
    make_pose,
)
from sim.render.types import Animal

_COAT_CACHE_SIZE = 48
_EYE_RGB = (170, 176, 96)


@dataclass(frozen=True)
class Placement:
    """Where a scaled sprite lands: the frame window and the sprite rows/cols feeding it."""

    top: int
    bottom: int
    left: int
    right: int
    rows: np.ndarray
    cols: np.ndarray


def animal_window(animal: Animal, frame_w: int, frame_h: int) -> tuple[int, int, int, int] | None:
    """The frame pixels an animal's sprite box covers, (left, top, right, bottom), clipped to
    the frame (right and bottom exclusive); None when it is out of view or too small to draw.
    The box holds the head, tail, legs and ground shadow, so the animal fills part of it."""
    length_px = animal.length_frac * frame_w
    if length_px <= 0.5:
        return None
    heading = -1.0 if animal.heading < 0 else 1.0
    cx, cy = animal.x_frac * frame_w, animal.y_frac * frame_h
    xa, xb = cx + heading * BOX_X[0] * length_px, cx + heading * BOX_X[1] * length_px
    left, right = max(0, math.floor(min(xa, xb))), min(frame_w, math.ceil(max(xa, xb)))
    top = max(0, math.floor(cy + BOX_Y[0] * length_px))
    bottom = min(frame_h, math.ceil(cy + BOX_Y[1] * length_px))
    if left >= right or top >= bottom:
        return None
    return left, top, right, bottom


def place_animal(animal: Animal, grid: Grid, frame_w: int, frame_h: int) -> Placement | None:
    """Nearest-neighbour mapping of the canonical sprite onto the frame (None: out of view)."""
    window = animal_window(animal, frame_w, frame_h)
    if window is None:
        return None
    left, top, right, bottom = window
    length_px = animal.length_frac * frame_w
    heading = -1.0 if animal.heading < 0 else 1.0
    cx, cy = animal.x_frac * frame_w, animal.y_frac * frame_h
    scale = SPRITE_BODY_PX / length_px
    u = heading * (np.arange(left, right) + 0.5 - cx) * scale - grid.x0 * SPRITE_BODY_PX
    v = (np.arange(top, bottom) + 0.5 - cy) * scale - grid.y0 * SPRITE_BODY_PX
    cols = np.clip(np.floor(u), 0, grid.width - 1).astype(np.intp)
    rows = np.clip(np.floor(v), 0, grid.height - 1).astype(np.intp)
    return Placement(top, bottom, left, right, rows, cols)


def _gather(sprite: np.ndarray, placement: Placement) -> np.ndarray:
    """The sprite resampled onto the placement window."""
    return sprite.take(placement.rows, axis=0).take(placement.cols, axis=1)


def _window_rows(placement: Placement, span: tuple[int, int]) -> slice:
    """The rows of a placement window fed by sprite rows span[0]..span[1]-1."""
    first = int(np.searchsorted(placement.rows, span[0]))
    return slice(first, int(np.searchsorted(placement.rows, span[1])))


class AnimalPainter:
    """Places and draws a scene's animals; coat material, coats and poses built on first use."""

    def __init__(self, coat_stream: np.random.SeedSequence, ir_scale: float) -> None:
        """`coat_stream` seeds the scene's coat material; `ir_scale` is its IR level scale."""
        self._coat_stream = coat_stream
        self._ir_scale = ir_scale
        self._coat_kit: CoatKit | None = None
        self._coats: dict[int, Coat] = {}
        self._poses: dict[int, Pose] = {}

    def place(self, animal: Animal, frame_w: int, frame_h: int) -> Placement | None:
        """Where `animal` lands in the frame (None: out of view)."""
        return place_animal(animal, self._kit().grid, frame_w, frame_h)

    def draw(self, canvas: np.ndarray, animal: Animal, placement: Placement, look: Look) -> None:
        """Paste one animal (pose by gait, coat by seed), with a ground shadow in sunlight."""
        pose = self._pose(animal.gait_phase)
        labels = _gather(pose.labels, placement)
        coat = self._coat(animal.coat_seed)
        region = canvas[placement.top : placement.bottom, placement.left : placement.right]
        far = _window_rows(placement, pose.row_spans[FAR_LEG])
        eyes = _window_rows(placement, pose.row_spans[EYE])
        if look.infrared:
            pixels = self._ir_lut(animal).take(_gather(coat.grey, placement))
            dark = (pixels[far] >> 1) + (pixels[far] >> 2)
            np.copyto(pixels[eyes], np.uint8(255), where=labels[eyes] == EYE)  # eyeshine
        else:
            if look.sun_shadows:
                shadow = _window_rows(placement, pose.row_spans[SHADOW])
                under = region[shadow]
                np.copyto(under, scale_5_8(under), where=labels[shadow] == SHADOW)
            pixels = _gather(coat.rgbx, placement)
            dark = scale_3_4(pixels[far])
            np.copyto(pixels[eyes], pack_colour(_EYE_RGB), where=labels[eyes] == EYE)
        np.copyto(pixels[far], dark, where=labels[far] == FAR_LEG)
        np.copyto(region, pixels, where=(labels - np.uint8(1)) < SHADOW - 1)

    def _ir_lut(self, animal: Animal) -> np.ndarray:
        """Coat luma -> IR level: nearer animals catch more of the illuminator."""
        nearness = float(np.clip(0.35 + 0.65 * animal.length_frac / 0.22, 0.35, 2.5))
        beam = float(ir_beam(animal.x_frac, animal.y_frac))
        gain = 0.45 * nearness * beam * self._ir_scale / 255.0
        return np.clip(np.rint(np.arange(256, dtype=np.float32) * gain), 0, 255).astype(np.uint8)

    def _kit(self) -> CoatKit:
        """The scene's coat material, built on first use."""
        if self._coat_kit is None:
            self._coat_kit = make_coat_kit(np.random.default_rng(self._coat_stream))
        return self._coat_kit

    def _coat(self, coat_seed: int) -> Coat:
        """The coat of one animal (cached; the oldest dropped beyond a bound)."""
        coat = self._coats.get(coat_seed)
        if coat is None:
            if len(self._coats) >= _COAT_CACHE_SIZE:
                self._coats.pop(next(iter(self._coats)))
            coat = self._coats[coat_seed] = make_coat(self._kit(), coat_seed)
        return coat

    def _pose(self, gait_phase: float) -> Pose:
        """The gait pose nearest `gait_phase` (cached)."""
        index = round(float(gait_phase) / (2 * math.pi) * GAIT_POSES) % GAIT_POSES
        pose = self._poses.get(index)
        if pose is None:
            phase = index * 2 * math.pi / GAIT_POSES
            pose = self._poses[index] = make_pose(self._kit().grid, phase)
        return pose
