"""The simulated mountain: ground-truth animal passes and false triggers, the PIR edges they
cause, the sun and the temperature. Everything follows from the scenario and the seed."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from sim.render import Animal, LightChange, Snowfall, Wind
from sim.scenario import Scenario

DAY_S = 86400.0
MAX_PASS_S = 180.0
SPECIES = ("siberian-ibex", "red-fox", "tolai-hare", "pallas-cat", "argali")


@dataclass(frozen=True)
class Pass:
    """Something in front of the camera for a while: an animal, or what fakes one."""

    id: int
    kind: str  # 'animal', 'wind', 'light' or 'snow'
    start_s: float
    duration_s: float
    pir_seen: bool
    species: str | None = None
    y_frac: float = 0.65
    length_frac: float = 0.2
    heading: int = 1
    strength: float = 0.5  # wind strength, light gain step, snow density

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def actor_at(self, t_s: float) -> Animal | Wind | LightChange | Snowfall | None:
        """What the camera sees of this pass at `t_s` (None when not in frame)."""
        if not self.start_s <= t_s < self.end_s:
            return None
        progress = (t_s - self.start_s) / self.duration_s
        if self.kind == "animal":
            x = -0.3 + 1.6 * progress if self.heading > 0 else 1.3 - 1.6 * progress
            return Animal(
                x_frac=x,
                y_frac=self.y_frac,
                length_frac=self.length_frac,
                heading=self.heading,
                gait_phase=t_s * 9.0,
                coat_seed=self.id,
            )
        if self.kind == "wind":
            return Wind(strength=self.strength, phase=t_s * 4.0)
        if self.kind == "light":
            return LightChange(gain=self.strength, offset_frac=progress)
        return Snowfall(density=self.strength, phase=t_s * 3.0)

    def in_frame_at(self, t_s: float) -> bool:
        actor = self.actor_at(t_s)
        return isinstance(actor, Animal) and -0.05 < actor.x_frac < 1.05


def solar_elevation_deg(utc: datetime, lat_deg: float, lon_deg: float) -> float:
    """NOAA's low-precision solar position (good to a fraction of a degree)."""
    doy = utc.timetuple().tm_yday
    hour = utc.hour + utc.minute / 60 + utc.second / 3600
    g = 2 * math.pi / 365 * (doy - 1 + (hour - 12) / 24)
    decl = (
        0.006918
        - 0.399912 * math.cos(g)
        + 0.070257 * math.sin(g)
        - 0.006758 * math.cos(2 * g)
        + 0.000907 * math.sin(2 * g)
        - 0.002697 * math.cos(3 * g)
        + 0.00148 * math.sin(3 * g)
    )
    eqtime_min = 229.18 * (
        0.000075
        + 0.001868 * math.cos(g)
        - 0.032077 * math.sin(g)
        - 0.014615 * math.cos(2 * g)
        - 0.040849 * math.sin(2 * g)
    )
    true_solar_min = hour * 60 + eqtime_min + 4 * lon_deg
    hour_angle = math.radians(true_solar_min / 4 - 180)
    lat = math.radians(lat_deg)
    cos_zenith = math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(
        hour_angle
    )
    return 90 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))


def lux_from_elevation(elevation_deg: float) -> float:
    """Scene illuminance: moonless night, civil twilight ramp, then daylight."""
    if elevation_deg <= -6:
        return 0.2
    if elevation_deg < 0:
        return 0.2 + 400 * (elevation_deg + 6) / 6
    return 400 + 80_000 * math.sin(math.radians(elevation_deg))


class World:
    """Ground truth over the whole deployment, generated once from the seed."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.scenario = scenario
        self.rng = np.random.default_rng(seed)
        self.passes = self._generate()
        self._starts = [p.start_s for p in self.passes]
        self.pir_edges = self._pir_edges()

    # -- generation ---------------------------------------------------------------------------
    def _is_night(self, t_s: float) -> bool:
        return self.lux_at(t_s) < 5.0

    def _time_in_day(self, day: int, night: bool | None) -> float:
        """A random time on `day`, at night or by day when asked (a few tries, then any)."""
        for _ in range(12):
            t = (day + self.rng.random()) * DAY_S
            if night is None or self._is_night(t) == night:
                return t
        return t

    def _generate(self) -> list[Pass]:
        tr = self.scenario.triggers
        days = math.ceil(self.scenario.days)
        end_s = self.scenario.days * DAY_S
        kinds = list(tr.false_kinds)
        weights = np.array([tr.false_kinds[k] for k in kinds], dtype=float)
        weights /= weights.sum()
        raw: list[tuple[float, str, dict]] = []
        leopards_per_day = tr.snow_leopard_passes_per_100_days / 100
        for day in range(days):
            season = 1.0 + tr.seasonal_swing * self._season(day * DAY_S, peak_doy=196)
            species = [
                str(self.rng.choice(SPECIES))
                for _ in range(self.rng.poisson(tr.animal_passes_per_day * season))
            ]
            species += ["snow-leopard"] * int(self.rng.poisson(leopards_per_day))
            for name in species:
                night = bool(self.rng.random() < tr.night_animal_share)
                raw.append(
                    (
                        self._time_in_day(day, night),
                        "animal",
                        {
                            "species": name,
                            "duration_s": float(self.rng.uniform(4, 20)),
                            "y_frac": float(self.rng.uniform(0.55, 0.75)),
                            "length_frac": float(self.rng.uniform(0.08, 0.4)),
                            "heading": int(self.rng.choice((-1, 1))),
                            "pir_seen": bool(self.rng.random() >= tr.pir_miss_share),
                        },
                    )
                )
            if day in tr.windstorm_days:
                rate = tr.windstorm_triggers_per_day
            elif self.rng.random() < tr.busy_day_share:
                rate = tr.false_triggers_per_day * tr.busy_day_factor
            else:
                rate = tr.false_triggers_per_day
            if day not in tr.windstorm_days:
                rate *= season
            for _ in range(self.rng.poisson(rate)):
                kind = (
                    "wind" if day in tr.windstorm_days else str(self.rng.choice(kinds, p=weights))
                )
                t = self._time_in_day(day, False if kind == "light" else None)
                strength = {
                    "wind": self.rng.uniform(0.4, 1.0),
                    "light": self.rng.choice(
                        (self.rng.uniform(0.45, 0.8), self.rng.uniform(1.25, 1.6))
                    ),
                    "snow": self.rng.uniform(0.3, 1.0),
                }[kind]
                raw.append(
                    (
                        t,
                        kind,
                        {
                            "duration_s": float(self.rng.uniform(2, 15)),
                            "strength": float(strength),
                            "pir_seen": True,
                        },
                    )
                )
        raw.sort(key=lambda r: r[0])
        return [
            Pass(id=i, kind=kind, start_s=t, **kw)
            for i, (t, kind, kw) in enumerate(raw)
            if t < end_s
        ]

    def _pir_edges(self) -> list[tuple[float, bool]]:
        """Rising and falling edges: the PIR is high while a seen pass (or a stuck fault) lasts."""
        intervals = [(p.start_s + 0.2, p.end_s) for p in self.passes if p.pir_seen]
        intervals += [
            (day * DAY_S, day * DAY_S + dur) for day, dur in self.scenario.faults.pir_stuck
        ]
        intervals.sort()
        edges: list[tuple[float, bool]] = []
        cur_start, cur_end = None, None
        for start, end in intervals:
            if cur_end is not None and start <= cur_end + 0.5:
                cur_end = max(cur_end, end)
                continue
            if cur_start is not None:
                edges += [(cur_start, True), (cur_end, False)]
            cur_start, cur_end = start, end
        if cur_start is not None:
            edges += [(cur_start, True), (cur_end, False)]
        return edges

    # -- queries ------------------------------------------------------------------------------
    def passes_at(self, t_s: float) -> list[Pass]:
        i = bisect.bisect_right(self._starts, t_s)
        out = []
        while i > 0 and self._starts[i - 1] > t_s - MAX_PASS_S:
            i -= 1
            p = self.passes[i]
            if p.start_s <= t_s < p.end_s:
                out.append(p)
        return out

    def lux_at(self, t_s: float) -> float:
        utc = self.scenario.start_utc + timedelta(seconds=t_s)
        return lux_from_elevation(
            solar_elevation_deg(utc, self.scenario.latitude_deg, self.scenario.longitude_deg)
        )

    def temperature_c(self, t_s: float) -> float:
        """A daily swing around the mean (coldest before dawn), kept inside the scenario's range."""
        w = self.scenario.weather
        local_h = (t_s / 3600 + self.scenario.trap.utc_offset_s / 3600) % 24
        swing = -0.5 * w.daily_swing_c * math.cos(2 * math.pi * (local_h - 4) / 24)
        slow = (w.max_c - w.min_c) * 0.3 * math.sin(2 * math.pi * t_s / (17 * DAY_S))
        season = w.seasonal_swing_c * self._season(t_s, peak_doy=196) if w.seasonal_swing_c else 0.0
        return max(w.min_c, min(w.max_c, w.mean_c + swing + slow + season))

    def _season(self, t_s: float, peak_doy: int) -> float:
        """+1 on day-of-year `peak_doy`, -1 half a year later (the annual cycle)."""
        doy = self.scenario.start_utc.timetuple().tm_yday + t_s / DAY_S
        return math.cos(2 * math.pi * (doy - peak_doy) / 365.25)
