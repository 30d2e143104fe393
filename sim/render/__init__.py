"""The simulated camera's pictures: a ridge-top camera-trap view, what moves in it, light, noise.

A `Scene` precomputes everything that depends only on its seed (the landscape in colour and in
infrared, the swaying grass and branch, noise banks, a snowflake bank, coat patterns and animal
poses), so a frame costs a few whole-frame integer operations plus small sprite copies: the
simulator renders thousands of frames per run. Every random choice of a frame comes from the
`rng` passed to `render`, so the same scene, light, actors and rng state give identical bytes.

Modules, one job each: `types` (the public types), `scene` (composes a frame), `landscape`
(the background), `sway` (wind-moved grass and branch), `pose`, `coat` and `animal` (the snow
leopard's shape, coat, and drawing), `snow`, `expose` (look, exposure, noise, lores), `encode`
(JPEG), and the shared `fields` (smooth noise, blur) and `pixels` (pixel formats).
`backdrop` renders the same actors over a photo instead of the painted view (`BackdropScene`).
"""

from sim.render.animal import animal_window
from sim.render.backdrop import BackdropScene
from sim.render.encode import encode_jpeg
from sim.render.expose import DAY_LUX, IR_DOMINATES_LUX, NIGHT_LUX
from sim.render.scene import Scene
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

__all__ = [
    "DAY_LUX",
    "IR_DOMINATES_LUX",
    "NIGHT_LUX",
    "Actor",
    "Animal",
    "BackdropScene",
    "Light",
    "LightChange",
    "Rendered",
    "Scene",
    "SceneSpec",
    "Snowfall",
    "Wind",
    "animal_window",
    "encode_jpeg",
]
