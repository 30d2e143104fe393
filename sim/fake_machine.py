"""A fake MicroPython `machine` (and `time`) for the supervisor's board code, on virtual time.

Behaviour, not call lists: a pin holds its level and fires its IRQ handler on the edge it was
armed for; an ADC returns what its source reads (the battery model through the divider); the UART
has a receive buffer and hands what is written to the other end of its wire; the RTC is the
virtual clock plus whatever the supervisor set it to.
"""

from __future__ import annotations

import calendar
import importlib.util
import sys
import time as host_time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from device.clock import Clock

BOARD_SOURCE = Path(__file__).resolve().parent.parent / "device" / "supervisor" / "board.py"


class FakePin:
    IN, OUT = 0, 1
    PULL_UP, PULL_DOWN = 1, 2
    IRQ_FALLING, IRQ_RISING = 4, 8

    def __init__(self, machine: FakeMachine, pin_id: int, mode: int = -1, pull: int = -1,
                 value: int | None = None) -> None:  # fmt: skip
        self.id = pin_id
        self.mode = mode
        self.pull = pull
        self._level = 1 if pull == self.PULL_UP else 0
        if value is not None:
            self._level = 1 if value else 0
        self._handler: Callable[[FakePin], None] | None = None
        self._trigger = 0
        self._watchers = machine.watchers.get(pin_id, [])
        machine.pins[pin_id] = self

    def value(self, level: int | None = None) -> int | None:
        if level is None:
            return self._level
        self.drive(level)
        return None

    def irq(self, trigger: int = 0, handler: Callable[[FakePin], None] | None = None) -> None:
        self._trigger, self._handler = trigger, handler

    def drive(self, level: int | bool) -> None:
        """Set the line's level (from outside for inputs, by the code for outputs)."""
        new = 1 if level else 0
        old, self._level = self._level, new
        if new == old:
            return
        edge = self.IRQ_RISING if new else self.IRQ_FALLING
        if self._handler is not None and self._trigger & edge:
            self._handler(self)
        for watcher in self._watchers:
            watcher(new)


class FakeADC:
    def __init__(self, machine: FakeMachine, channel: int | FakePin) -> None:
        self.channel = channel.id if isinstance(channel, FakePin) else channel
        self.machine = machine

    def read_u16(self) -> int:
        volts = self.machine.adc_sources[self.channel]()
        return max(0, min(65535, round(volts / 3.3 * 65535)))


class FakeUART:
    """One end of a wire: `write` hands bytes to `machine.uart_out`; `feed` fills the buffer."""

    def __init__(self, machine: FakeMachine, uart_id: int, baudrate: int = 115200,
                 **_pins: Any) -> None:  # fmt: skip
        self.machine = machine
        self.baudrate = baudrate
        self.buffer = bytearray()
        machine.uarts[uart_id] = self

    def any(self) -> int:
        return len(self.buffer)

    def read(self, nbytes: int | None = None) -> bytes | None:
        if not self.buffer:
            return None
        n = len(self.buffer) if nbytes is None else min(nbytes, len(self.buffer))
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    def write(self, data: bytes) -> int:
        self.machine.uart_out(bytes(data))
        return len(data)

    def feed(self, data: bytes) -> None:
        self.buffer.extend(data)


class FakeRTC:
    def __init__(self, machine: FakeMachine) -> None:
        self.machine = machine

    def datetime(self, value: tuple[int, ...] | None = None) -> tuple[int, ...] | None:
        if value is None:
            t = host_time.gmtime(self.machine.epoch_ms() // 1000)
            return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)
        year, month, day, _wd, hour, minute, second, _sub = value
        utc_s = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
        self.machine.rtc_offset_ms += utc_s * 1000 - self.machine.epoch_ms()
        return None


class FakeMachine:
    """The `machine` module the board code imports, bound to one simulated board."""

    def __init__(self, clock: Clock, rtc_start_ms: int) -> None:
        self.clock = clock
        self.rtc_start_ms = rtc_start_ms  # what the RTC reads at virtual time 0
        self.rtc_offset_ms = 0  # what setting the RTC changed
        self.pins: dict[int, FakePin] = {}
        self.watchers: dict[int, list[Callable[[int], None]]] = {}
        self.uarts: dict[int, FakeUART] = {}
        self.adc_sources: dict[int, Callable[[], float]] = {}
        self.uart_out: Callable[[bytes], None] = lambda _data: None
        self.blink_ms = 0
        self.lightsleeps = 0

        machine = self

        class Pin(FakePin):  # `machine.Pin(...)` with the class constants, bound to this board
            def __init__(self, pin_id: int, mode: int = -1, pull: int = -1,
                         value: int | None = None) -> None:  # fmt: skip
                super().__init__(machine, pin_id, mode, pull, value)

        self.Pin = Pin

    # the module's names
    def ADC(self, channel: int | FakePin) -> FakeADC:
        return FakeADC(self, channel)

    def UART(self, uart_id: int, **kwargs: Any) -> FakeUART:
        return FakeUART(self, uart_id, **kwargs)

    def RTC(self) -> FakeRTC:
        return FakeRTC(self)

    def lightsleep(self, _ms: int = 0) -> None:
        raise RuntimeError("the simulator drives the board's service() itself; no sleeping")

    # the wiring
    def watch(self, pin_id: int, callback: Callable[[int], None]) -> None:
        """`callback(level)` whenever the board drives this pin (register before the board)."""
        self.watchers.setdefault(pin_id, []).append(callback)

    def epoch_ms(self) -> int:
        return self.rtc_start_ms + self.rtc_offset_ms + round(self.clock.monotonic_s() * 1000)


class FakeTime:
    """MicroPython's `time` as the board uses it, on the virtual clock."""

    def __init__(self, machine: FakeMachine) -> None:
        self.machine = machine

    def time_ns(self) -> int:
        return self.machine.epoch_ms() * 1_000_000

    def sleep_ms(self, ms: int) -> None:
        self.machine.blink_ms += ms  # only blinking sleeps on the board; the sim does not wait

    def gmtime(self, secs: int) -> tuple[int, ...]:
        return tuple(host_time.gmtime(secs))[:8]


def load_board(machine: FakeMachine) -> ModuleType:
    """A fresh copy of device/supervisor/board.py whose `machine` and `time` are the fakes."""
    name = f"irbis_sim_board_{id(machine)}"
    spec = importlib.util.spec_from_file_location(name, BOARD_SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "device.supervisor"  # its `from . import logic` is the real logic
    saved = {k: sys.modules.get(k) for k in ("machine", "time")}
    sys.modules["machine"] = machine  # type: ignore[assignment]
    sys.modules["time"] = FakeTime(machine)  # type: ignore[assignment]
    try:
        spec.loader.exec_module(module)
    finally:
        for key, value in saved.items():
            if value is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = value
    return module
