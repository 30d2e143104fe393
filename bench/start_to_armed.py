"""Process start to armed (always-on) and, in gated mode, process start to the capture decision:
the trap's software share of a cold start's trigger latency. `python -m device` with the
simulated hardware, as a fresh process per run; the moment is the controller's log record on
stderr (`"to": "armed"`, `"to": "capturing"`). Gated mode's `capturing` is the wake taken up as
an event: the camera's start (a hardware time, in the power figures) and the first frame come
after it and are not counted.

Wall time runs from Popen to reading that record; CPU time is the child's (every thread) at
that moment, read from /proc. One warm-up start first (a new card's first-use probe; the
file cache), not counted. Then where the time goes, each in its own process from start to
exit: the interpreter alone, the trap's imports, the simulated hardware's imports (numpy and
the renderer: the simulator's, not the Pi's). 7 runs each by default (`--runs N`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import stats

RUNS = 7
# what device/main.py imports before the trap starts
TRAP_IMPORTS = (
    "import device.main, device.log, device.event_triage, device.power.manager, "
    "device.storage.manager, device.trap"
)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "IRBIS_BACKEND"}


def one_start(config: Path, until: str) -> tuple[float, float | None]:
    """(wall, CPU) seconds from process start until the controller's transition to `until`."""
    wall0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "device", "--config", str(config)],
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert proc.stderr is not None
    other: list[str] = []  # what is not a log record (an error's traceback)
    try:
        for line in proc.stderr:
            try:
                record = json.loads(line)
            except ValueError:
                other = [*other[-5:], line.rstrip()]
                continue
            if record.get("to") == until:
                return time.perf_counter() - wall0, stats.process_cpu_s(proc.pid)
        said = " | ".join(other)
        raise RuntimeError(f"trap exited with {proc.wait()} before {until!r}: {said}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def starts(config: Path, until: str, runs: int) -> stats.Timings:
    one_start(config, until)  # warm-up
    timings = stats.Timings()
    for _ in range(runs):
        timings.add(*one_start(config, until))
    return timings


def process_to_exit(code: str, runs: int) -> stats.Timings:
    """`python -c code` from start to exit: wall, and CPU from getrusage of the children."""
    timings = stats.Timings()
    for i in range(runs + 1):  # the first is a warm-up
        cpu0, wall0 = stats.children_cpu_s(), time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=_env())
        wall, cpu = time.perf_counter() - wall0, stats.children_cpu_s() - cpu0
        if i:
            timings.add(wall, cpu)
    return timings


def main() -> None:
    runs = stats.run_count(RUNS)
    with tempfile.TemporaryDirectory() as tmp:
        card = Path(tmp) / "card"
        card.mkdir()
        data = Path(tmp) / "data"
        data.mkdir()
        storage = f'[storage]\ncard_path = "{card}"\ndata_path = "{data}"\n'
        always_on = Path(tmp) / "trap.toml"
        always_on.write_text(f'backend = "sim"\nmode = "always-on"\n{storage}')
        gated = Path(tmp) / "gated.toml"
        gated.write_text(
            f'backend = "sim"\nmode = "gated"\n{storage}[gated]\npoweroff_command = ["true"]\n'
        )
        print("  python -m device, sim backend, a fresh process per run (one warm-up first):")
        print(f"    process start -> armed (always-on): {starts(always_on, 'armed', runs).line()}")
        print(
            "    gated: process start -> capturing (the wake taken up, before the camera "
            "starts; goal < 0.3 s):"
        )
        print(f"      {starts(gated, 'capturing', runs).line()}")
    print("  where it goes, each a process from start to exit (one warm-up first):")
    for what, code in (
        ("the interpreter alone (python -c pass)", "pass"),
        ("the trap's imports", TRAP_IMPORTS),
        ("+ the simulated hardware's (sim.hardware)", f"{TRAP_IMPORTS}, sim.hardware"),
    ):
        print(f"    {what}: {process_to_exit(code, runs).line()}")


if __name__ == "__main__":
    stats.suite(main)
