"""The Pi's end of the supervisor link: hello, wake reason, status, alarms, sleep, watchdog.

Transport-agnostic: the Pi backend gives it a UART (bytes arrive on a reader thread), the
simulator a byte pipe to the simulated board (bytes arrive on the clock's thread). The framing
is device/supervisor/link.py, the same module the supervisor runs.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from device import __version__
from device.clock import Clock
from device.config import TrapConfig
from device.supervisor import link

log = logging.getLogger("irbis.link")


class Transport(Protocol):
    """A byte pipe to the supervisor. `start(receiver)` delivers incoming bytes to `receiver`."""

    def start(self, receiver: Callable[[bytes], None]) -> None: ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class SupervisorClient:
    """Implements hal.SupervisorLink over a Transport."""

    def __init__(self, transport: Transport, clock: Clock, config: TrapConfig) -> None:
        self.transport = transport
        self.clock = clock
        self.config = config
        self.decoder = link.Decoder()
        self.hello: dict[str, Any] | None = None
        self.hello_at_utc: datetime | None = None
        self._status: dict[str, Any] | None = None
        self._status_seq = 0
        self._lock = threading.Lock()
        self._shutdown_callbacks: list[Callable[[str], None]] = []
        self.shutdown_asked: str | None = None
        self.counts: Counter[str] = Counter()

    # -- start ----------------------------------------------------------------------------------
    def open(self) -> bool:
        """Say hello and wait for the answer (gated.hello_timeout_s). False: no supervisor
        answered; the trap runs on, but nothing will cut its power or wake it again."""
        self.transport.start(self._receive)
        cfg = self.config
        self._send(
            link.HELLO,
            {
                "fw": __version__,
                "link": link.LINK_VERSION,
                "watchdog_ms": int(cfg["gated.watchdog_s"] * 1000),
                "max_awake_ms": int(cfg["gated.max_awake_s"] * 1000),
                "floor_mv": int(cfg["power.floor_v"] * 1000),
                "hysteresis_mv": int(cfg["power.floor_hysteresis_v"] * 1000),
            },
        )
        deadline_s = self.clock.monotonic_s() + cfg["gated.hello_timeout_s"]
        if not self.clock.run_until(lambda: self.hello is not None, deadline_s):
            self.counts["hello_timeouts"] += 1
            log.error(
                "supervisor did not answer",
                extra={"record": {"waited_s": cfg["gated.hello_timeout_s"], **self.link_faults()}},
            )
            return False
        hello = self.hello
        assert hello is not None
        if hello.get("link") != link.LINK_VERSION:
            log.warning(
                "supervisor link version differs",
                extra={"record": {"ours": link.LINK_VERSION, "theirs": hello.get("link")}},
            )
        if not hello.get("rtc_set"):
            self._send(link.TIME_SYNC, {"utc_s": int(self.clock.now_utc().timestamp())})
        log.info("supervisor hello", extra={"record": _loggable(hello)})
        return True

    @property
    def connected(self) -> bool:
        return self.hello is not None

    # -- what the supervisor said ---------------------------------------------------------------
    def wake_reason(self) -> str:
        if self.hello is None:
            return "boot"
        reason = self.hello.get("wake")
        return reason if isinstance(reason, str) else "boot"

    def wake_time_utc(self) -> datetime | None:
        return self._age_to_utc("wake_age_ms")

    def boot_pir_utc(self) -> datetime | None:
        if self.hello is None or not self.hello.get("pir_during_boot"):
            return None
        return self._age_to_utc("pir_age_ms")

    def status(self) -> dict[str, Any] | None:
        with self._lock:
            return self._status

    def refresh_status(self, timeout_s: float = 1.0) -> dict[str, Any] | None:
        """Ask for a fresh status and wait for it (None: no answer in time)."""
        seq = self._status_seq
        self._send(link.STATUS_REQUEST, {})
        got = self.clock.run_until(
            lambda: self._status_seq != seq, self.clock.monotonic_s() + timeout_s
        )
        return self.status() if got else None

    def link_faults(self) -> dict[str, int]:
        c = self.decoder.counters
        return {k: v for k, v in c.items() if k != "frames_ok" and v}

    # -- what the Pi says -----------------------------------------------------------------------
    def request_shutdown(
        self, wake_at_utc: datetime | None, reason: str, hold_off_s: float = 0.0
    ) -> None:
        wake_at_s = None if wake_at_utc is None else int(wake_at_utc.timestamp())
        self._send(
            link.SLEEP,
            {"reason": reason, "wake_at_s": wake_at_s, "hold_off_ms": int(hold_off_s * 1000)},
        )

    def kick_watchdog(self) -> None:
        self._send(link.KICK, {})

    def on_shutdown(self, callback: Callable[[str], None]) -> None:
        self._shutdown_callbacks.append(callback)
        if self.shutdown_asked is not None:
            callback(self.shutdown_asked)

    def close(self) -> None:
        self.transport.close()

    # -- internals ------------------------------------------------------------------------------
    def _send(self, msg_type: int, payload: dict[str, Any]) -> None:
        self.counts["frames_out"] += 1
        self.transport.write(link.encode(msg_type, payload))

    def _receive(self, data: bytes) -> None:
        """Bytes from the supervisor (a reader thread on the Pi, the clock's thread in the sim)."""
        for msg_type, payload in self.decoder.feed(data):
            self.counts["frames_in"] += 1
            if msg_type == link.HELLO:
                self.hello = payload
                self.hello_at_utc = self.clock.now_utc()
                self._set_status(payload)
            elif msg_type == link.STATUS:
                self._set_status(payload)
            elif msg_type == link.SHUTDOWN:
                reason = payload.get("reason")
                self.shutdown_asked = reason if isinstance(reason, str) else "supervisor"
                log.warning("supervisor asks to shut down", extra={"record": _loggable(payload)})
                for callback in self._shutdown_callbacks:
                    callback(self.shutdown_asked)
            elif msg_type == link.LOG:
                log.info("supervisor log", extra={"record": _loggable(payload)})
            else:
                self.counts["unexpected_" + link.NAMES.get(msg_type, str(msg_type))] += 1
        self.clock.notify()

    def _set_status(self, payload: dict[str, Any]) -> None:
        with self._lock:
            self._status = payload
            self._status_seq += 1

    def _age_to_utc(self, key: str) -> datetime | None:
        hello, at = self.hello, self.hello_at_utc
        if hello is None or at is None:
            return None
        age_ms = hello.get(key)
        if not isinstance(age_ms, int | float) or isinstance(age_ms, bool) or age_ms < 0:
            return None
        return at - timedelta(milliseconds=age_ms)


def _loggable(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != "counters"}
