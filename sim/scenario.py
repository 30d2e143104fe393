"""Scenarios: TOML files under sim/scenarios/ describing a site, its weather and its animals,
the simulated hardware, and the trap.toml the trap runs with ([trap] table)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from device.config import TrapConfig, validate
from device.errors import ConfigError

SCENARIO_DIR = Path(__file__).parent / "scenarios"


@dataclass(frozen=True)
class Weather:
    mean_c: float = -25.0
    min_c: float = -45.0
    max_c: float = -5.0
    daily_swing_c: float = 10.0
    seasonal_swing_c: float = 0.0  # half the summer-winter difference; coldest mid-January


@dataclass(frozen=True)
class Triggers:
    """Ground truth: how often animals pass and how often something else fires the PIR."""

    animal_passes_per_day: float = 3.0
    false_triggers_per_day: float = 7.0
    busy_day_share: float = 0.1  # share of days with busy_day_factor x the false triggers
    busy_day_factor: float = 3.0
    windstorm_days: list[int] = field(default_factory=list)  # day indexes (0-based)
    windstorm_triggers_per_day: float = 150.0
    pir_miss_share: float = 0.15  # animal passes the PIR does not see (FIELD.md §2)
    snow_leopard_passes_per_100_days: float = 2.7  # FIELD.md §1: 2.6-2.8 per 100 trap-days
    seasonal_swing: float = 0.0  # rates x (1 + this) in mid-July, x (1 - this) in mid-January
    night_animal_share: float = 0.6  # cats move at night and dusk
    false_kinds: dict[str, float] = field(
        default_factory=lambda: {"wind": 0.5, "light": 0.3, "snow": 0.2}
    )


@dataclass(frozen=True)
class SimHardware:
    boot_s: float = 3.5  # optimised image, to user code (FIELD.md §3)
    shutdown_s: float = 2.5
    camera_start_s: float = 0.5  # stored exposure, fixed focus
    frame_period_s: float = 0.05
    render_width: int = 640
    render_height: int = 480
    jpeg_quality: int = 75
    card_capacity_bytes: int = 64_000_000_000
    pack_soc_start: float = 1.0  # a fresh pack; less: cells already used
    enclosure_above_air_c: float = 0.0  # the box's own warming (sun, electronics)


@dataclass(frozen=True)
class Faults:
    camera_error_at_days: list[float] = field(default_factory=list)  # the camera raises once
    camera_hang_at_days: list[float] = field(default_factory=list)  # no frame: a timeout
    pir_stuck: list[list[float]] = field(default_factory=list)  # [[at_day, duration_s], ...]
    # the card (sim/card_slot.py): ranger visits pull the card and put a new blank one in
    card_visits: list[list[float]] = field(default_factory=list)  # [[out_day, in_day], ...]
    card_io_errors_from_day: float = -1.0  # every card operation fails from then (< 0: never)
    card_write_mb_s: float = 0.0  # sustained write speed (0: instantaneous)
    card_real_bytes: int = 0  # a counterfeit card holding this much of what it claims (0: honest)
    # the supervisor and the Pi (sim/supervisor_sim.py)
    pi_hang_at_days: list[float] = field(default_factory=list)  # the Pi's loop hangs (no kicks)
    link_garble_share: float = 0.0  # share of UART transfers with a flipped bit
    supervisor_silent: bool = False  # the supervisor never answers (unflashed, dead UART)
    # [[at_day, volts, seconds], ...]: the pack reads this much lower for a while (a cold snap on
    # a tired pack, a corroded contact): what makes the supervisor call a brown-out
    pack_sag: list[list[float]] = field(default_factory=list)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    days: float
    start_utc: datetime
    latitude_deg: float
    longitude_deg: float
    weather: Weather
    triggers: Triggers
    hardware: SimHardware
    faults: Faults
    trap: TrapConfig
    source: str


def _section(cls: type, raw: dict[str, Any], name: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{name}.{key}", value, f"a key of [{name}]: {', '.join(known)}")
        default = getattr(cls(), key)
        ok = isinstance(value, type(default)) or (
            isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool)
        )
        if not ok:
            raise ConfigError(f"{name}.{key}", value, f"a {type(default).__name__}")
    return cls(
        **{k: float(v) if isinstance(getattr(cls(), k), float) else v for k, v in raw.items()}
    )


def find(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        return path
    candidate = SCENARIO_DIR / f"{name_or_path}.toml"
    if candidate.exists():
        return candidate
    known = ", ".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.toml")))
    raise FileNotFoundError(f"no scenario {name_or_path!r}; known: {known}")


def load(name_or_path: str) -> Scenario:
    path = find(name_or_path)
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("<file>", str(path), f"valid TOML ({exc})") from None
    top = {
        "name",
        "description",
        "days",
        "start",
        "site",
        "weather",
        "triggers",
        "hardware",
        "faults",
        "trap",
    }
    for key in raw:
        if key not in top:
            raise ConfigError(key, raw[key], f"a scenario key ({', '.join(sorted(top))})")
    try:
        start = datetime.fromisoformat(raw.get("start", "2026-12-01T00:00:00+07:00"))
    except ValueError:
        raise ConfigError("start", raw.get("start"), "an ISO time with offset") from None
    if start.tzinfo is None:
        raise ConfigError("start", raw["start"], "an ISO time with an offset such as +07:00")
    site = raw.get("site", {})
    trap_raw = dict(raw.get("trap", {}))
    trap_raw.setdefault("site", {}).update(
        {k: v for k, v in site.items() if k in ("utc_offset", "latitude_deg", "longitude_deg")}
    )
    trap_raw.setdefault("backend", "sim")
    try:
        trap = validate(trap_raw, f"{path} [trap]")
    except ConfigError as exc:
        raise ConfigError(f"trap.{exc.key}", exc.value, exc.expected) from None
    days = raw.get("days", 90)
    if not isinstance(days, int | float) or days <= 0:
        raise ConfigError("days", days, "a positive number of days")
    return Scenario(
        name=raw.get("name", path.stem),
        description=raw.get("description", ""),
        days=float(days),
        start_utc=start,
        latitude_deg=trap["site.latitude_deg"],
        longitude_deg=trap["site.longitude_deg"],
        weather=_section(Weather, raw.get("weather", {}), "weather"),
        triggers=_section(Triggers, raw.get("triggers", {}), "triggers"),
        hardware=_section(SimHardware, raw.get("hardware", {}), "hardware"),
        faults=_section(Faults, raw.get("faults", {}), "faults"),
        trap=trap,
        source=str(path),
    )
