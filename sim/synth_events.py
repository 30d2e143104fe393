"""What each frame of a semi-synthetic event shows: its light and the renderer's actors.

Bursts are `FRAMES_PER_BURST` frames `FRAME_INTERVAL_S` apart. Kinds:

- `animal`: a snow leopard walking or trotting across the view, body length from `ANIMAL_SIZE_FRAC`
  (far, ~5 % of the width) to close (~40 %), lower in the frame when nearer; about a quarter of
  the bursts start or end with it partly out at a side edge;
- `wind`: the renderer's `Wind` at a gust strength, its phase moving between frames;
- `light`: a whole-frame gain step (a cloud covering or uncovering the sun), by day half of the
  time with a soft cloud-shadow band moving across; at night under IR a smaller step only (the
  auto exposure hunting);
- `snow`: the renderer's `Snowfall` at one of `SNOW_DENSITIES`, falling between frames.

Time-lapse shots are the empty view with a small gain jitter (sensor noise comes from the
renderer). Day light is colour; night light is the IR illuminator's greyscale look.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.render import Actor, Animal, Light, LightChange, Snowfall, Wind, animal_window

KINDS = ("animal", "wind", "light", "snow")
FRAMES_PER_BURST = 3
FRAME_INTERVAL_S = 0.5
ANIMAL_SIZE_FRAC = (0.05, 0.4)  # body length (without head and tail), fraction of the width
ANIMAL_AT_EDGE_SHARE = 0.25
ANIMAL_VISIBLE_LENGTHS = 0.3  # a frame shows the animal when this much of its box is in view
SNOW_DENSITIES = (0.1, 0.25, 0.5, 0.9)
COAT_SEEDS = 6  # different animals per camera
TIMELAPSE_GAIN_JITTER = 0.04


@dataclass(frozen=True)
class Shot:
    """One frame to render: light and actors, and the animal in it (None: none)."""

    light: Light
    actors: tuple[Actor, ...]
    animal: Animal | None = None


def light_for(rng: np.random.Generator, night: bool) -> Light:
    """Daylight (colour look) or night with the IR illuminator on (greyscale look)."""
    if night:
        return Light(lux=float(rng.uniform(0.05, 1.0)), ir_on=True)
    return Light(lux=float(np.exp(rng.uniform(math.log(300.0), math.log(30000.0)))))


def timelapse_shot(rng: np.random.Generator, night: bool) -> Shot:
    """The empty view, its brightness jittered slightly."""
    gain = 1.0 + float(rng.uniform(-TIMELAPSE_GAIN_JITTER, TIMELAPSE_GAIN_JITTER))
    return Shot(light_for(rng, night), (LightChange(gain),))


def burst_shots(kind: str, rng: np.random.Generator, night: bool) -> list[Shot]:
    """The frames of one burst of `kind` (one of KINDS)."""
    light = light_for(rng, night)
    if kind == "animal":
        return [Shot(light, (a,), a) for a in _animal_path(rng)]
    if kind == "wind":
        strength = float(rng.uniform(0.35, 1.0))
        phase, step = float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(1.2, 2.6))
        return [Shot(light, (Wind(strength, phase + i * step),)) for i in range(FRAMES_PER_BURST)]
    if kind == "light":
        return [Shot(light, changes) for changes in _light_changes(rng, night)]
    if kind == "snow":
        density = float(SNOW_DENSITIES[int(rng.integers(len(SNOW_DENSITIES)))])
        phase, step = float(rng.uniform(0, 20)), float(rng.uniform(0.5, 1.0))
        return [
            Shot(light, (Snowfall(density, phase + i * step),)) for i in range(FRAMES_PER_BURST)
        ]
    raise ValueError(f"burst kind {kind!r}: expected one of {KINDS}")


def visible_box(animal: Animal, width: int, height: int) -> tuple[int, int, int, int] | None:
    """The animal's box in a width x height frame, (left, top, right, bottom) pixels, when
    enough of it is in view to label the frame `animal` (None: out of view or only a sliver)."""
    box = animal_window(animal, width, height)
    if box is None or box[2] - box[0] < ANIMAL_VISIBLE_LENGTHS * animal.length_frac * width:
        return None
    return box


def _animal_path(rng: np.random.Generator) -> list[Animal]:
    """One animal over the burst: size, height by nearness, heading, speed and gait."""
    low, high = ANIMAL_SIZE_FRAC
    length = float(np.exp(rng.uniform(math.log(low), math.log(high))))
    y = float(np.clip(0.52 + 0.5 * length + rng.normal(0, 0.04), 0.45, 0.85))
    heading = 1 if rng.random() < 0.5 else -1
    step = heading * length * float(rng.uniform(0.25, 0.7))  # half a second of walk or trot
    middle = FRAMES_PER_BURST // 2
    if rng.random() < ANIMAL_AT_EDGE_SHARE:  # entering or leaving: the body centre off the edge
        entering = rng.random() < 0.5
        side = (0.0 if heading > 0 else 1.0) if entering else (1.0 if heading > 0 else 0.0)
        outward = -1.0 if side == 0.0 else 1.0
        x_middle = side + outward * length * float(rng.uniform(0.05, 0.4))
    else:
        x_middle = float(rng.uniform(0.12, 0.88))
    gait, gait_step = float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(2.0, 3.5))
    coat = int(rng.integers(COAT_SEEDS))
    return [
        Animal(x_middle + (i - middle) * step, y, length, heading, gait + i * gait_step, coat)
        for i in range(FRAMES_PER_BURST)
    ]


def _light_changes(rng: np.random.Generator, night: bool) -> list[tuple[Actor, ...]]:
    """Per frame: the whole-frame gain (ramping in by the first frame) and a moving band."""
    darker = rng.random() < 0.7
    if night:
        gain = float(rng.uniform(0.7, 0.85) if darker else rng.uniform(1.15, 1.3))
    else:
        gain = float(rng.uniform(0.55, 0.8) if darker else rng.uniform(1.2, 1.45))
    gains = [1 + (gain - 1) * float(rng.uniform(0.4, 0.8))]
    gains += [gain * float(rng.uniform(0.97, 1.03)) for _ in range(FRAMES_PER_BURST - 1)]
    band = not night and rng.random() < 0.5
    offset, offset_step = float(rng.uniform(0.02, 0.6)), float(rng.uniform(0.05, 0.15))
    width, band_gain = float(rng.uniform(0.25, 0.6)), float(rng.uniform(0.55, 0.8))
    frames: list[tuple[Actor, ...]] = []
    for i, g in enumerate(gains):
        if band:
            shadow = LightChange(1.0, offset + i * offset_step, width, band_gain)
            frames.append((LightChange(g), shadow))
        else:
            frames.append((LightChange(g),))
    return frames
