"""The default scenario's simulation: wall and CPU seconds per run, simulated days per second.

Every run is the same run (`altai-winter-90d`, seed 1: the README's), in this process, after a
one-day warm-up that imports everything (not counted). CPU time is the whole process's
(`time.process_time`): the simulator's JPEG encoder thread included. 3 runs by default (each
takes about half a minute here); `python -m bench sim --runs N` for more or fewer.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench import stats
from sim import scenario as scenario_mod
from sim.metrics import collect
from sim.runner import simulate

RUNS = 3


def main(name: str = "altai-winter-90d", seed: int = 1) -> None:
    scenario = scenario_mod.load(name)
    runs = stats.run_count(RUNS)
    folder = Path("runs")  # where `make sim` writes (on this VM /tmp creates files 8x slower)
    folder.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        simulate(scenario, seed, Path(tmp) / "warm-up", days=1)
    timings = stats.Timings()
    metrics = None
    for i in range(runs):
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            with timings.measure():
                result = simulate(scenario, seed, Path(tmp) / "run")
            metrics = collect(result)
        print(
            f"  run {i + 1}: {timings.wall[-1]:.2f} s wall, {timings.cpu[-1]:.2f} s CPU",
            flush=True,
        )
    print(f"  {name} seed {seed}, {scenario.days:g} simulated days (one-day warm-up not counted):")
    print(f"    simulation: {timings.line('s')}")
    print(f"    simulated days per second: {timings.rate_line(scenario.days, 'days/s')}")
    if metrics is not None:
        print(
            f"    each run: {metrics['boots']} boots, {metrics['events']['captured']} events, "
            f"{metrics['storage']['media_files']} media files"
        )


if __name__ == "__main__":
    stats.suite(main)
