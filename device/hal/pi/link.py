"""The supervisor link when there is no supervisor (always-on mode on external power)."""

from __future__ import annotations

from datetime import datetime

from device.errors import HardwareError


class NoSupervisor:
    """No microcontroller gates the Pi: it was powered on by hand and stays up until told.

    Until the UART link protocol lands (the power issue), always-on mode is the only Pi mode, so the
    wake reason is always 'boot' and there is nobody to ask for a timed power-down.
    """

    @property
    def connected(self) -> bool:
        return False

    def wake_reason(self) -> str:
        return "boot"

    def wake_time_utc(self) -> datetime | None:
        """None: no wake source fired, the Pi was simply powered."""
        return None

    def request_shutdown(self, wake_at_utc: datetime | None, reason: str) -> None:
        wake = f", wake at {wake_at_utc.isoformat()}" if wake_at_utc is not None else ""
        raise HardwareError(
            f"cannot power down ({reason}{wake}): no supervisor is connected in always-on mode, "
            "so nothing would cut the rail or wake the Pi again"
        )

    def kick_watchdog(self) -> None:
        """Nothing to kick: without a supervisor there is no external watchdog."""
