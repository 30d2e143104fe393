"""The supervisor link when there is no supervisor (always-on mode on external power)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from device.errors import HardwareError


class NoSupervisor:
    """No microcontroller gates the Pi: it was powered on by hand and stays up until told.

    The wake reason is always 'boot' and there is nobody to ask for a timed power-down.
    """

    @property
    def connected(self) -> bool:
        return False

    def wake_reason(self) -> str:
        return "boot"

    def wake_time_utc(self) -> datetime | None:
        """None: no wake source fired, the Pi was simply powered."""
        return None

    def boot_pir_utc(self) -> datetime | None:
        return None

    def status(self) -> dict[str, Any] | None:
        return None

    def on_shutdown(self, callback: Callable[[str], None]) -> None:
        """Nobody will ask: there is no supervisor."""

    def request_shutdown(
        self, wake_at_utc: datetime | None, reason: str, hold_off_s: float = 0.0
    ) -> None:
        wake = f", wake at {wake_at_utc.isoformat()}" if wake_at_utc is not None else ""
        raise HardwareError(
            f"cannot power down ({reason}{wake}): no supervisor is connected in always-on mode, "
            "so nothing would cut the rail or wake the Pi again"
        )

    def kick_watchdog(self) -> None:
        """Nothing to kick: without a supervisor there is no external watchdog."""
