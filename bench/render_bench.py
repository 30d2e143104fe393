"""Renderer speed: milliseconds per frame for render alone and render + JPEG encode, wall and
CPU (this process's), 300 frames per case after 20 warm-up frames: distributions, so `--runs`
does not change them.

Run: .venv/bin/python -m bench render  (prints figures; never fails on a slow machine)
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from bench import stats
from sim.render import (
    Actor,
    Animal,
    Light,
    LightChange,
    Scene,
    SceneSpec,
    Snowfall,
    Wind,
    encode_jpeg,
)

FRAMES = 300
WARMUP_FRAMES = 20


def _walking_animal(frame: int, length_frac: float) -> Animal:
    """An animal crossing the frame, a new gait pose each frame (as the simulator sends)."""
    progress = (frame % 100) / 100
    return Animal(-0.2 + 1.4 * progress, 0.62, length_frac, 1, frame * 0.9, coat_seed=3)


def _cases() -> dict[str, tuple[Light, int, float | None, list[Actor]]]:
    """Named cases: light, animal size (None: no animal) and extra actors."""
    day, ir = Light(lux=2000.0), Light(lux=0.3, ir_on=True)
    return {
        "day empty": (day, 0, None, []),
        "day animal 0.2": (day, 0, 0.2, []),
        "day animal 0.5 (close)": (day, 0, 0.5, []),
        "day wind": (day, 0, None, [Wind(0.8, 1.2)]),
        "day cloud band": (day, 0, None, [LightChange(0.7, 0.4)]),
        "day snowfall": (day, 0, None, [Snowfall(0.8, 0.0)]),
        "twilight animal 0.2": (Light(lux=15.0), 0, 0.2, []),
        "night no IR": (Light(lux=0.3), 0, None, []),
        "night IR empty": (ir, 0, None, []),
        "night IR animal 0.2": (ir, 0, 0.2, []),
    }


def _actors(frame: int, length_frac: float | None, extra: Sequence[Actor]) -> list[Actor]:
    """The actors of one frame, with moving phases so frames differ."""
    actors: list[Actor] = []
    for actor in extra:
        if isinstance(actor, Wind):
            actors.append(Wind(actor.strength, actor.phase + frame * 0.7))
        elif isinstance(actor, Snowfall):
            actors.append(Snowfall(actor.density, frame * 0.4))
        else:
            actors.append(actor)
    if length_frac is not None:
        actors.append(_walking_animal(frame, length_frac))
    return actors


def _time_case(
    scene: Scene, light: Light, length_frac: float | None, extra: Sequence[Actor]
) -> tuple[stats.Timings, stats.Timings]:
    """Per frame: render, and render + encode."""
    rng = np.random.default_rng(1)
    quality = scene.spec.jpeg_quality
    render, total = stats.Timings(), stats.Timings()
    for frame in range(WARMUP_FRAMES + FRAMES):
        actors = _actors(frame, length_frac, extra)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        rendered = scene.render(light, actors, rng)
        wall1, cpu1 = time.perf_counter(), time.process_time()
        encode_jpeg(rendered.rgb, quality)
        wall2, cpu2 = time.perf_counter(), time.process_time()
        if frame >= WARMUP_FRAMES:
            render.add(wall1 - wall0, cpu1 - cpu0)
            total.add(wall2 - wall0, cpu2 - cpu0)
    return render, total


def main() -> None:
    """Print min, median, p95 and max ms per frame for each case, wall and CPU."""
    spec = SceneSpec(width=640, height=480, lores_width=320, lores_height=240, seed=0)
    init = stats.Timings()
    with init.measure():
        scene = Scene(spec)
    print(f"  scene init ({spec.width}x{spec.height}), once: {init.line()}")
    print(f"  ms per frame, {FRAMES} frames per case after {WARMUP_FRAMES} warm-up frames:")
    for name, (light, _, length_frac, extra) in _cases().items():
        render, total = _time_case(scene, light, length_frac, extra)
        print(f"  {name}")
        print(f"    render        {render.line(tails=True)}")
        print(f"    render + JPEG {total.line(tails=True)}")


if __name__ == "__main__":
    stats.suite(main)
