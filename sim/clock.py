"""Virtual time: the device's Clock, with waits that jump straight to the next due timer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from device.clock import Clock


class VirtualClock(Clock):
    """Seconds since the simulation's start; `now_utc` is the start plus that. Single-threaded."""

    time_source = "sim"

    def __init__(self, start_utc: datetime, utc_offset_s: int = 0) -> None:
        if start_utc.tzinfo is None:
            raise ValueError("start_utc must be timezone-aware")
        super().__init__(utc_offset_s)
        self.start_utc = start_utc
        self._now_s = 0.0

    def monotonic_s(self) -> float:
        return self._now_s

    def now_utc(self) -> datetime:
        return self.start_utc + timedelta(seconds=self._now_s)

    def run_until(self, ready: Callable[[], bool], deadline_s: float | None = None) -> bool:
        while not ready():
            due_s = self.next_due_s()
            if due_s is None or (deadline_s is not None and due_s > deadline_s):
                if deadline_s is not None:
                    self._now_s = max(self._now_s, deadline_s)
                return ready()
            self._now_s = max(self._now_s, due_s)
            self._fire_due(self._now_s)
        return True

    def advance(self, seconds: float) -> None:
        """Move virtual time forward by `seconds` (time spent inside a slow operation), firing
        on the way, in order, the timers that fall due, as `run_until` does."""
        if seconds < 0:
            raise ValueError(f"cannot move virtual time backwards ({seconds} s)")
        self.run_until(lambda: False, self._now_s + seconds)
