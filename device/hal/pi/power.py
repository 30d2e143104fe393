"""The Pi's power readings: the pack voltage the supervisor last measured (over its link), and the
SoC temperature from the kernel's thermal zone."""

from __future__ import annotations

from pathlib import Path

from device.hal.interfaces import PowerReading, SupervisorLink


class PiPowerMonitor:
    """Pack voltage from the supervisor's latest status (None without a supervisor); the SoC
    temperature from /sys/class/thermal (millidegrees C), which is not the air temperature."""

    def __init__(
        self,
        sys_root: Path = Path("/sys"),
        zone: str = "thermal_zone0",
        link: SupervisorLink | None = None,
    ) -> None:
        self._temp_path = sys_root / "class" / "thermal" / zone / "temp"
        self._link = link

    def read(self) -> PowerReading:
        status = self._link.status() if self._link is not None else None
        mv = status.get("pack_mv") if status else None
        pack_v = mv / 1000.0 if isinstance(mv, int | float) and not isinstance(mv, bool) else None
        return PowerReading(
            pack_v=pack_v, pack_current_ma=None, temperature_c=self._temperature_c()
        )

    def _temperature_c(self) -> float | None:
        try:
            return int(self._temp_path.read_text().strip()) / 1000.0
        except (OSError, ValueError):
            return None  # no thermal zone (or an unreadable one): the reading is unknown
