"""trap.toml: the schema, every default (in SCHEMA, one place), loading and validation.

Validation names the key, the bad value and what was expected; the trap refuses to start
rather than run half-configured. Unknown keys are errors too (a typo must not be ignored).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta, timezone
from datetime import time as dtime
from pathlib import Path
from typing import Any

from device.errors import ConfigError

MODES = ("gated", "always-on")
CHEMISTRY_NAMES = ("L91", "alkaline", "NiMH")  # device/power/battery.py CHEMISTRIES
IR_MODES = ("auto", "off")
BCM_PINS = range(2, 28)


@dataclass(frozen=True)
class Spec:
    """One key: its default, its Python type and a check with the words for what is expected.

    A number's `bounds` are its inclusive range, finite and stated in `expected`: NaN, the
    infinities and anything outside are refused before `check` (which may narrow further).
    """

    default: Any
    kind: type | tuple[type, ...]
    expected: str
    check: Callable[[Any], bool] = lambda _v: True
    bounds: tuple[float, float] | None = None


def _num(
    default: float,
    low: float,
    high: float,
    expected: str,
    kind: type | tuple[type, ...] = (int, float),
    check: Callable[[Any], bool] = lambda _v: True,
) -> Spec:
    """A number in [low, high]; `expected` must state that range."""
    return Spec(default, kind, expected, check, (low, high))


TB_MB = 2_000_000  # megabytes: the largest SD card there is (SDXC, 2 TB)


_WINDOW = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


def _is_window(v: str) -> bool:
    m = _WINDOW.match(v)
    if not m:
        return False
    h1, m1, h2, m2 = (int(x) for x in m.groups())
    return (
        h1 <= 24
        and h2 <= 24
        and m1 < 60
        and m2 < 60
        and (h1, m1) != (h2, m2)
        and (h1 < 24 or m1 == 0)
        and (h2 < 24 or m2 == 0)
    )


def _is_date(v: str) -> bool:
    if v == "":
        return True
    try:
        date.fromisoformat(v)
    except ValueError:
        return False
    return len(v) == 10


def _is_offset(v: str) -> bool:
    m = _OFFSET.match(v)
    return bool(m) and int(m.group(2)) <= 14 and int(m.group(3)) < 60


def _is_path(v: str) -> bool:
    """A non-empty string the OS can take as a path or an argument (no NUL)."""
    return v != "" and "\x00" not in v


def _is_fraction(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1


def _is_mask(v: Any) -> bool:
    """[left, top, right, bottom] as fractions of the frame, a non-empty rectangle."""
    if not isinstance(v, list) or len(v) != 4 or not all(_is_fraction(x) for x in v):
        return False
    left, top, right, bottom = v
    return left < right and top < bottom


# Every key the trap reads, with its default. Sources for figures: ../shared FIELD.md §3 (power)
# and common commercial-trap settings (burst 3, trigger interval ~10 s).
SCHEMA: dict[str, dict[str, Spec]] = {
    "": {
        "backend": Spec("pi", str, "a backend name such as 'pi' or 'sim'", lambda v: v != ""),
        "mode": Spec("gated", str, f"one of {', '.join(MODES)}", lambda v: v in MODES),
        "device_id": Spec(
            "irbis-0000",
            str,
            "a non-empty id such as 'irbis-0042'",
            lambda v: re.fullmatch(r"[A-Za-z0-9._-]{1,64}", v) is not None,
        ),
        "deployment_id": Spec(
            "unnamed",
            str,
            "letters, digits, '.', '_' or '-' (1-64)",
            lambda v: re.fullmatch(r"[A-Za-z0-9._-]{1,64}", v) is not None,
        ),
    },
    "site": {
        "utc_offset": Spec("+00:00", str, "an offset such as '+07:00'", _is_offset),
        "latitude_deg": _num(0.0, -90, 90, "a latitude in [-90, 90]"),
        "coarsen_location_deg": _num(0.0, 0, 10, "degrees 0-10 (0: exact)"),
        "longitude_deg": _num(0.0, -180, 180, "a longitude in [-180, 180]"),
    },
    "pins": {
        "pir": _num(17, 2, 27, "a BCM GPIO number 2-27", int),
        "ir": _num(27, 2, 27, "a BCM GPIO number 2-27", int),
    },
    "capture": {
        "burst_frames": _num(3, 1, 20, "a whole number of frames 1-20", int),
        "burst_interval_s": _num(0.5, 0.05, 10, "seconds between frames, 0.05-10"),
        "hold_off_s": _num(10.0, 0, 3600, "seconds 0-3600"),
        "ir": Spec("auto", str, f"one of {', '.join(IR_MODES)}", lambda v: v in IR_MODES),
        "ir_below_lux": _num(5.0, 0.01, 100_000, "lux 0.01-100000 (full sun)"),
        "camera_timeout_s": _num(3.0, 0.1, 60, "seconds 0.1-60"),
        "main_width": _num(2304, 64, 9152, "pixels 64-9152", int),
        "main_height": _num(1296, 48, 6944, "pixels 48-6944", int),
        "lores_width": _num(
            320, 32, 1280, "pixels 32-1280, a multiple of 16", int, lambda v: v % 16 == 0
        ),
        "lores_height": _num(
            240, 24, 960, "pixels 24-960, a multiple of 2", int, lambda v: v % 2 == 0
        ),
        "exposure_us": _num(
            20000, 100, 1_000_000, "microseconds 100-1000000 (stored exposure)", int
        ),
        "analogue_gain": _num(2.0, 1, 16, "a gain 1-16"),
        "ir_power": _num(1.0, 0.1, 1, "a share of the IR's full power, 0.1-1"),
    },
    "timelapse": {
        "interval_s": _num(
            0,
            0,
            86400,
            "0 for none, or seconds 60-86400 between shots",
            int,
            lambda v: v == 0 or v >= 60,
        ),
    },
    "schedule": {
        "active_hours": Spec(
            ["00:00-24:00"],
            list,
            "a list of 'HH:MM-HH:MM' local windows",
            lambda v: len(v) > 0 and all(isinstance(w, str) and _is_window(w) for w in v),
        ),
    },
    "gated": {
        "warm_window_s": _num(30.0, 0, 3600, "seconds 0-3600"),
        # The supervisor's backstops, sent to it in the Pi's hello (device/supervisor).
        "max_awake_s": _num(3600.0, 300, 86400, "seconds 300-86400 (longest the Pi may stay up)"),
        "watchdog_s": _num(120.0, 30, 3600, "seconds 30-3600 without a kick before a power cycle"),
        "uart": Spec("/dev/serial0", str, "the supervisor's serial port", _is_path),
        "poweroff_command": Spec(
            ["systemctl", "poweroff"],
            list,
            "a command as a list of strings (halts the Pi after a shutdown)",
            lambda v: len(v) > 0 and all(isinstance(a, str) and _is_path(a) for a in v),
        ),
        "hello_timeout_s": _num(5.0, 0.5, 60, "seconds 0.5-60 to wait for the supervisor's hello"),
    },
    "pir": {
        "stuck_after_s": _num(300.0, 30, 86400, "seconds 30-86400"),
    },
    "power": {
        "chemistry": Spec(
            "L91", str, f"one of {', '.join(CHEMISTRY_NAMES)}", lambda v: v in CHEMISTRY_NAMES
        ),
        "cells_series": _num(6, 1, 12, "cells in series 1-12", int),
        "cells_parallel": _num(2, 1, 4, "parallel strings 1-4", int),
        "target_end": Spec(
            "", str, "a local date 'YYYY-MM-DD' the pack must last to, or '' for none", _is_date
        ),
        "budget": Spec(True, bool, "true or false (the budget controller)", lambda v: True),
        "margin": _num(0.3, 0, 1, "a share 0-1 kept in reserve"),
        "floor_v": _num(6.6, 3, 20, "pack volts 3-20 under which the Pi is not booted"),
        "floor_hysteresis_v": _num(0.4, 0, 3, "volts 0-3 above the floor to boot again"),
        "reduced_active_hours": Spec(
            ["16:00-10:00"],
            list,
            "a list of 'HH:MM-HH:MM' local windows (the budget's last resort)",
            lambda v: len(v) > 0 and all(isinstance(w, str) and _is_window(w) for w in v),
        ),
        "standby_ua": _num(
            30.0, 0.1, 10_000, "microamps 0.1-10000 at the pack with the Pi off (this unit's)"
        ),
        "boot_s": _num(3.5, 0.5, 120, "seconds 0.5-120 from rail on to user code"),
    },
    "storage": {
        "card_path": Spec("/media/irbis/card", str, "a directory path", _is_path),
        "data_path": Spec("/var/lib/irbis", str, "a directory path", _is_path),
        "free_floor_mb": _num(256, 1, TB_MB, f"megabytes 1-{TB_MB} (2 TB)"),
        "reserve_mb": _num(64, 1, TB_MB, f"megabytes 1-{TB_MB} (2 TB)"),
        "ring": Spec(False, bool, "true or false", lambda v: True),
        "low_score_below": _num(0.5, 0, 1, "a score 0-1"),
        "buffer_max_mb": _num(512, 1, TB_MB, f"megabytes 1-{TB_MB} (2 TB)"),
        "buffer_floor_mb": _num(256, 0, TB_MB, f"megabytes 0-{TB_MB} (2 TB)"),
        "probe_samples": _num(
            64,
            0,
            4096,
            "0 (no probe) or a number of blocks 2-4096",
            int,
            lambda v: v == 0 or v >= 2,
        ),
    },
    "triage": {
        "enabled": Spec(True, bool, "true or false (false: every burst is kept)", lambda v: True),
        "keep_from": _num(0.5, 0, 1, "a score 0-1 from which every frame is kept"),
        "discard_below": _num(0.2, 0, 1, "a score 0-1 under which an empty burst is discarded"),
        "audit_share": _num(0.05, 0, 1, "a share 0-1 of discarded events that keep a thumbnail"),
        "masks": Spec(
            [],
            list,
            "a list of [left, top, right, bottom] frame fractions, each with "
            "0 <= left < right <= 1 and 0 <= top < bottom <= 1",
            lambda v: all(_is_mask(m) for m in v),
        ),
        "background_frames": _num(8, 1, 64, "a whole number of frames 1-64 kept per light", int),
        "discard_at_capture": Spec(
            False,
            bool,
            "true or false (true: store only what the decision keeps, as a thumbnail or "
            "nothing; false: every frame while the card has room, the verdict as its value)",
            lambda v: True,
        ),
    },
}


@dataclass(frozen=True)
class ActiveWindow:
    start: dtime
    end_minutes: int  # minutes after local midnight, 1..1440; may be <= start (wraps midnight)

    @property
    def start_minutes(self) -> int:
        return self.start.hour * 60 + self.start.minute

    def contains(self, minute_of_day: int) -> bool:
        s, e = self.start_minutes, self.end_minutes
        if s < e:
            return s <= minute_of_day < e
        return minute_of_day >= s or minute_of_day < e


@dataclass(frozen=True)
class TrapConfig:
    """The validated config. Sections are plain dicts of validated values."""

    values: dict[str, dict[str, Any]]
    source: str = "<defaults>"

    def __getitem__(self, dotted: str) -> Any:
        section, _, key = dotted.rpartition(".")
        return self.values[section][key]

    @property
    def backend(self) -> str:
        return self.values[""]["backend"]

    @property
    def mode(self) -> str:
        return self.values[""]["mode"]

    @property
    def target_end(self) -> date | None:
        """The local date the pack must last to (power.target_end), or None."""
        value = self["power.target_end"]
        return date.fromisoformat(value) if value else None

    @property
    def utc_offset_s(self) -> int:
        m = _OFFSET.match(self["site.utc_offset"])
        assert m is not None
        secs = int(m.group(2)) * 3600 + int(m.group(3)) * 60
        return -secs if m.group(1) == "-" else secs

    @property
    def tz(self) -> timezone:
        return timezone(timedelta(seconds=self.utc_offset_s))

    @property
    def active_windows(self) -> list[ActiveWindow]:
        out = []
        for w in self["schedule.active_hours"]:
            h1, m1, h2, m2 = (int(x) for x in _WINDOW.match(w).groups())  # type: ignore[union-attr]
            out.append(ActiveWindow(dtime(h1 % 24, m1), h2 * 60 + m2))
        return out

    def with_values(self, **dotted: Any) -> TrapConfig:
        """A copy with some keys changed (validated like a file)."""
        raw = {s: dict(v) for s, v in self.values.items()}
        for key, value in dotted.items():
            section, _, name = key.replace("__", ".").rpartition(".")
            raw.setdefault(section, {})[name] = value
        top = raw.pop("")
        return validate({**top, **raw}, self.source)


def validate(raw: dict[str, Any], source: str = "<dict>") -> TrapConfig:
    """Check a parsed TOML document against SCHEMA and fill defaults."""
    values: dict[str, dict[str, Any]] = {}
    for name in raw:
        if name not in SCHEMA[""] and name not in SCHEMA:
            raise ConfigError(name, raw[name], f"a known key ({', '.join(_known_top())})")
    for section, specs in SCHEMA.items():
        given = raw if section == "" else raw.get(section, {})
        if section and not isinstance(given, dict):
            raise ConfigError(section, given, "a table ([" + section + "])")
        for key in given:
            if section and key not in specs:
                raise ConfigError(
                    f"{section}.{key}",
                    given[key],
                    f"a known key of [{section}] ({', '.join(sorted(specs))})",
                )
        out = {}
        for key, spec in specs.items():
            dotted = f"{section}.{key}" if section else key
            value = given.get(key, spec.default)
            kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
            if isinstance(value, bool) and bool not in kinds:
                raise ConfigError(dotted, value, spec.expected)
            if not isinstance(value, kinds) or _non_finite(value):
                raise ConfigError(dotted, value, spec.expected)
            if spec.bounds is not None and not spec.bounds[0] <= value <= spec.bounds[1]:
                raise ConfigError(dotted, value, spec.expected)  # NaN fails this too
            if not spec.check(value):
                raise ConfigError(dotted, value, spec.expected)
            out[key] = (
                float(value)
                if float in kinds and not isinstance(value, bool) and (int in kinds)
                else value
            )
        values[section] = out
    cfg = TrapConfig(values, source)
    if cfg["pins.pir"] == cfg["pins.ir"]:
        raise ConfigError("pins.ir", cfg["pins.ir"], "a pin other than pins.pir")
    if cfg["triage.discard_below"] > cfg["triage.keep_from"]:
        raise ConfigError(
            "triage.discard_below",
            cfg["triage.discard_below"],
            f"a score at most triage.keep_from ({cfg['triage.keep_from']})",
        )
    return cfg


def _non_finite(value: Any) -> bool:
    """NaN or an infinity anywhere in the value (TOML has nan and inf literals)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list):
        return any(_non_finite(v) for v in value)
    return False


def _known_top() -> list[str]:
    return sorted([*SCHEMA[""], *(s for s in SCHEMA if s)])


def load(path: str | Path) -> TrapConfig:
    """Read and validate a trap.toml. Raises ConfigError (or FileNotFoundError) with the path."""
    path = Path(path)
    if path.exists() and not path.is_file() and not path.is_dir():
        # a FIFO would block and /dev/null would read as "all defaults"
        raise ConfigError("<file>", str(path), "a TOML file, not a device or a pipe")
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError("<file>", str(path), "a TOML file, not a directory") from None
    except OSError as exc:  # no permission, an I/O error, a name too long
        raise ConfigError("<file>", str(path), f"a readable file ({exc.strerror})") from None
    try:
        raw = tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "<file>", str(path), f"UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("<file>", str(path), f"valid TOML ({exc})") from None
    return validate(raw, str(path))


def check_target_end(cfg: TrapConfig, today: date) -> None:
    """Refuse a power.target_end before `today` (the site's local date) in a deployment being
    checked or planned. The running trap never calls this: a survey that overran its date must
    keep taking pictures (its budget controller then runs at level 0 and logs a fault)."""
    target = cfg.target_end
    if target is not None and target < today:
        raise ConfigError(
            "power.target_end",
            cfg["power.target_end"],
            f"a date not before today ({today.isoformat()} at the site's offset "
            f"{cfg['site.utc_offset']}), or '' for none",
        )


def defaults() -> TrapConfig:
    return validate({}, "<defaults>")
