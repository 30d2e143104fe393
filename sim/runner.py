"""Runs a deployment: the real trap code on the simulated bench, on virtual time.

In gated mode the real supervisor code (sim/supervisor_sim.py) switches the Pi's rail; every wake
is a cold start: a new Trap (controller, queue, camera, link) is built from nothing but the card
and the data partition, as on a Pi whose rail was cut. A rail cut under running software (the
watchdog, a timeout) loses the Pi's memory and whatever the card had not made durable.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from device import log as device_log
from device.boot import BurstObserver, boot_trap
from device.capture import Burst
from device.config import TrapConfig
from device.hal.interfaces import Hardware
from device.hal.supervisor_link import SupervisorClient
from device.trap import Trap
from sim.card import SimCardIO
from sim.clock import VirtualClock
from sim.hardware import Bench, PiHung, RailCut
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


def check_out_dir(out: Path) -> None:
    """Refuse an --out that is a file or a folder with anything in it (nothing is touched)."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise FileExistsError(f"{out} exists and is not a folder; choose a new --out folder")
    if out.is_dir() and any(out.iterdir()):
        what = "already holds a run" if (out / "card").exists() else "is not empty"
        raise FileExistsError(f"{out} {what}; choose a new or empty --out folder")


def prepare_out_dir(out: Path) -> Path:
    """The run folder's card/; refuses to mix a new run into anything old."""
    check_out_dir(out)
    card = out / "card"
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
    data_io = bench.data_io
    end_s = days * DAY_S
    counters: Counter[str] = Counter()
    boots = 0
    with (out / "trap.log").open("w") as log_file:
        handler = device_log.configure(clock, log_file)
        bar = _progress(days, progress, clock)
        try:
            bench.start()
            while True:
                if not bench.rail_on and not clock.run_until(lambda: bench.rail_on, end_s):
                    break
                boots += 1
                if _one_boot(bench, config, data_io, end_s, counters) == "deadline":
                    break
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


def _one_boot(
    bench: Bench, config: TrapConfig, data_io: SimCardIO, end_s: float, counters: Counter[str]
) -> str:
    """One power cycle of the Pi, from the rail going on to the halt (or to the rail going off
    under it). Returns the trap's stop reason, "deadline" at the end of the run, or "cut"."""
    clock = bench.clock
    trap: Trap | None = None
    hardware = None
    try:
        if bench.gated:
            bench.boot_pi()
        else:
            bench.pi_running = True
            bench.ledger.set("pi", "idle")
        hardware = bench.pi_hardware()
        # the trap's own start path (device/boot.py), with the bench noting each burst's truth
        trap = boot_trap(config, clock, hardware, observe_burst=_truth_noter(bench)).trap
        trap.start()
        bench.trap_running = True
        if bench.hang_pending:
            clock.call_later(0.0, bench.raise_hang)
        try:
            reason = trap.run(deadline_s=end_s)
        finally:
            bench.trap_running = False
            counters.update(trap.controller.counters)
        hardware.close()
        if reason == "deadline" or not bench.gated:
            return "deadline"
        bench.halt_pi()
        return reason
    except PiHung:
        # The loop stopped: no more kicks, the Pi idles on until the supervisor's watchdog
        # cuts the rail (the cut arrives as RailCut while we wait here).
        if trap is not None:
            trap.cancel_timers()
        with contextlib.suppress(RailCut):  # the watchdog's cut, while we wait for it
            clock.run_until(lambda: not bench.rail_on, end_s)
        _power_lost(bench, data_io, trap, hardware)
        return "cut"
    except RailCut:
        _power_lost(bench, data_io, trap, hardware)
        return "cut"


def _truth_noter(bench: Bench) -> BurstObserver:
    """Notes what each burst showed under the event's number before triage judges it: a
    discarded event leaves no media on the card to match the truth by."""

    def note(burst: Burst, source: str, event_seq: int) -> None:
        bench.note_event(event_seq, source, [f.meta.monotonic_s for f in burst.frames])

    return note


def _power_lost(
    bench: Bench, data_io: SimCardIO, trap: Trap | None, hardware: Hardware | None
) -> None:
    """The Pi lost power under running software: its timers and devices are gone, and the card
    and the data partition keep only what was durable."""
    bench.pi_running = False
    if trap is not None:
        trap.cancel_timers()
    if hardware is not None:
        hardware.motion.close()
        if isinstance(hardware.link, SupervisorClient):
            hardware.link.close()
    for io in (bench.card.io, data_io):
        if io.present and io.powered:
            io.power_cut(bench.rng_power)
        io.reset_after_cut()


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
