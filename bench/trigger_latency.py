"""Software time from a PIR event to the camera's capture call: real clock, simulated hardware.

The trap's loop runs on a RealClock in a thread; this thread plays the gpiozero callback thread
and fires the PIR callback, timing until the loop calls `capture_frame`. The simulated camera is
already streaming and takes no virtual time, so what is measured is the software path alone:
callback -> queue -> loop wake -> controller -> capture policy -> camera call. Its CPU time is
the whole process's (every thread) between the callback and the capture call. One run of 300
triggers: a distribution, so `--runs` does not change it.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from bench import stats
from device.boot import boot_trap
from device.clock import RealClock
from device.config import validate
from device.events import StopRequested
from sim import scenario as scenario_mod
from sim.hardware import Bench

TRIGGERS = 300


def main() -> None:
    triggers = TRIGGERS
    with tempfile.TemporaryDirectory() as tmp:
        card = Path(tmp) / "card"
        card.mkdir()
        config = validate(
            {
                "backend": "sim",
                "mode": "always-on",
                "deployment_id": "bench",
                "capture": {"burst_frames": 1, "hold_off_s": 0, "ir": "off"},
                "triage": {"enabled": False},  # judged after the capture: not what is timed
                "storage": {"card_path": str(card), "data_path": tmp},
            }
        )
        base = scenario_mod.load("altai-winter-90d")
        scenario = replace(
            base,
            trap=config,
            hardware=replace(base.hardware, camera_start_s=0.0, frame_period_s=0.0),
        )
        clock = RealClock()
        bench = Bench(scenario, 0, clock, card, config)
        hw = bench.pi_hardware()
        hw.camera.start()
        trap = boot_trap(config, clock, hw).trap  # the one start path, as on the Pi

        captured = threading.Event()
        stamp: list[tuple[float, float]] = []
        real_capture = hw.camera.capture_frame

        def timed_capture(ir_on: bool):  # type: ignore[no-untyped-def]
            stamp.append((time.perf_counter(), time.process_time()))
            captured.set()
            return real_capture(ir_on)

        hw.camera.capture_frame = timed_capture  # type: ignore[method-assign]
        hw.camera.stop = lambda: None  # type: ignore[method-assign]  # stay streaming
        trap.start("boot")
        loop = threading.Thread(target=trap.run, daemon=True)
        loop.start()
        on_motion = hw.motion._on_motion  # the callback the trap registered
        latencies = stats.Timings()
        for _ in range(triggers):
            while trap.controller.state != "armed":
                time.sleep(0.0005)
            time.sleep(0.002)  # let the loop settle into its wait, as between real triggers
            captured.clear()
            stamp.clear()
            wall0, cpu0 = time.perf_counter(), time.process_time()
            on_motion()
            hw.motion._on_no_motion()
            if not captured.wait(5):
                raise RuntimeError("no capture call within 5 s")
            latencies.add(stamp[0][0] - wall0, stamp[0][1] - cpu0)
        trap.post(StopRequested("bench"))
        loop.join(5)
    print(f"  PIR callback -> camera capture call, {triggers} triggers in one run:")
    print(f"    {latencies.line('ms', tails=True)}")


if __name__ == "__main__":
    stats.suite(main)
