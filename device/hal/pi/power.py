"""The Pi's own power readings: only the SoC temperature, from the kernel's thermal zone."""

from __future__ import annotations

from pathlib import Path

from device.hal.interfaces import PowerReading


class PiPowerMonitor:
    """SoC temperature from /sys/class/thermal (millidegrees C). Not the air temperature.

    pack_v and pack_current_ma are always None here: the pack is measured by the supervisor and
    reported over its link, which arrives with a later issue.
    """

    def __init__(self, sys_root: Path = Path("/sys"), zone: str = "thermal_zone0") -> None:
        self._temp_path = sys_root / "class" / "thermal" / zone / "temp"

    def read(self) -> PowerReading:
        return PowerReading(pack_v=None, pack_current_ma=None, temperature_c=self._temperature_c())

    def _temperature_c(self) -> float | None:
        try:
            return int(self._temp_path.read_text().strip()) / 1000.0
        except (OSError, ValueError):
            return None  # no thermal zone (or an unreadable one): the reading is unknown
