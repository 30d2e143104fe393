"""The power gate: switches the Pi's rail on a PIR edge or an RTC alarm and off after a halt.

This is the simulator's stand-in for the supervisor's gating until the power issue runs the real
MicroPython supervisor here; its rules are the supervisor's: wake on PIR or alarm while off,
latch a PIR edge that comes while the Pi boots or halts (it wakes the Pi again, never lost).
"""

from __future__ import annotations

from datetime import datetime

from device.clock import Clock, Timer


class PowerGate:
    def __init__(self, clock: Clock, always_on: bool) -> None:
        self.clock = clock
        self.always_on = always_on
        self.rail = "up" if always_on else "off"  # off, booting, up, halting
        # Batteries in: the supervisor powers the Pi once at installation.
        self.wake_pending: str | None = None if always_on else "boot"
        self.wake_reason = "boot"
        self.wake_time_utc: datetime | None = None
        self._pending_time: datetime | None = None
        self._alarm: Timer | None = None
        self.shutdown_reason: str | None = None
        self.watchdog_kicks = 0
        self.counts = {
            "wakes.pir": 0,
            "wakes.rtc": 0,
            "triggers_while_booting": 0,
            "triggers_while_halting": 0,
            "shutdowns": 0,
        }

    def on_pir_rising(self) -> None:
        if self.rail == "off" or self.rail == "halting":
            if self.rail == "halting":
                self.counts["triggers_while_halting"] += 1
            if self.wake_pending is None or self.wake_pending == "rtc":
                self.wake_pending = "pir"
                self._pending_time = self.clock.now_utc()
        elif self.rail == "booting":
            self.counts["triggers_while_booting"] += 1

    def _alarm_fired(self) -> None:
        self._alarm = None
        if self.rail in ("off", "halting") and self.wake_pending is None:
            self.wake_pending = "rtc"
            self._pending_time = self.clock.now_utc()

    def request_shutdown(self, wake_at_utc: datetime | None, reason: str) -> None:
        self.shutdown_reason = reason
        if self._alarm is not None:
            self._alarm.cancel()
            self._alarm = None
        if wake_at_utc is not None:
            delay_s = (wake_at_utc - self.clock.now_utc()).total_seconds()
            self._alarm = self.clock.call_later(delay_s, self._alarm_fired)

    # -- what the bench does with the rail ------------------------------------------------------
    def begin_boot(self) -> str:
        reason = self.wake_pending or "boot"
        self.counts["wakes." + reason] = self.counts.get("wakes." + reason, 0) + 1
        self.wake_reason, self.wake_time_utc = reason, self._pending_time
        self.wake_pending, self._pending_time = None, None
        self.rail = "booting"
        return reason

    def booted(self) -> None:
        self.rail = "up"

    def begin_halt(self) -> None:
        self.rail = "halting"
        self.counts["shutdowns"] += 1

    def rail_off(self) -> None:
        self.rail = "off"
