"""Renderer speed: milliseconds per frame for render alone and render + JPEG encode.

Run: .venv/bin/python -m bench.render_bench  (prints figures; never fails on a slow machine)
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

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
) -> tuple[np.ndarray, np.ndarray]:
    """Milliseconds per frame for render, and for render + encode."""
    rng = np.random.default_rng(1)
    quality = scene.spec.jpeg_quality
    render_ms, total_ms = [], []
    for frame in range(WARMUP_FRAMES + FRAMES):
        actors = _actors(frame, length_frac, extra)
        start = time.perf_counter()
        rendered = scene.render(light, actors, rng)
        rendered_at = time.perf_counter()
        encode_jpeg(rendered.rgb, quality)
        done = time.perf_counter()
        if frame >= WARMUP_FRAMES:
            render_ms.append((rendered_at - start) * 1e3)
            total_ms.append((done - start) * 1e3)
    return np.asarray(render_ms), np.asarray(total_ms)


def main() -> None:
    """Print median and p95 ms per frame for each case."""
    spec = SceneSpec(width=640, height=480, lores_width=320, lores_height=240, seed=0)
    start = time.perf_counter()
    scene = Scene(spec)
    print(f"Scene init: {(time.perf_counter() - start) * 1e3:.0f} ms ({spec.width}x{spec.height})")
    print(f"{FRAMES} frames per case; ms per frame, median / p95")
    print(f"{'case':26s} {'render':>15s} {'render+jpeg':>15s}")
    for name, (light, _, length_frac, extra) in _cases().items():
        render_ms, total_ms = _time_case(scene, light, length_frac, extra)
        print(
            f"{name:26s} {np.median(render_ms):7.2f} / {np.percentile(render_ms, 95):5.2f}"
            f" {np.median(total_ms):7.2f} / {np.percentile(total_ms, 95):5.2f}"
        )


if __name__ == "__main__":
    main()
