"""Simulated days per wall second for the default scenario."""

from __future__ import annotations

import platform
import tempfile
import time
from pathlib import Path

from sim import scenario as scenario_mod
from sim.metrics import collect
from sim.runner import simulate


def main(name: str = "altai-winter-90d", seed: int = 1, repeats: int = 3) -> None:
    scenario = scenario_mod.load(name)
    walls = []
    runs = Path("runs")  # where `make sim` writes (on this VM /tmp creates files 8x slower)
    runs.mkdir(exist_ok=True)
    for i in range(repeats):
        with tempfile.TemporaryDirectory(dir=runs) as tmp:
            t0 = time.perf_counter()
            result = simulate(scenario, seed + i, Path(tmp) / "run")
            walls.append(time.perf_counter() - t0)
            metrics = collect(result)
    best, worst = min(walls), max(walls)
    machine = platform.processor() or platform.machine()
    print(f"  machine: {machine}, python {platform.python_version()}")
    print(
        f"  {name}: {scenario.days:g} simulated days in {best:.2f} s wall (best of {repeats}; "
        f"worst {worst:.2f} s)"
    )
    print(f"  {scenario.days / best:.1f} simulated days per wall second")
    print(
        f"  last run: {metrics['boots']} boots, {metrics['events']['captured']} events, "
        f"{metrics['storage']['media_files']} media files"
    )
