"""Runs a deployment: the real trap code on the simulated bench, on virtual time.

In gated mode every wake is a cold start: a new Trap (controller, queue, camera) is built from
nothing but the card, as on a Pi whose rail was cut. Between wakes only the bench's supervisor
side draws current.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from device import log as device_log
from device.storage.manager import Storage
from device.trap import Trap
from sim.card import SimCardIO
from sim.clock import VirtualClock
from sim.hardware import Bench
from sim.scenario import Scenario
from sim.world import DAY_S


@dataclass
class RunResult:
    scenario: Scenario
    seed: int
    days: float
    bench: Bench
    card_dir: Path
    wall_s: float
    boots: int
    controller_counters: Counter[str] = field(default_factory=Counter)


def prepare_out_dir(out: Path) -> Path:
    """The run folder; refuses to mix a new run into an old card."""
    card = out / "card"
    if (card.exists() and any(card.iterdir())) or (out / "internal").exists():
        raise FileExistsError(f"{out} already holds a run; choose an empty --out folder")
    card.mkdir(parents=True, exist_ok=True)
    return card


def simulate(
    scenario: Scenario, seed: int, out: Path, days: float | None = None, progress: bool = False
) -> RunResult:
    """Run `days` (default: the scenario's); writes out/card/ and out/trap.log."""
    wall_start = time.perf_counter()
    days = scenario.days if days is None else days
    card_dir = prepare_out_dir(out)
    data_dir = out / "internal"  # the Pi's own data partition: state, status, the buffer
    data_dir.mkdir()
    config = scenario.trap.with_values(
        storage__card_path=str(card_dir), storage__data_path=str(data_dir)
    )
    clock = VirtualClock(scenario.start_utc, scenario.trap.utc_offset_s)
    bench = Bench(scenario, seed, clock, card_dir, config)
    data_io = SimCardIO(data_dir)
    end_s = days * DAY_S
    counters: Counter[str] = Counter()
    boots = 0
    with (out / "trap.log").open("w") as log_file:
        handler = device_log.configure(clock, log_file)
        bar = _progress(days, progress, clock)
        try:
            gate = bench.gate
            while True:
                if gate.rail == "off":
                    if not clock.run_until(lambda: gate.wake_pending is not None, end_s):
                        break
                    bench.boot_pi()
                elif boots == 0:
                    bench.ledger.set("pi", "idle")
                boots += 1
                hardware = bench.pi_hardware()
                storage = Storage(config, clock, hardware.card, bench.card.io, data_io)
                storage.open()
                trap = Trap(config, clock, hardware, storage)
                trap.start(gate.wake_reason)
                reason = trap.run(deadline_s=end_s)
                counters.update(trap.controller.counters)
                hardware.close()
                if reason == "deadline" or gate.always_on:
                    break
                bench.halt_pi()
            clock.run_until(lambda: False, end_s)
        finally:
            bench.close()
            bench.ledger.close()
            if bar is not None:
                bar.close()
            logging.getLogger("irbis").removeHandler(handler)
    return RunResult(
        scenario, seed, days, bench, card_dir, time.perf_counter() - wall_start, boots, counters
    )


def _progress(days: float, enabled: bool, clock: VirtualClock):  # type: ignore[no-untyped-def]
    """A day-by-day progress bar driven by virtual time (tqdm, stderr)."""
    if not enabled:
        return None
    from tqdm import tqdm

    bar = tqdm(total=int(days), unit="day", desc="simulating", leave=False)
    clock.call_every(DAY_S, lambda: bar.update(1) if bar.n < bar.total else None)
    return bar


def write_outputs(result: RunResult, out: Path, metrics: dict) -> None:
    from sim.report import summary

    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    (out / "summary.txt").write_text(summary(metrics) + "\n")
