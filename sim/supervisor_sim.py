"""The supervisor on the bench: the real board code (device/supervisor/board.py and logic.py) on
a fake `machine`, serviced on virtual time as the board's own loop would service it, and the UART
wire between it and the Pi's end of the link.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime

from device.clock import Clock, Timer
from sim.fake_machine import FakeMachine, load_board

BYTE_S = 10 / 115_200  # one byte on the wire at 115200 8N1
RX_IDLE_S = 0.15  # the board notices a quiet line after its 100 ms idle time


class Wire:
    """One direction of the UART: bytes arrive after their transfer time, in order. With a
    garble share, that share of transfers gets one byte flipped (a fault scenario)."""

    def __init__(self, clock: Clock, rng: random.Random, garble_share: float = 0.0) -> None:
        self.clock = clock
        self.rng = rng
        self.garble_share = garble_share
        self.garbled = 0
        self._busy_until_s = 0.0

    def send(self, data: bytes, deliver: Callable[[bytes], None]) -> None:
        if self.garble_share and data and self.rng.random() < self.garble_share:
            damaged = bytearray(data)
            damaged[self.rng.randrange(len(damaged))] ^= 1 << self.rng.randrange(8)
            data = bytes(damaged)
            self.garbled += 1
        start_s = max(self.clock.monotonic_s(), self._busy_until_s)
        self._busy_until_s = start_s + len(data) * BYTE_S
        self.clock.call_later(self._busy_until_s - self.clock.monotonic_s(), lambda: deliver(data))


class PiUart:
    """The Pi's UART (a link Transport). Bytes for a Pi that is off are lost, as on the wire."""

    def __init__(self, supervisor: SimSupervisor, dead: bool = False) -> None:
        self.supervisor = supervisor
        self.dead = dead  # a fault: nothing gets through in either direction
        self.receiver: Callable[[bytes], None] | None = None

    def start(self, receiver: Callable[[bytes], None]) -> None:
        self.receiver = receiver
        self.supervisor.pi_uart = self

    def write(self, data: bytes) -> None:
        if self.receiver is not None and not self.dead:  # a closed port writes nothing
            self.supervisor.to_board.send(data, self.supervisor.uart_rx)

    def close(self) -> None:
        self.receiver = None

    def deliver(self, data: bytes) -> None:
        if self.receiver is not None and not self.dead:
            self.receiver(data)


class SimSupervisor:
    """One simulated board: its pins wired to the bench, serviced at every pin edge, every byte
    and every deadline the logic asks for."""

    def __init__(
        self,
        clock: Clock,
        rtc_start_utc: datetime,
        pack_v: Callable[[], float],
        temperature_c: Callable[[], float],
        on_rail: Callable[[bool], None],
        rng: random.Random,
        garble_share: float = 0.0,
    ) -> None:
        self.clock = clock
        self.machine = FakeMachine(clock, int(rtc_start_utc.timestamp() * 1000))
        self.module = load_board(self.machine)
        board_mod = self.module
        ratio = board_mod.DIVIDER_RATIO
        self.machine.adc_sources[board_mod.PIN_ADC] = lambda: pack_v() / ratio
        # the RP2040's sensor: 0.706 V at 27 C, -1.721 mV per degree
        self.machine.adc_sources[board_mod.TEMP_ADC] = lambda: (
            0.706 - (temperature_c() - 27) * 0.001721
        )
        self.machine.watch(board_mod.PIN_RAIL, lambda level: on_rail(bool(level)))
        self.machine.uart_out = self._uart_tx
        self.to_board = Wire(clock, rng, garble_share)
        self.to_pi = Wire(clock, rng, garble_share)
        self.board = board_mod.Board()
        self.logic = self.board.logic
        self.pi_uart: PiUart | None = None
        self.first_refusal_s: float | None = None  # the pack first too low to boot the Pi
        self._timer: Timer | None = None

    @property
    def rail_on(self) -> bool:
        return bool(self.machine.pins[self.module.PIN_RAIL].value())

    def power_up(self) -> None:
        """The batteries go in."""
        self.board.power_up()
        self._reschedule()

    def pir(self, level: bool) -> None:
        self.machine.pins[self.module.PIN_PIR].drive(level)
        if level:
            self.service()

    def halt_line(self, level: bool) -> None:
        self.machine.pins[self.module.PIN_HALT].drive(level)
        self.service()

    def uart_rx(self, data: bytes) -> None:
        self.machine.uarts[0].feed(data)
        self.service()
        if self.logic.decoder.pending:  # a partial frame: the board's idle check must run
            self.clock.call_later(RX_IDLE_S, self.service)

    def service(self) -> None:
        refused = self.logic.counters["boots_refused_low"]
        self.board.service()
        if self.first_refusal_s is None and self.logic.counters["boots_refused_low"] > refused:
            self.first_refusal_s = self.clock.monotonic_s()
        self._reschedule()

    def _uart_tx(self, data: bytes) -> None:
        uart = self.pi_uart
        if uart is not None:
            self.to_pi.send(data, uart.deliver)

    def _reschedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        due_ms = self.logic.next_deadline_ms()
        if due_ms is not None:
            delay_s = (due_ms - self.machine.epoch_ms()) / 1000.0
            self._timer = self.clock.call_later(max(0.0, delay_s), self.service)

    @property
    def counters(self) -> dict[str, int]:
        return dict(self.logic.counters)
