"""The Scene: precomputes one view from its spec and composes each frame from the parts."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sim.render.animal import AnimalPainter, Placement
from sim.render.expose import IR_MEAN_LEVEL, Exposure, Look, look_for
from sim.render.landscape import ir_beam, ir_illumination, paint_landscape
from sim.render.pixels import pack, to_uint8, unpack
from sim.render.snow import SnowBank, draw_snow, make_snow_bank
from sim.render.sway import SwaySprite, build_sway_sprites, paste_sway
from sim.render.types import (
    Actor,
    Animal,
    Light,
    LightChange,
    Rendered,
    SceneSpec,
    Snowfall,
    Wind,
)


class Scene:
    """One camera view: precomputed once from its spec, then rendered frame by frame."""

    def __init__(self, spec: SceneSpec) -> None:
        """Paint the view and precompute banks, sprites and sampling plans."""
        self._spec = spec
        streams = np.random.SeedSequence([int(spec.seed) & 0xFFFFFFFF, 0x1B15]).spawn(4)
        canvas = paint_landscape(spec, np.random.default_rng(streams[0]))
        ground_light = ir_illumination(spec, canvas.crest_frac)
        ir_scale = IR_MEAN_LEVEL / float(np.mean(canvas.ir * ground_light))
        canvas.ir = canvas.ir * ground_light * np.float32(ir_scale)
        rows = ((np.arange(spec.height) + 0.5) / spec.height)[:, None]
        beam_light = ir_beam(((np.arange(spec.width) + 0.5) / spec.width)[None, :], rows)
        self._sway = build_sway_sprites(
            spec,
            np.random.default_rng(streams[1]),
            canvas,
            (ground_light * np.float32(ir_scale), beam_light * np.float32(ir_scale)),
        )
        self._base_rgbx = pack(to_uint8(canvas.rgb))
        self._base_ir = to_uint8(canvas.ir)
        for sprite in self._sway:
            paste_sway(self._base_rgbx, sprite, 0.0, infrared=False)
            paste_sway(self._base_ir, sprite, 0.0, infrared=True)
        self._base_rgbx.setflags(write=False)
        self._base_ir.setflags(write=False)
        self._snow = make_snow_bank(spec, np.random.default_rng(streams[2]))
        self._animals = AnimalPainter(streams[3], ir_scale)
        self._exposure = Exposure(spec)

    @property
    def spec(self) -> SceneSpec:
        """The spec this scene was built from."""
        return self._spec

    @property
    def background_rgb(self) -> np.ndarray:
        """The empty view in daylight, without noise: uint8 (height, width, 3)."""
        return unpack(self._base_rgbx)

    def render(self, light: Light, actors: Sequence[Actor], rng: np.random.Generator) -> Rendered:
        """One frame of the view under `light` with `actors`; sensor noise drawn from `rng`."""
        look = look_for(light)
        canvas = (self._base_ir if look.infrared else self._base_rgbx).copy()
        self._draw_layers(canvas, animals_of(actors), sway_of(actors), look)
        return finish(canvas, actors, look, self._snow, self._exposure, rng)

    def _draw_layers(
        self, canvas: np.ndarray, animals: list[Animal], sway: float, look: Look
    ) -> None:
        """Animals behind the swaying foreground layers (redrawn where they moved or were hit)."""
        h, w = self._spec.height, self._spec.width
        placed = []
        for animal in animals:
            placement = self._animals.place(animal, w, h)
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
            self._animals.draw(canvas, animal, placement, look)
        for sprite in self._sway:
            if sway != 0.0 or any(_overlaps(p, sprite) for _, p in placed):
                paste_sway(canvas, sprite, sway, look.infrared)


def animals_of(actors: Sequence[Actor]) -> list[Animal]:
    """The animals among the actors, smallest first (nearer ones are drawn over farther)."""
    return sorted((a for a in actors if isinstance(a, Animal)), key=lambda a: a.length_frac)


def sway_of(actors: Sequence[Actor]) -> float:
    """How far the wind bends things at this instant: the sum of strength * sin(phase)."""
    return sum(float(a.strength) * math.sin(float(a.phase)) for a in actors if isinstance(a, Wind))


def finish(
    canvas: np.ndarray,
    actors: Sequence[Actor],
    look: Look,
    snow_bank: SnowBank,
    exposure: Exposure,
    rng: np.random.Generator,
) -> Rendered:
    """The last steps of every view: falling snow over everything, then light and exposure."""
    for snow in actors:
        if isinstance(snow, Snowfall):
            draw_snow(canvas, snow_bank, snow, look.infrared)
    changes = [a for a in actors if isinstance(a, LightChange)]
    return exposure.develop(canvas, look, changes, rng)


def _overlaps(placement: Placement, sprite: SwaySprite) -> bool:
    """Whether an animal's window touches a sway sprite's region."""
    return (
        placement.top < sprite.top + sprite.height
        and sprite.top < placement.bottom
        and placement.left < sprite.left + sprite.width
        and sprite.left < placement.right
    )
