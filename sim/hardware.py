"""The `sim` backend: simulated PIR, camera, IR, card, power monitor and supervisor link.

A `Bench` is the box on the ridge: one world, one PIR, one card, the energy ledger and the
power gate, which outlive the Pi's power cycles. `Bench.pi_hardware()` gives the Pi side a fresh
set of devices on every boot (a cold start forgets everything but the card).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np

from device.clock import Clock
from device.config import TrapConfig
from device.errors import CameraError, CameraTimeout
from device.hal.interfaces import Frame, FrameMeta, Hardware, PowerReading
from sim.card_slot import SimCard
from sim.energy import Ledger
from sim.power_gate import PowerGate
from sim.render import Light, Scene, SceneSpec, encode_jpeg
from sim.scenario import Scenario, SimHardware
from sim.world import World


class SimPir:
    """The PIR: replays the world's edges on the clock; lives as long as the bench."""

    def __init__(self, clock: Clock, edges: list[tuple[float, bool]], gate: PowerGate) -> None:
        self.clock = clock
        self.edges = edges
        self.gate = gate
        self.level = False
        self.rising_edges = 0
        self._next = 0
        self._on_motion: Callable[[], None] | None = None
        self._on_no_motion: Callable[[], None] | None = None
        self._schedule_next()

    def _schedule_next(self) -> None:
        if self._next < len(self.edges):
            at_s, _ = self.edges[self._next]
            self.clock.call_later(at_s - self.clock.monotonic_s(), self._fire)

    def _fire(self) -> None:
        _, level = self.edges[self._next]
        self._next += 1
        self.level = level
        if level:
            self.rising_edges += 1
            self.gate.on_pir_rising()
            if self._on_motion:
                self._on_motion()
        elif self._on_no_motion:
            self._on_no_motion()
        self._schedule_next()

    # MotionSensor protocol (the Pi side's view)
    @property
    def is_active(self) -> bool:
        return self.level

    def set_callbacks(
        self, on_motion: Callable[[], None], on_no_motion: Callable[[], None]
    ) -> None:
        self._on_motion, self._on_no_motion = on_motion, on_no_motion
        if self.level:
            on_motion()

    def close(self) -> None:
        self._on_motion = self._on_no_motion = None


class SimCamera:
    """Renders what is in front of the lens at the virtual instant of each exposure."""

    def __init__(self, bench: Bench, config: TrapConfig) -> None:
        self.bench = bench
        self.clock = bench.clock
        self.hw = bench.scenario.hardware
        self.exposure_us = config["capture.exposure_us"]
        self.gain = config["capture.analogue_gain"]
        self.timeout_s = config["capture.camera_timeout_s"]
        self._started = False

    @property
    def is_started(self) -> bool:
        return self._started

    def start(self) -> None:
        self.bench.scene  # noqa: B018 - the sensor's first start builds the view
        self.bench.ledger.set("camera", "camera")
        self.clock.sleep_s(self.hw.camera_start_s)
        self._started = True

    def stop(self) -> None:
        self.bench.ledger.set("camera", "off")
        self._started = False

    def meter(self) -> FrameMeta:
        self.clock.sleep_s(self.hw.frame_period_s)
        now_s = self.clock.monotonic_s()
        return FrameMeta(now_s, self.exposure_us, self.gain, self.bench.world.lux_at(now_s))

    def capture_frame(self, ir_on: bool) -> Frame:
        if not self._started:
            raise CameraError("capture on a stopped camera")
        self.bench.inject_camera_fault(self.timeout_s)
        t_s = self.clock.monotonic_s()
        world = self.bench.world
        passes = world.passes_at(t_s)
        actors = [a for a in (p.actor_at(t_s) for p in passes) if a is not None]
        lux = world.lux_at(t_s)
        rendered = self.bench.scene.render(Light(lux=lux, ir_on=ir_on), actors, self.bench.rng)
        in_frame = [p.id for p in passes if p.in_frame_at(t_s)]
        jpeg = self.bench.encoder.submit(self.bench.encode_and_note, rendered.rgb, t_s, in_frame)
        self.clock.sleep_s(self.hw.frame_period_s)
        return Frame(jpeg, rendered.lores, FrameMeta(t_s, self.exposure_us, self.gain, lux, ir_on))

    def close(self) -> None:
        if self._started:
            self.stop()


class SimIlluminator:
    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.on_count = 0

    @property
    def is_on(self) -> bool:
        return self.bench.ledger.state("ir") == "ir"

    def on(self) -> None:
        self.on_count += 1
        self.bench.ledger.set("ir", "ir")

    def off(self) -> None:
        self.bench.ledger.set("ir", "off")

    def close(self) -> None:
        self.off()


class SimPowerMonitor:
    """Temperature from the world; current from the ledger; the pack at its nominal voltage
    (the battery model with sag and cold arrives with the power issue)."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench

    def read(self) -> PowerReading:
        ledger = self.bench.ledger
        return PowerReading(
            ledger.pack_v,
            ledger.current_ma(),
            self.bench.world.temperature_c(self.bench.clock.monotonic_s()),
        )


class SimLink:
    """The Pi's end of the supervisor link, talking to the bench's power gate."""

    def __init__(self, gate: PowerGate) -> None:
        self.gate = gate

    @property
    def connected(self) -> bool:
        return True

    def wake_reason(self) -> str:
        return self.gate.wake_reason

    def wake_time_utc(self) -> datetime | None:
        return self.gate.wake_time_utc

    def request_shutdown(self, wake_at_utc: datetime | None, reason: str) -> None:
        self.gate.request_shutdown(wake_at_utc, reason)

    def kick_watchdog(self) -> None:
        self.gate.watchdog_kicks += 1


class Bench:
    """The whole simulated trap box: what persists across the Pi's power cycles."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        clock: Clock,
        card_dir: Path,
        config: TrapConfig | None = None,
    ) -> None:
        self.scenario = scenario
        self.config = config or scenario.trap
        self.clock = clock
        self.world = World(scenario, seed)
        self.rng = np.random.default_rng(seed + 1)
        hw: SimHardware = scenario.hardware
        self.scene_spec = SceneSpec(
            width=hw.render_width,
            height=hw.render_height,
            lores_width=self.config["capture.lores_width"],
            lores_height=self.config["capture.lores_height"],
            seed=seed,
            jpeg_quality=hw.jpeg_quality,
        )
        self._scene: Scene | None = None
        self.ledger = Ledger(clock)
        self.ledger.set("supervisor", "standby")
        self.gate = PowerGate(clock, always_on=self.config.mode == "always-on")
        self.pir = SimPir(clock, self.world.pir_edges, self.gate)
        self.card = SimCard(
            card_dir.parent,
            card_dir,
            hw.card_capacity_bytes,
            f"sim-card-seed{seed}",
            clock,  # type: ignore[arg-type]  # faults that need time need the virtual clock
            scenario.faults,
            seed,
        )
        self.truth_by_sha256: dict[str, tuple[float, list[int]]] = {}
        # One encoder thread: results are the same bytes whatever the timing (deterministic).
        self.encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sim-jpeg")
        self.faults_injected: dict[str, int] = {}
        self._camera_faults = sorted(
            [(d * 86400.0, "error") for d in scenario.faults.camera_error_at_days]
            + [(d * 86400.0, "hang") for d in scenario.faults.camera_hang_at_days]
        )

    def boot_pi(self) -> None:
        """Rail on for the pending wake: the boot's time and current, then the Pi is up."""
        self.gate.begin_boot()
        self._power_step("boot", self.scenario.hardware.boot_s, "idle")
        self.gate.booted()

    def halt_pi(self) -> None:
        """The Pi has asked to go down: sync and halt, then the rail is cut."""
        self.gate.begin_halt()
        self._power_step("shutdown", self.scenario.hardware.shutdown_s, "off")
        self.gate.rail_off()

    def _power_step(self, state: str, duration_s: float, then: str) -> None:
        self.ledger.set("pi", state)
        self.clock.sleep_s(duration_s)
        self.ledger.set("pi", then)

    def pi_hardware(self) -> Hardware:
        """The Pi side's devices for one boot."""
        return Hardware(
            backend="sim",
            motion=self.pir,
            camera=SimCamera(self, self.config),
            illuminator=SimIlluminator(self),
            card=self.card,
            power=SimPowerMonitor(self),
            link=SimLink(self.gate),
        )

    @property
    def scene(self) -> Scene:
        """The view in front of the lens, built when the camera first starts (as the Pi
        backend opens the camera on its first start, not while arming)."""
        if self._scene is None:
            self._scene = Scene(self.scene_spec)
        return self._scene

    def encode_and_note(self, rgb: np.ndarray, t_s: float, animals_in_frame: list[int]) -> bytes:
        """The main stream's JPEG (on the encoder thread, as an ISP's encoder runs beside the
        capture loop), noting which animal passes it shows under its hash (the ground truth)."""
        jpeg = encode_jpeg(rgb, self.scene_spec.jpeg_quality)
        self.truth_by_sha256[hashlib.sha256(jpeg).hexdigest()] = (t_s, animals_in_frame)
        return jpeg

    def close(self) -> None:
        self.encoder.shutdown(wait=True)

    def inject_camera_fault(self, timeout_s: float) -> None:
        """Raise the next scheduled camera fault once its time has come."""
        if not self._camera_faults or self.clock.monotonic_s() < self._camera_faults[0][0]:
            return
        _, kind = self._camera_faults.pop(0)
        self.faults_injected["camera_" + kind] = self.faults_injected.get("camera_" + kind, 0) + 1
        if kind == "hang":
            self.clock.sleep_s(timeout_s)
            raise CameraTimeout(f"no frame within {timeout_s} s (simulated hang)")
        raise CameraError("simulated sensor fault (the camera raised)")


def open_hardware(config: TrapConfig, clock: Clock) -> Hardware:
    """Entry point for `backend = "sim"` outside a scenario run (`irbis run` on real time):
    a quiet world (no scheduled passes) in front of a rendered scene, the card at the config's
    storage.card_path."""
    from sim.scenario import Faults, Triggers
    from sim.scenario import load as load_scenario

    quiet = replace(
        load_scenario("altai-winter-90d"),
        trap=config,
        faults=Faults(),
        start_utc=clock.now_utc(),
        triggers=Triggers(
            animal_passes_per_day=0.0,
            false_triggers_per_day=0.0,
            busy_day_share=0.0,
            snow_leopard_passes_per_100_days=0.0,
        ),
    )
    bench = Bench(
        quiet, seed=0, clock=clock, card_dir=Path(config["storage.card_path"]), config=config
    )
    hardware = bench.pi_hardware()
    hardware.extras["bench"] = bench
    hardware.extras["card_io"] = bench.card.io  # the simulated card's durability model
    return hardware


__all__ = [
    "Bench",
    "SimCamera",
    "SimIlluminator",
    "SimLink",
    "SimPir",
    "SimPowerMonitor",
    "open_hardware",
]
