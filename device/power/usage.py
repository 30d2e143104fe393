"""What the trap saw, per local day: motion events, night events, time-lapse shots and the Pi's
time awake after events; the budget controller's observed rates. Persisted by the caller."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from device.power.energy_model import DAY_S

TRACKER_DAYS = 7  # rates are means over this many most recent days with data
KEEP_DAYS = 14  # days of counts the tracker keeps
MIN_TODAY_SHARE = 1.0 / 24.0  # today counts as at least an hour (no x100 rates just after midnight)


# -- observed activity ---------------------------------------------------------------------------
@dataclass(frozen=True)
class UsageRates:
    """Activity per day (the trap's own counts, or a forecast such as `irbis plan`'s)."""

    motion_events_per_day: float = 0.0
    night_events_per_day: float = 0.0
    timelapse_shots_per_day: float = 0.0
    awake_after_s_per_day: float = 0.0
    days_of_data: float = 0.0

    @property
    def night_share(self) -> float:
        if self.motion_events_per_day <= 0.0:
            return 0.0
        return min(1.0, self.night_events_per_day / self.motion_events_per_day)

    def scaled_motion(self, factor: float) -> UsageRates:
        """The same activity with motion events (and the Pi's time after them) x factor."""
        return replace(
            self,
            motion_events_per_day=self.motion_events_per_day * factor,
            night_events_per_day=self.night_events_per_day * factor,
            awake_after_s_per_day=self.awake_after_s_per_day * factor,
        )

    def to_dict(self) -> dict[str, float]:
        return {
            "motion_events_per_day": self.motion_events_per_day,
            "night_events_per_day": self.night_events_per_day,
            "night_share": self.night_share,
            "timelapse_shots_per_day": self.timelapse_shots_per_day,
            "awake_after_s_per_day": self.awake_after_s_per_day,
            "days_of_data": self.days_of_data,
        }


COUNTS = ("motion_events", "night_events", "timelapse_shots", "awake_after_s")


@dataclass
class UsageTracker:
    """Counts per local day: motion events, night events, time-lapse shots, Pi-awake seconds
    after events. Persisted by the caller (`to_dict`/`from_dict`)."""

    days: dict[date, dict[str, float]] = field(default_factory=dict)

    def _day(self, day: date) -> dict[str, float]:
        counts = self.days.setdefault(day, dict.fromkeys(COUNTS, 0.0))
        for old in sorted(self.days)[:-KEEP_DAYS]:
            del self.days[old]
        return counts

    def record_event(self, day: date, night: bool) -> None:
        counts = self._day(day)
        counts["motion_events"] += 1
        counts["night_events"] += 1 if night else 0

    def record_timelapse(self, day: date) -> None:
        self._day(day)["timelapse_shots"] += 1

    def record_awake_after(self, day: date, seconds: float) -> None:
        if not seconds >= 0.0 or math.isinf(seconds):
            raise ValueError(f"seconds must be finite and >= 0, got {seconds}")
        self._day(day)["awake_after_s"] += seconds

    def rates(self, now_local: datetime, prior: UsageRates | None = None) -> UsageRates:
        """Per-day means over the last TRACKER_DAYS days with data up to now; today counts for
        the share of it elapsed. `prior` (default: all zero) when there is no data yet."""
        today = now_local.date()
        recent = sorted((d for d in self.days if d <= today), reverse=True)[:TRACKER_DAYS]
        if not recent:
            return prior or UsageRates()
        weight_days = sum(_day_weight(d, now_local) for d in recent)
        totals = {k: sum(self.days[d][k] for d in recent) for k in COUNTS}
        return UsageRates(
            motion_events_per_day=totals["motion_events"] / weight_days,
            night_events_per_day=totals["night_events"] / weight_days,
            timelapse_shots_per_day=totals["timelapse_shots"] / weight_days,
            awake_after_s_per_day=totals["awake_after_s"] / weight_days,
            days_of_data=weight_days,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"days": {d.isoformat(): dict(c) for d, c in sorted(self.days.items())}}

    @classmethod
    def from_dict(cls, data: Any) -> UsageTracker:
        """Rebuild persisted counts; ValueError naming the field for anything corrupt."""
        if not isinstance(data, dict) or not isinstance(data.get("days"), dict):
            raise ValueError("usage tracker state: field 'days' is missing or not an object")
        days: dict[date, dict[str, float]] = {}
        for key, counts in data["days"].items():
            days[_parse_day(key)] = _parse_counts(key, counts)
        return cls(days)


def _day_weight(day: date, now_local: datetime) -> float:
    if day < now_local.date():
        return 1.0
    midnight = datetime.combine(day, datetime.min.time(), tzinfo=now_local.tzinfo)
    elapsed = (now_local - midnight).total_seconds() / DAY_S
    return min(1.0, max(MIN_TODAY_SHARE, elapsed))


def _parse_day(key: Any) -> date:
    try:
        return date.fromisoformat(key)
    except (TypeError, ValueError):
        raise ValueError(f"usage tracker state: field 'days.{key}': not a date") from None


def _parse_counts(key: str, counts: Any) -> dict[str, float]:
    if not isinstance(counts, dict):
        raise ValueError(f"usage tracker state: field 'days.{key}': not an object")
    out = {}
    for name in COUNTS:
        value = counts.get(name)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value < 0:
            raise ValueError(f"usage tracker state: field 'days.{key}.{name}': got {value!r}")
        out[name] = float(value)
    return out
