"""Triage speed on one core: frames per second at 320x240 and 640x480, and memory per event.

For each size, a bank of `BANK_FRAMES` time-lapse frames (rendered by the simulator at that
lores size, day light) is learned, then 3-frame bursts (animal, wind, empty) are judged
without learning. Per kind, one pass judges its 8 bursts (24 frames); after one warm-up pass,
`PASSES` timed passes (10 by default, `--runs N`) give frames per second at the fastest and the
median pass, by wall time and by this process's CPU time (perf_counter, process_time), and ms
per event. Also the one-off background-model build (a fresh bank each time, as many runs) and
memory per event (the tracemalloc peak of one judge call, median over the kind's bursts, KiB).

Pinned to one CPU (sched_setaffinity, where available; restored afterwards) with the BLAS and
OpenMP thread counts set to 1 before numpy is first imported (`python -m bench` runs every
suite in a process of its own, so this holds in `make bench` too). Wall time counts the time
another process held that CPU; CPU time does not. Prints figures; never fails on a slow
machine.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import statistics  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402

import numpy as np  # noqa: E402

from bench import stats  # noqa: E402
from device.triage import Triage, TriageSettings  # noqa: E402
from device.triage.background import BackgroundBank  # noqa: E402
from sim.render import Actor, Animal, Light, LightChange, Scene, SceneSpec, Wind  # noqa: E402

SIZES = ((320, 240), (640, 480))  # lores frames triage sees
BANK_FRAMES = 5
BURSTS_PER_KIND = 8
FRAMES_PER_BURST = 3
PASSES = 10
DAY = Light(lux=2000.0)
KINDS = ("animal", "wind", "empty")


@contextmanager
def one_core() -> Iterator[str]:
    """Pin this process to one CPU while the block runs; yields a description."""
    if not hasattr(os, "sched_setaffinity"):
        yield "not pinned (no sched_setaffinity here)"
        return
    before = os.sched_getaffinity(0)
    cpu = min(before)
    os.sched_setaffinity(0, {cpu})
    try:
        yield f"pinned to CPU {cpu}"
    finally:
        os.sched_setaffinity(0, before)


def _burst_actors(kind: str, burst: int, frame: int) -> list[Actor]:
    """The actors of one frame of a burst: an animal walking, a gust, or nothing."""
    if kind == "animal":
        length = 0.08 + 0.04 * (burst % 5)
        x = 0.2 + 0.07 * burst + 0.05 * frame
        return [Animal(x, 0.6 + 0.3 * length, length, 1, 2.5 * frame, coat_seed=burst % 3)]
    if kind == "wind":
        return [Wind(0.5 + 0.06 * burst, 0.8 * burst + 1.7 * frame)]
    return []


def _render_size(width: int, height: int) -> tuple[list[np.ndarray], dict[str, list]]:
    """Time-lapse frames for the bank and bursts per kind, all lores greyscale of this size."""
    main_w, main_h = max(640, width), max(480, height)
    spec = SceneSpec(main_w, main_h, lores_width=width, lores_height=height, seed=7)
    scene = Scene(spec)
    rng = np.random.default_rng(3)
    bank = [
        scene.render(DAY, [LightChange(1.0 + 0.01 * (i - 2))], rng).lores
        for i in range(BANK_FRAMES)
    ]
    bursts = {
        kind: [
            [
                scene.render(DAY, _burst_actors(kind, b, f), rng).lores
                for f in range(FRAMES_PER_BURST)
            ]
            for b in range(BURSTS_PER_KIND)
        ]
        for kind in KINDS
    }
    return bank, bursts


def _model_builds(bank_frames: list[np.ndarray], runs: int) -> stats.Timings:
    """Building the background model from a fresh bank (cache empty), `runs` times."""
    shape = bank_frames[0].shape
    level = float(np.mean(bank_frames[0]))
    timings = stats.Timings()
    for _ in range(runs):
        bank = BackgroundBank()
        for i, frame in enumerate(bank_frames):
            bank.add(frame, ir_on=False, time_s=float(i))
        with timings.measure():
            bank.model(shape, ir_on=False, level=level)
    return timings


def _peak_kib(triage: Triage, burst: list[np.ndarray]) -> float:
    """tracemalloc peak of one judge call, KiB."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        triage.judge(burst, ir_on=False)
        return tracemalloc.get_traced_memory()[1] / 1024
    finally:
        tracemalloc.stop()


def _bench_size(width: int, height: int, passes: int) -> None:
    """Print the figures of one frame size."""
    bank_frames, bursts = _render_size(width, height)
    triage = Triage(TriageSettings())
    for i, frame in enumerate(bank_frames):
        triage.observe([frame], ir_on=False, time_s=float(i), timelapse=True)
    print(f"  {width}x{height}: background model build {_model_builds(bank_frames, passes).line()}")
    for kind in KINDS:
        events = bursts[kind]
        decisions = [triage.judge(b, ir_on=False).decision for b in events]  # warm-up pass
        timings = stats.repeat(lambda ev=events: [triage.judge(b, ir_on=False) for b in ev], passes)
        per_event = stats.Timings()
        for wall, cpu in zip(timings.wall, timings.cpu, strict=True):
            per_event.add(wall / len(events), cpu / len(events))
        frames = len(events) * FRAMES_PER_BURST
        memory = statistics.median(_peak_kib(triage, b) for b in events)
        common = max(set(decisions), key=decisions.count)
        print(
            f"    {kind}: {common} {decisions.count(common)}/{len(decisions)}, "
            f"{memory:,.0f} KiB/event"
        )
        print(f"      {timings.rate_line(frames, 'frames/s')}")
        print(f"      per event: {per_event.line()}")


def main() -> None:
    """Print frames per second, ms per event, model build time and memory per event."""
    passes = stats.run_count(PASSES)
    with one_core() as pinned:
        print(
            f"  one core ({pinned}); {BURSTS_PER_KIND} bursts of {FRAMES_PER_BURST} frames per "
            f"kind a pass, {passes} passes after a warm-up one; bank of {BANK_FRAMES} time-lapse "
            "frames"
        )
        for width, height in SIZES:
            _bench_size(width, height, passes)


if __name__ == "__main__":
    stats.suite(main)
