"""The clock seam: every timestamp, wait and timer in device/ goes through a Clock.

On the Pi it is the wall and monotonic clocks (RealClock); in the simulator it is virtual time
that jumps to the next due timer, so the same loop runs a year in seconds.

Timers never call into the controller: their callbacks only post events, and they run on the
thread that is inside `run_until` (the trap's loop), never on a thread of their own.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone


class Timer:
    """A handle to a scheduled callback; `cancel()` stops it (and a repeating one for good)."""

    __slots__ = ("_seq", "callback", "cancelled", "due_s", "period_s")

    def __init__(
        self, due_s: float, callback: Callable[[], None], period_s: float | None, seq: int
    ) -> None:
        self.due_s = due_s
        self.callback = callback
        self.period_s = period_s
        self.cancelled = False
        self._seq = seq

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: Timer) -> bool:
        return (self.due_s, self._seq) < (other.due_s, other._seq)


class Clock(ABC):
    """UTC wall time with the site's offset, a monotonic clock, timers, and one way to wait."""

    time_source = "unknown"  # where wall time comes from; written on every record

    def __init__(self, utc_offset_s: int = 0) -> None:
        self._timers: list[Timer] = []
        self._seq = itertools.count()
        self.utc_offset_s = utc_offset_s

    # -- time -------------------------------------------------------------------------------
    @abstractmethod
    def monotonic_s(self) -> float:
        """Seconds on a clock that never jumps (for intervals and timers)."""

    @abstractmethod
    def now_utc(self) -> datetime:
        """Aware UTC wall time (may jump when the clock is set)."""

    def now_local(self) -> datetime:
        """Wall time at the site's fixed UTC offset (records keep the offset, never a bare time)."""
        return self.now_utc().astimezone(timezone(timedelta(seconds=self.utc_offset_s)))

    # -- timers -----------------------------------------------------------------------------
    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Timer:
        """Run `callback` once, `delay_s` from now, on the loop's thread."""
        return self._push(self.monotonic_s() + max(0.0, delay_s), callback, None)

    def call_every(
        self, period_s: float, callback: Callable[[], None], first_delay_s: float | None = None
    ) -> Timer:
        """Run `callback` every `period_s` (first after `first_delay_s`, default one period)."""
        if period_s <= 0:
            raise ValueError(f"period_s must be positive, got {period_s}")
        first = period_s if first_delay_s is None else max(0.0, first_delay_s)
        return self._push(self.monotonic_s() + first, callback, period_s)

    def next_due_s(self) -> float | None:
        """Monotonic time of the next live timer, or None."""
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0].due_s if self._timers else None

    def _push(self, due_s: float, callback: Callable[[], None], period_s: float | None) -> Timer:
        timer = Timer(due_s, callback, period_s, next(self._seq))
        heapq.heappush(self._timers, timer)
        self._wake()
        return timer

    def _fire_due(self, now_s: float) -> None:
        """Run every timer due at or before `now_s`, in time order."""
        while self._timers and self._timers[0].due_s <= now_s:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            if timer.period_s is not None:
                timer.due_s += timer.period_s
                heapq.heappush(self._timers, timer)
            timer.callback()

    # -- waiting ----------------------------------------------------------------------------
    @abstractmethod
    def run_until(self, ready: Callable[[], bool], deadline_s: float | None = None) -> bool:
        """Fire due timers and wait until `ready()` is true (returns True) or the monotonic
        `deadline_s` passes (returns False). The only way device/ waits."""

    def sleep_s(self, duration_s: float) -> None:
        """Wait `duration_s`, firing timers that fall due meanwhile."""
        self.run_until(lambda: False, self.monotonic_s() + max(0.0, duration_s))

    def notify(self) -> None:
        """Wake a waiting `run_until` (called by other threads after they post an event)."""
        self._wake()

    def _wake(self) -> None:  # noqa: B027 - a no-op unless a clock has threads to wake
        pass


class RealClock(Clock):
    """The Pi's clocks: `time.monotonic` for intervals, the system clock for wall time."""

    time_source = "system"

    def __init__(self, utc_offset_s: int = 0) -> None:
        self._cond = threading.Condition()
        super().__init__(utc_offset_s)

    def monotonic_s(self) -> float:
        return time.monotonic()

    def now_utc(self) -> datetime:
        return datetime.now(UTC)

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def run_until(self, ready: Callable[[], bool], deadline_s: float | None = None) -> bool:
        while True:
            self._fire_due(time.monotonic())
            if ready():
                return True
            now_s = time.monotonic()
            if deadline_s is not None and now_s >= deadline_s:
                return False
            wait_until = self.next_due_s()
            if deadline_s is not None:
                wait_until = deadline_s if wait_until is None else min(wait_until, deadline_s)
            with self._cond:
                if ready():
                    return True
                self._cond.wait(None if wait_until is None else max(0.0, wait_until - now_s))
