"""The `sim` backend: simulated PIR, camera, IR, card, power monitor and supervisor link.

A `Bench` is the box on the ridge: one world, one PIR, one card, the energy ledger and the
power gate, which outlive the Pi's power cycles. `Bench.pi_hardware()` gives the Pi side a fresh
set of devices on every boot (a cold start forgets everything but the card).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from device.clock import Clock
from device.config import TrapConfig
from device.errors import CameraError, CameraTimeout
from device.hal.interfaces import (
    CameraSettings,
    Frame,
    FrameMeta,
    Hardware,
    PowerReading,
    SupervisorLink,
    checked_power_share,
)
from device.hal.pi.link import NoSupervisor
from device.hal.supervisor_link import SupervisorClient
from device.power.battery import Battery, PackSpec
from sim.card import SimCardIO
from sim.card_slot import SimCard
from sim.energy import Ledger
from sim.render import Light, Scene, SceneSpec, encode_jpeg
from sim.scenario import Scenario, SimHardware
from sim.supervisor_sim import PiUart, SimSupervisor
from sim.world import World


class SimPir:
    """The PIR: replays the world's edges on the clock; lives as long as the bench."""

    def __init__(
        self, clock: Clock, edges: list[tuple[float, bool]], on_edge: Callable[[bool], None]
    ) -> None:
        self.clock = clock
        self.edges = edges
        self.on_edge = on_edge  # the supervisor's PIR pin is wired to the same output
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
        self.on_edge(level)
        if level:
            self.rising_edges += 1
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
    """Renders what is in front of the lens at the virtual instant of each exposure.

    The main stream is rendered at the scenario's render size scaled by the settings' main
    resolution over the base config's (the budget's resolution rung halves both sides); the
    lores stream is the settings' lores size."""

    def __init__(self, bench: Bench, settings: CameraSettings) -> None:
        self.bench = bench
        self.clock = bench.clock
        self.hw = bench.scenario.hardware
        self._settings = settings
        self._started = False

    @property
    def is_started(self) -> bool:
        return self._started

    @property
    def settings(self) -> CameraSettings:
        return self._settings

    def reconfigure(self, settings: CameraSettings) -> None:
        if settings == self._settings:
            return
        restart = self._started
        if restart:
            self.stop()
        self._settings = settings
        if restart:
            self.start()

    def _scene(self) -> Scene:
        return self.bench.scene_for(self._settings)

    def start(self) -> None:
        self._scene()  # the sensor's first start at these settings builds the view
        self.bench.ledger.set("camera", "camera")
        self.clock.sleep_s(self.hw.camera_start_s)
        self._started = True

    def stop(self) -> None:
        self.bench.ledger.set("camera", "off")
        self._started = False

    def meter(self) -> FrameMeta:
        self.clock.sleep_s(self.hw.frame_period_s)
        now_s = self.clock.monotonic_s()
        s = self._settings
        return FrameMeta(now_s, s.exposure_us, s.analogue_gain, self.bench.world.lux_at(now_s))

    def capture_frame(self, ir_on: bool) -> Frame:
        if not self._started:
            raise CameraError("capture on a stopped camera")
        s = self._settings
        self.bench.inject_camera_fault(s.timeout_s)
        t_s = self.clock.monotonic_s()
        world = self.bench.world
        passes = world.passes_at(t_s)
        actors = [a for a in (p.actor_at(t_s) for p in passes) if a is not None]
        lux = world.lux_at(t_s)
        rendered = self._scene().render(Light(lux=lux, ir_on=ir_on), actors, self.bench.rng)
        in_frame = [p.id for p in passes if p.in_frame_at(t_s)]
        jpeg = self.bench.encoder.submit(self.bench.encode_and_note, rendered.rgb, t_s, in_frame)
        self.clock.sleep_s(self.hw.frame_period_s)
        meta = FrameMeta(t_s, s.exposure_us, s.analogue_gain, lux, ir_on)
        return Frame(jpeg, rendered.lores, meta)

    def close(self) -> None:
        if self._started:
            self.stop()


class SimIlluminator:
    """The IR LEDs: while on, the ledger books their current at the power share (the duty)."""

    def __init__(self, bench: Bench, power_share: float = 1.0) -> None:
        self.bench = bench
        self._power_share = checked_power_share(power_share)
        self.on_count = 0

    @property
    def is_on(self) -> bool:
        return self.bench.ledger.state("ir") == "ir"

    @property
    def power_share(self) -> float:
        return self._power_share

    @power_share.setter
    def power_share(self, share: float) -> None:
        self._power_share = checked_power_share(share)
        if self.is_on:
            self.bench.ledger.set("ir", "ir", self._power_share)

    def on(self) -> None:
        self.on_count += 1
        self.bench.ledger.set("ir", "ir", self._power_share)

    def off(self) -> None:
        self.bench.ledger.set("ir", "off")

    def close(self) -> None:
        self.off()


class SimPowerMonitor:
    """What the Pi knows of the pack: in gated mode the supervisor's last reading over the link;
    always-on (no supervisor) a monitor chip on the Pi's supply reading the pack directly."""

    def __init__(self, bench: Bench, link: SupervisorLink) -> None:
        self.bench = bench
        self.link = link

    def read(self) -> PowerReading:
        status = self.link.status()
        if status is not None:
            mv, temp = status.get("pack_mv"), status.get("temp_c")
            return PowerReading(None if mv is None else mv / 1000.0, None, temp)
        if self.link.connected:
            return PowerReading(None, None, None)
        ledger = self.bench.ledger
        return PowerReading(ledger.pack_v(), ledger.current_ma(), ledger.temperature_c())


@dataclass(frozen=True)
class EventTruth:
    """What one event's frames showed (noted when triage sees the burst, so also for events
    whose media triage discarded): animal passes in frame, and for an event without one the
    likely cause: a false trigger's kind in view ('wind', 'light', 'snow'), an animal that was
    in front of the PIR but not in frame ('animal_out_of_frame'), or 'nothing_in_view'."""

    source: str
    animals: tuple[int, ...]
    cause: str
    frame_times_s: tuple[float, ...]  # each frame's exposure start


class RailCut(BaseException):
    """The supervisor cut the Pi's rail under running software (watchdog, timeouts): the Pi's
    memory is gone mid-instruction; only what reached the card survives."""


class PiHung(BaseException):
    """A fault: the Pi's loop stops (no more kicks); it still draws current until the rail goes."""


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
        self._scenes: dict[tuple[int, int, int, int], Scene] = {}  # by main and lores size
        self.rng_power = random.Random(seed + 2)
        cfg = self.config
        self.pack = PackSpec.from_name(
            cfg["power.chemistry"], cfg["power.cells_series"], cfg["power.cells_parallel"]
        )
        self.battery = Battery(self.pack, soc=hw.pack_soc_start)
        self.ledger = Ledger(clock, self.battery, self.enclosure_c)
        self.gated = cfg.mode == "gated"
        self.rail_on = not self.gated  # always-on: the Pi is simply powered
        self.pi_running = False  # the Pi's software is up (booting or running the trap)
        self.trap_running = False
        self.hang_pending = False
        self.rail_cuts_under_pi = 0
        self.hangs = 0
        self.supervisor: SimSupervisor | None = None
        if self.gated:
            self.supervisor = SimSupervisor(
                clock,
                scenario.start_utc,
                self.pack_v,
                self.enclosure_c,
                self._on_rail,
                self.rng_power,
                scenario.faults.link_garble_share,
            )
        self.pir = SimPir(clock, self.world.pir_edges, self._on_pir_edge)
        self.card = SimCard(
            card_dir.parent,
            card_dir,
            hw.card_capacity_bytes,
            f"sim-card-seed{seed}",
            clock,  # type: ignore[arg-type]  # faults that need time need the virtual clock
            scenario.faults,
            seed,
        )
        self._data_io: SimCardIO | None = None
        self.truth_by_sha256: dict[str, tuple[float, list[int]]] = {}
        self.truth_by_seq: dict[int, EventTruth] = {}  # a number reused after a cut: the last
        # One encoder thread: results are the same bytes whatever the timing (deterministic).
        self.encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sim-jpeg")
        self.faults_injected: dict[str, int] = {}
        self._camera_faults = sorted(
            [(d * 86400.0, "error") for d in scenario.faults.camera_error_at_days]
            + [(d * 86400.0, "hang") for d in scenario.faults.camera_hang_at_days]
        )
        for day in scenario.faults.pi_hang_at_days:
            clock.call_later(day * 86400.0, self._hang_due)

    def pack_v(self) -> float:
        """The pack's terminal voltage now, less any injected sag."""
        now_s = self.clock.monotonic_s()
        sag_v = sum(
            volts
            for day, volts, seconds in self.scenario.faults.pack_sag
            if day * 86400.0 <= now_s < day * 86400.0 + seconds
        )
        return self.ledger.pack_v() - sag_v

    def enclosure_c(self) -> float:
        air_c = self.world.temperature_c(self.clock.monotonic_s())
        return air_c + self.scenario.hardware.enclosure_above_air_c

    # -- the rail and the Pi's power states --------------------------------------------------------
    def start(self) -> None:
        """The batteries go in."""
        self.ledger.set("supervisor", "standby")
        if self.supervisor is not None:
            self.supervisor.power_up()
        else:
            self.ledger.set("supervisor", "supervisor")

    def _on_pir_edge(self, level: bool) -> None:
        if self.supervisor is not None:
            self.supervisor.pir(level)

    def _on_rail(self, on: bool) -> None:
        self.rail_on = on
        ledger = self.ledger
        if on:
            ledger.set("supervisor", "supervisor")
            return
        for component, state in (("ir", "off"), ("camera", "off"), ("pi", "off")):
            ledger.set(component, state)
        ledger.set("supervisor", "standby")
        if self.pi_running:  # under running software: it stops mid-instruction
            self.rail_cuts_under_pi += 1
            self.clock.call_later(0.0, self._raise_cut)

    def _raise_cut(self) -> None:
        if self.pi_running:
            self.pi_running = False
            raise RailCut()

    def _hang_due(self) -> None:
        self.hang_pending = True
        if self.trap_running:
            self.clock.call_later(0.0, self.raise_hang)

    def raise_hang(self) -> None:
        if self.hang_pending and self.trap_running:
            self.hang_pending = False
            self.hangs += 1
            self.faults_injected["pi_hang"] = self.faults_injected.get("pi_hang", 0) + 1
            raise PiHung()

    def boot_pi(self) -> None:
        """The rail is on: the boot's time and current, then the Pi's software is up."""
        self.pi_running = True
        self.ledger.set("pi", "boot")
        self.clock.sleep_s(self.scenario.hardware.boot_s)
        self.ledger.set("pi", "idle")

    def halt_pi(self) -> None:
        """The trap has asked to go down: sync and halt, then the halt line; in gated mode the
        supervisor cuts the rail on it."""
        self.ledger.set("pi", "shutdown")
        self.clock.sleep_s(self.scenario.hardware.shutdown_s)
        self.pi_running = False
        self.ledger.set("pi", "halted" if self.rail_on else "off")
        if self.supervisor is not None:
            self.supervisor.halt_line(True)
            self.supervisor.halt_line(False)  # the line falls with the rail

    def pi_hardware(self) -> Hardware:
        """The Pi side's devices for one boot (in gated mode: after the supervisor's hello)."""
        link: SupervisorLink
        if self.supervisor is not None:
            uart = PiUart(self.supervisor, dead=self.scenario.faults.supervisor_silent)
            client = SupervisorClient(uart, self.clock, self.config)
            client.open()
            link = client
        else:
            link = NoSupervisor()
        return Hardware(
            backend="sim",
            motion=self.pir,
            camera=SimCamera(self, CameraSettings.from_config(self.config)),
            illuminator=SimIlluminator(self, self.config["capture.ir_power"]),
            card=self.card,
            power=SimPowerMonitor(self, link),
            link=link,
            card_io=self.card.io,
            data_io=self.data_io,
        )

    @property
    def data_io(self) -> SimCardIO:
        """The Pi's own data partition (storage.data_path: state, status, power, the buffer),
        with the card's durability model; the folder must exist when the Pi first uses it."""
        if self._data_io is None:
            self._data_io = SimCardIO(Path(self.config["storage.data_path"]))
        return self._data_io

    def render_size(self, settings: CameraSettings) -> tuple[int, int]:
        """The main stream a camera with these settings renders: the scenario's render size
        (which stands in for the base config's main resolution) scaled by the settings' main
        resolution over the base's; never smaller than the lores stream, as on a real camera."""
        base_w, base_h = self.config["capture.main_width"], self.config["capture.main_height"]
        (main_w, main_h), (lores_w, lores_h) = settings.main_size, settings.lores_size
        width = max(lores_w, round(self.scene_spec.width * main_w / base_w))
        height = max(lores_h, round(self.scene_spec.height * main_h / base_h))
        return width, height

    def scene_for(self, settings: CameraSettings) -> Scene:
        """The view in front of the lens at these settings' sizes, painted from the run's seed
        when a camera first starts with them (as the Pi backend opens the camera on its first
        start, not while arming), then kept for the run."""
        width, height = self.render_size(settings)
        lores_w, lores_h = settings.lores_size
        key = (width, height, lores_w, lores_h)
        scene = self._scenes.get(key)
        if scene is None:
            spec = replace(
                self.scene_spec,
                width=width,
                height=height,
                lores_width=lores_w,
                lores_height=lores_h,
            )
            scene = self._scenes[key] = Scene(spec)
        return scene

    def encode_and_note(self, rgb: np.ndarray, t_s: float, animals_in_frame: list[int]) -> bytes:
        """The main stream's JPEG (on the encoder thread, as an ISP's encoder runs beside the
        capture loop), noting which animal passes it shows under its hash (the ground truth)."""
        jpeg = encode_jpeg(rgb, self.scene_spec.jpeg_quality)
        self.truth_by_sha256[hashlib.sha256(jpeg).hexdigest()] = (t_s, animals_in_frame)
        return jpeg

    def note_event(self, event_seq: int, source: str, frame_times_s: list[float]) -> EventTruth:
        """Note what a burst's frames (their exposure starts) showed, under the event's number."""
        animals: set[int] = set()
        false_kinds: set[str] = set()
        animal_nearby = False
        for t_s in frame_times_s:
            for p in self.world.passes_at(t_s):
                if p.in_frame_at(t_s):
                    animals.add(p.id)
                elif p.kind == "animal":
                    animal_nearby = True
                else:
                    false_kinds.add(p.kind)
        if animals:
            cause = "animal"
        elif false_kinds:
            cause = "+".join(sorted(false_kinds))
        else:
            cause = "animal_out_of_frame" if animal_nearby else "nothing_in_view"
        truth = EventTruth(source, tuple(sorted(animals)), cause, tuple(frame_times_s))
        self.truth_by_seq[event_seq] = truth
        return truth

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
    if bench.supervisor is not None:
        # Gated: the simulated box was woken by its PIR (the edge falls during the boot), so the
        # Pi starts with an event to capture, as after a field wake.
        bench.start()
        bench.supervisor.pir(True)
        bench.supervisor.pir(False)
    hardware = bench.pi_hardware()
    hardware.extras["bench"] = bench
    return hardware


__all__ = [
    "Bench",
    "EventTruth",
    "PiHung",
    "RailCut",
    "SimCamera",
    "SimIlluminator",
    "SimPir",
    "SimPowerMonitor",
    "open_hardware",
]
