"""Behavioural fakes for trap tests on virtual time (the sim's renderer is not needed here)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from device.clock import Clock
from device.config import TrapConfig, validate
from device.errors import CameraError, CameraTimeout
from device.hal.cardio import OS_IO
from device.hal.interfaces import Frame, FrameMeta, Hardware, PowerReading
from device.storage.journal import scan
from device.storage.manager import Storage
from device.trap import Trap
from sim.clock import VirtualClock

START = datetime.fromisoformat("2026-12-01T00:00:00+07:00")


class FakePir:
    """A PIR whose line the test drives: `pulse(at_s, high_s)` schedules a rise and a fall."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.level = False
        self._cb: tuple[Callable[[], None], Callable[[], None]] | None = None

    @property
    def is_active(self) -> bool:
        return self.level

    def set_callbacks(
        self, on_motion: Callable[[], None], on_no_motion: Callable[[], None]
    ) -> None:
        self._cb = (on_motion, on_no_motion)
        if self.level:
            on_motion()

    def drive(self, level: bool) -> None:
        if level == self.level:
            return
        self.level = level
        if self._cb:
            self._cb[0 if level else 1]()

    def pulse(self, at_s: float, high_s: float = 1.0) -> None:
        self.clock.call_later(at_s - self.clock.monotonic_s(), lambda: self.drive(True))
        self.clock.call_later(at_s + high_s - self.clock.monotonic_s(), lambda: self.drive(False))

    def close(self) -> None:
        self._cb = None


@dataclass
class FakeCamera:
    """Takes `start_s` to start and `frame_s` per frame; can be told to raise or hang."""

    clock: Clock
    start_s: float = 0.5
    frame_s: float = 0.05
    lux: float = 1000.0
    timeout_s: float = 3.0
    fail_next: int = 0
    hang_next: int = 0
    started: bool = False
    capture_calls: list[float] = field(default_factory=list)
    starts: int = 0

    @property
    def is_started(self) -> bool:
        return self.started

    def start(self) -> None:
        self.starts += 1
        self.clock.sleep_s(self.start_s)
        self.started = True

    def stop(self) -> None:
        self.started = False

    def meter(self) -> FrameMeta:
        return FrameMeta(self.clock.monotonic_s(), 20000, 2.0, self.lux)

    def capture_frame(self, ir_on: bool) -> Frame:
        t = self.clock.monotonic_s()
        self.capture_calls.append(t)
        if self.hang_next:
            self.hang_next -= 1
            self.clock.sleep_s(self.timeout_s)
            raise CameraTimeout(f"no frame within {self.timeout_s} s")
        if self.fail_next:
            self.fail_next -= 1
            raise CameraError("sensor fault")
        self.clock.sleep_s(self.frame_s)
        n = len(self.capture_calls)
        jpeg = b"\xff\xd8" + n.to_bytes(4, "big") + b"\xff\xd9"
        return Frame(jpeg, np.zeros((24, 32), np.uint8), FrameMeta(t, 20000, 2.0, self.lux, ir_on))

    def close(self) -> None:
        self.started = False


class FakeIR:
    def __init__(self) -> None:
        self.is_on = False
        self.switches: list[bool] = []

    def on(self) -> None:
        self.is_on = True
        self.switches.append(True)

    def off(self) -> None:
        self.is_on = False
        self.switches.append(False)

    def close(self) -> None:
        self.is_on = False


class FakeCard:
    def __init__(self, path: Path) -> None:
        self.mount_path = path

    def present(self) -> bool:
        return True

    def identity(self) -> str:
        return "fake:1"

    def block_device(self) -> None:
        return None

    def free_bytes(self) -> int:
        return 10**9

    def capacity_bytes(self) -> int:
        return 10**9


class FakePower:
    def read(self) -> PowerReading:
        return PowerReading(9.0, 0.03, -20.0)


class FakeLink:
    def __init__(self, reason: str = "boot", wake_time: datetime | None = None) -> None:
        self.reason = reason
        self.wake_time = wake_time
        self.boot_pir: datetime | None = None
        self.shutdowns: list[tuple[datetime | None, str]] = []
        self.hold_offs: list[float] = []
        self.kicks = 0
        self.connected = True
        self.shutdown_callback: Callable[[str], None] | None = None

    def wake_reason(self) -> str:
        return self.reason

    def wake_time_utc(self) -> datetime | None:
        return self.wake_time

    def boot_pir_utc(self) -> datetime | None:
        return self.boot_pir

    def status(self) -> dict | None:
        return None

    def request_shutdown(
        self, wake_at_utc: datetime | None, reason: str, hold_off_s: float = 0.0
    ) -> None:
        self.shutdowns.append((wake_at_utc, reason))
        self.hold_offs.append(hold_off_s)

    def kick_watchdog(self) -> None:
        self.kicks += 1

    def on_shutdown(self, callback: Callable[[str], None]) -> None:
        self.shutdown_callback = callback


@dataclass
class Rig:
    clock: VirtualClock
    config: TrapConfig
    pir: FakePir
    camera: FakeCamera
    ir: FakeIR
    link: FakeLink
    trap: Trap
    card: Path

    def records(self) -> list[dict]:
        """The event records on the card."""
        journal = self.card / "irbis" / "test" / "journal.jsonl"
        return [r for r in scan(journal).records if r["kind"] == "event"]


def make_rig(
    tmp_path: Path,
    start: datetime = START,
    link: FakeLink | None = None,
    clock: Clock | None = None,
    **config: object,
) -> Rig:
    """A trap on fake hardware, on virtual time unless a clock is given; `config` is a nested
    trap.toml as a dict."""
    raw = {
        "backend": "sim",
        "mode": "always-on",
        "deployment_id": "test",
        "site": {"utc_offset": "+07:00"},
        **config,
    }
    raw["storage"] = {
        "card_path": str(tmp_path / "card"),
        "data_path": str(tmp_path / "data"),
        **raw.get("storage", {}),  # type: ignore[dict-item]
    }
    cfg = validate(raw)
    clock = clock or VirtualClock(start, cfg.utc_offset_s)
    pir, camera, ir = FakePir(clock), FakeCamera(clock), FakeIR()
    link = link or FakeLink()
    card = tmp_path / "card"
    card.mkdir(exist_ok=True)
    hw = Hardware("fake", pir, camera, ir, FakeCard(card), FakePower(), link, OS_IO, OS_IO)
    storage = Storage(cfg, clock, hw.card, hw.card_io, hw.data_io)
    storage.open()
    trap = Trap(cfg, clock, hw, storage)
    return Rig(clock, cfg, pir, camera, ir, link, trap, card)


ROOT = Path(__file__).resolve().parent.parent


def start_until_armed(config_path: Path, tmp_path: Path) -> tuple[int, str]:
    """`python -m device --config X` on the sim backend: wait until it is armed, SIGTERM it;
    returns its exit code and its stderr (the JSON log)."""
    log_path = tmp_path / "stderr.log"
    env = {**os.environ, "IRBIS_BACKEND": "sim"}
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "device", "--config", str(config_path)],
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            cwd=ROOT,
            env=env,
        )
        try:
            deadline = time.monotonic() + 60
            while '"to": "armed"' not in log_path.read_text() and proc.poll() is None:
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    return code, log_path.read_text()
