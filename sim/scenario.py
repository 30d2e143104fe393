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


DAYS_MAX = 3650.0  # ten years
_DAY = (0.0, DAYS_MAX)
_MONTH_S = (0.0, 30 * 86400.0)
_PART = (0.0, 1.0)
_TB = 2e12

# The range of every number a section may give, inclusive (NaN and the infinities never pass).
# A list's range is its items'; a list of lists has one range per member ([day, seconds], ...).
LIMITS: dict[str, dict[str, Any]] = {
    "weather": {
        "mean_c": (-60.0, 50.0),
        "min_c": (-60.0, 50.0),
        "max_c": (-60.0, 60.0),
        "daily_swing_c": (0.0, 40.0),
        "seasonal_swing_c": (0.0, 40.0),
    },
    "triggers": {
        "animal_passes_per_day": (0.0, 500.0),
        "false_triggers_per_day": (0.0, 5000.0),
        "busy_day_share": _PART,
        "busy_day_factor": (1.0, 100.0),
        "windstorm_days": _DAY,
        "windstorm_triggers_per_day": (0.0, 5000.0),
        "pir_miss_share": _PART,
        "snow_leopard_passes_per_100_days": (0.0, 1000.0),
        "seasonal_swing": _PART,
        "night_animal_share": _PART,
    },
    "hardware": {
        "boot_s": (0.0, 120.0),
        "shutdown_s": (0.0, 60.0),
        "camera_start_s": (0.0, 30.0),
        "frame_period_s": (0.001, 10.0),
        "render_width": (64, 4096),
        "render_height": (48, 3072),
        "jpeg_quality": (1, 100),
        "card_capacity_bytes": (1_000_000, _TB),
        "pack_soc_start": _PART,
        "enclosure_above_air_c": (0.0, 50.0),
    },
    "faults": {
        "camera_error_at_days": _DAY,
        "camera_hang_at_days": _DAY,
        "pir_stuck": (_DAY, _MONTH_S),
        "card_visits": (_DAY, _DAY),
        "card_io_errors_from_day": (-1.0, DAYS_MAX),
        "card_write_mb_s": (0.0, 10_000.0),
        "card_real_bytes": (0, _TB),
        "pi_hang_at_days": _DAY,
        "link_garble_share": _PART,
        "pack_sag": (_DAY, (0.0, 20.0), _MONTH_S),
    },
}
FALSE_KINDS = ("wind", "light", "snow")


def _section(cls: type, raw: dict[str, Any], name: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    if not isinstance(raw, dict):
        raise ConfigError(name, raw, f"a table ([{name}])")
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{name}.{key}", value, f"a key of [{name}]: {', '.join(known)}")
        default = getattr(cls(), key)
        ok = isinstance(value, type(default)) or (
            isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool)
        )
        if not ok:
            raise ConfigError(f"{name}.{key}", value, f"a {type(default).__name__}")
        limits = LIMITS.get(name, {}).get(key)
        if limits is not None:
            _check_numbers(f"{name}.{key}", value, limits)
    if name == "triggers" and "false_kinds" in raw:
        _check_false_kinds(raw["false_kinds"])
    return cls(
        **{k: float(v) if isinstance(getattr(cls(), k), float) else v for k, v in raw.items()}
    )


def _range_text(low: float, high: float) -> str:
    def text(x: float) -> str:
        return str(int(x)) if float(x).is_integer() else f"{x:g}"

    return f"{text(low)} to {text(high)}"


def _is_number_in(value: Any, low: float, high: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high


def _check_numbers(key: str, value: Any, limits: Any) -> None:
    """`value` (a number, a list of numbers or a list of lists) within `limits`."""
    if not isinstance(value, list):
        if not _is_number_in(value, *limits):
            raise ConfigError(key, value, f"a number {_range_text(*limits)}")
        return
    if isinstance(limits[0], tuple):  # a list of [a, b, ...] lists
        want = ", ".join(_range_text(*r) for r in limits)
        for item in value:
            if not (
                isinstance(item, list)
                and len(item) == len(limits)
                and all(_is_number_in(v, *r) for v, r in zip(item, limits, strict=False))
            ):
                raise ConfigError(key, value, f"a list of [{want}] lists")
        return
    if not all(_is_number_in(v, *limits) for v in value):
        raise ConfigError(key, value, f"a list of numbers {_range_text(*limits)}")


def _check_false_kinds(kinds: Any) -> None:
    ok = (
        isinstance(kinds, dict)
        and kinds
        and all(k in FALSE_KINDS and _is_number_in(v, 0.0, 1e6) for k, v in kinds.items())
        and sum(kinds.values()) > 0
    )
    if not ok:
        raise ConfigError(
            "triggers.false_kinds",
            kinds,
            f"weights >= 0 for some of {', '.join(FALSE_KINDS)}, not all 0",
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
        raw = tomllib.loads(path.read_bytes().decode("utf-8"))
    except IsADirectoryError:
        raise ConfigError("<file>", str(path), "a TOML file, not a directory") from None
    except OSError as exc:
        raise ConfigError("<file>", str(path), f"a readable file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "<file>", str(path), f"UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
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
    except (TypeError, ValueError):
        raise ConfigError("start", raw.get("start"), "an ISO time with offset") from None
    if start.tzinfo is None:
        raise ConfigError("start", raw["start"], "an ISO time with an offset such as +07:00")
    for table in ("site", "trap", "weather", "triggers", "hardware", "faults"):
        if not isinstance(raw.get(table, {}), dict):
            raise ConfigError(table, raw[table], f"a table ([{table}])")
    site = raw.get("site", {})
    trap_raw = dict(raw.get("trap", {}))
    if not isinstance(trap_raw.get("site", {}), dict):
        raise ConfigError("trap.site", trap_raw["site"], "a table ([trap.site])")
    trap_raw["site"] = dict(trap_raw.get("site", {}))
    trap_raw["site"].update(
        {k: v for k, v in site.items() if k in ("utc_offset", "latitude_deg", "longitude_deg")}
    )
    trap_raw.setdefault("backend", "sim")
    try:
        trap = validate(trap_raw, f"{path} [trap]")
    except ConfigError as exc:
        raise ConfigError(f"trap.{exc.key}", exc.value, exc.expected) from None
    days = raw.get("days", 90)
    if not _is_number_in(days, 0.0, DAYS_MAX) or days == 0:
        raise ConfigError("days", days, f"a positive number of days, at most {DAYS_MAX:g}")
    for name in ("name", "description"):
        if not isinstance(raw.get(name, ""), str):
            raise ConfigError(name, raw[name], "a string")
    weather = _section(Weather, raw.get("weather", {}), "weather")
    if not weather.min_c <= weather.mean_c <= weather.max_c:
        raise ConfigError(
            "weather.mean_c", weather.mean_c, "a temperature between weather.min_c and max_c"
        )
    return Scenario(
        name=raw.get("name", path.stem),
        description=raw.get("description", ""),
        days=float(days),
        start_utc=start,
        latitude_deg=trap["site.latitude_deg"],
        longitude_deg=trap["site.longitude_deg"],
        weather=weather,
        triggers=_section(Triggers, raw.get("triggers", {}), "triggers"),
        hardware=_section(SimHardware, raw.get("hardware", {}), "hardware"),
        faults=_section(Faults, raw.get("faults", {}), "faults"),
        trap=trap,
        source=str(path),
    )
