"""The budget controller: from what is left in the pack, the days to the target end date and the
activity seen, pick the lightest rung of a fixed degrade ladder that still lasts, with a margin.
Pure logic: dates come from the caller, who also persists the `UsageTracker` (`to_dict()`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from device.config import TrapConfig, defaults
from device.power.battery import PackSpec
from device.power.energy_model import (
    DAY_S,
    Currents,
    EventShape,
    Timings,
    event_charge_mas,
)
from device.power.usage import UsageRates

RESTORE_HYSTERESIS = 0.10  # going back up a rung needs this much more than the margin
MIN_WIDTH, MIN_HEIGHT = 640, 480
MIN_IR_POWER = 0.25
HOLD_OFF_STEPS_S = (30.0, 60.0)
TIMELAPSE_NIGHT_SHARE = 0.5  # time-lapse shots fall by the clock, about half of them in the dark
STATES = ("standby", "boot", "camera", "ir", "idle", "shutdown", "supervisor", "timelapse")


# -- the energy of a configuration ---------------------------------------------------------------
def currents_for(config: TrapConfig, base: Currents | None = None) -> Currents:
    """The model's currents with this unit's standby (power.standby_ua): the supervisor's dormant
    draw takes up the difference (all standby parts scale if that would go negative)."""
    c = base or Currents()
    standby_ua = config["power.standby_ua"]
    others_ua = c.standby_ua - c.mcu_dormant_ua
    if standby_ua >= others_ua:
        return replace(c, mcu_dormant_ua=standby_ua - others_ua)
    k = standby_ua / c.standby_ua
    return replace(
        c,
        mcu_dormant_ua=c.mcu_dormant_ua * k,
        pir_ua=c.pir_ua * k,
        regulator_iq_ua=c.regulator_iq_ua * k,
        rail_switch_leak_ua=c.rail_switch_leak_ua * k,
    )


def timings_for(config: TrapConfig, base: Timings | None = None) -> Timings:
    return replace(base or Timings(), boot_s=config["power.boot_s"])


def pack_for(config: TrapConfig) -> PackSpec:
    return PackSpec.from_name(
        config["power.chemistry"], config["power.cells_series"], config["power.cells_parallel"]
    )


def pack_v_for(config: TrapConfig) -> float:
    """Mean open-circuit voltage over a whole discharge: charge x this = the battery model's Wh."""
    return pack_for(config).mean_ocv_v(0.0, 1.0)


def awake_after_s(config: TrapConfig) -> float:
    """Pi idle after a motion event: in gated mode the hold-off plus the warm window when there
    is a warm window, else it halts right after the event; always-on idles anyway (not counted)."""
    if config.mode != "gated":
        return 0.0
    warm_s = config["gated.warm_window_s"]
    return config["capture.hold_off_s"] + warm_s if warm_s > 0 else 0.0


def event_shape(
    config: TrapConfig, night: bool, timelapse: bool = False, ir_left_on_s: float = 0.0
) -> EventShape:
    """One motion event (or time-lapse shot: one frame, no time awake after) under this config."""
    return EventShape(
        burst_frames=1 if timelapse else config["capture.burst_frames"],
        burst_interval_s=config["capture.burst_interval_s"],
        night=night and config["capture.ir"] != "off",
        ir_power=config["capture.ir_power"],
        ir_left_on_s=ir_left_on_s,
        gated=config.mode == "gated",
        awake_after_s=0.0 if timelapse else awake_after_s(config),
    )


def active_share(windows: list[str]) -> float:
    """Share of the day covered by 'HH:MM-HH:MM' local windows (overlaps counted once)."""
    return _active_share(tuple(windows))


@functools.lru_cache(maxsize=64)
def _active_share(windows: tuple[str, ...]) -> float:
    parsed = defaults().with_values(schedule__active_hours=list(windows)).active_windows
    covered = sum(1 for m in range(1440) if any(w.contains(m) for w in parsed))
    return covered / 1440.0


def daily_charge_mas(
    config: TrapConfig,
    rates: UsageRates,
    currents: Currents | None = None,
    timings: Timings | None = None,
    ir_left_on_s: float = 0.0,
) -> dict[str, float]:
    """Charge per day by state (mA s at the pack) for this config at these activity rates."""
    c = currents or currents_for(config)
    t = timings or timings_for(config)
    out = dict.fromkeys(STATES, 0.0)
    if config.mode == "gated":
        out["standby"] = c.standby_ma * DAY_S
    else:  # the Pi idles all day with the supervisor awake
        out["idle"] = c.idle_ma * DAY_S
        out["supervisor"] = c.supervisor_awake_ma * DAY_S
    night_n = rates.motion_events_per_day * rates.night_share
    day_n = rates.motion_events_per_day - night_n
    for n, night in ((day_n, False), (night_n, True)):
        shape = event_shape(config, night, ir_left_on_s=ir_left_on_s)
        for state, mas in event_charge_mas(shape, c, t).items():
            out[state] += n * mas
    for share, night in ((TIMELAPSE_NIGHT_SHARE, True), (1.0 - TIMELAPSE_NIGHT_SHARE, False)):
        shape = event_shape(config, night, timelapse=True)
        shot_mas = sum(event_charge_mas(shape, c, t).values())
        out["timelapse"] += rates.timelapse_shots_per_day * share * shot_mas
    return out


# -- the degrade ladder ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One rung: its name ('kind:value'), the config keys it sets and what it does, in words."""

    name: str
    overrides: dict[str, Any]
    what: str

    @property
    def kind(self) -> str:
        return self.name.split(":")[0]


def build_ladder(config: TrapConfig) -> list[Step]:
    """The fixed order: burst, resolution, IR power, hold-off, warm window, active hours."""
    return [
        *_burst_steps(config),
        *_resolution_steps(config),
        *_ir_steps(config),
        *_hold_off_steps(config),
        *_warm_steps(config),
        *_active_hours_steps(config),
    ]


def _burst_steps(config: TrapConfig) -> list[Step]:
    frames = config["capture.burst_frames"]
    return [
        Step(f"burst:{f}", {"capture__burst_frames": f}, f"burst {f + 1} -> {f} frames")
        for f in range(frames - 1, 0, -1)
    ]


def _resolution_steps(config: TrapConfig) -> list[Step]:
    w, h = config["capture.main_width"], config["capture.main_height"]
    new_w, new_h = max(MIN_WIDTH, w // 2), max(MIN_HEIGHT, h // 2)
    if (new_w, new_h) == (w, h) or new_w > w or new_h > h:
        return []
    overrides = {"capture__main_width": new_w, "capture__main_height": new_h}
    return [
        Step(f"resolution:{new_w}x{new_h}", overrides, f"resolution {w}x{h} -> {new_w}x{new_h}")
    ]


def _ir_steps(config: TrapConfig) -> list[Step]:
    power = config["capture.ir_power"]
    new = max(MIN_IR_POWER, power / 2.0)
    if new >= power:
        return []
    return [Step(f"ir:{new:g}", {"capture__ir_power": new}, f"IR power {power:g} -> {new:g}")]


def _hold_off_steps(config: TrapConfig) -> list[Step]:
    steps, now_s = [], config["capture.hold_off_s"]
    for target_s in HOLD_OFF_STEPS_S:
        if target_s > now_s:
            what = f"hold-off {now_s:g} -> {target_s:g} s"
            steps.append(Step(f"hold-off:{target_s:g}", {"capture__hold_off_s": target_s}, what))
            now_s = target_s
    return steps


def _warm_steps(config: TrapConfig) -> list[Step]:
    warm_s = config["gated.warm_window_s"]
    if warm_s <= 0:
        return []
    third_s = round(warm_s / 3.0, 1)
    return [
        Step(
            f"warm:{third_s:g}",
            {"gated__warm_window_s": third_s},
            f"warm window {warm_s:g} -> {third_s:g} s",
        ),
        Step("warm:0", {"gated__warm_window_s": 0.0}, f"warm window {third_s:g} -> 0 s"),
    ]


def _active_hours_steps(config: TrapConfig) -> list[Step]:
    now, reduced = config["schedule.active_hours"], config["power.reduced_active_hours"]
    if list(now) == list(reduced):
        return []
    what = f"active hours {', '.join(now)} -> {', '.join(reduced)}"
    return [Step("active-hours", {"schedule__active_hours": list(reduced)}, what)]


def merged_overrides(ladder: list[Step], level: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for step in ladder[:level]:
        out.update(step.overrides)
    return out


# -- decisions ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    level: int
    overrides: dict[str, Any]
    changed: bool
    reason: str
    projected_days: float | None  # at the chosen level, from remaining_wh
    days_left: float  # to the target end (0 without a usable target)
    need_wh: float  # the chosen level's use over days_left, before the margin
    from_level: int = 0
    steps: tuple[str, ...] = ()
    remaining_wh: float = 0.0
    daily_j: float = 0.0
    target_end: date | None = None

    def log_record(self) -> dict[str, Any]:
        """A JSON-able record for the trap's log."""
        return {
            "from_level": self.from_level,
            "to_level": self.level,
            "changed": self.changed,
            "steps": list(self.steps),
            "reason": self.reason,
            "remaining_wh": round(self.remaining_wh, 3),
            "need_wh": round(self.need_wh, 3),
            "days_left": round(self.days_left, 2),
            "daily_j": round(self.daily_j, 1),
            "projected_days": None
            if self.projected_days is None
            else round(self.projected_days, 1),
            "target_end": self.target_end.isoformat() if self.target_end else None,
        }


class BudgetController:
    """Picks the ladder level for today; level n applies the first n steps of the ladder."""

    def __init__(self, config: TrapConfig, ladder: list[Step] | None = None) -> None:
        self.config = config
        self.ladder = build_ladder(config) if ladder is None else list(ladder)
        self.margin = config["power.margin"]
        self.pack_v = pack_v_for(config)
        self.levels = [
            config.with_values(**merged_overrides(self.ladder, n)) for n in range(len(self) + 1)
        ]
        base_share = active_share(config["schedule.active_hours"])
        self.activity = [active_share(c["schedule.active_hours"]) / base_share for c in self.levels]

    def __len__(self) -> int:
        return len(self.ladder)

    def daily_j(self, level: int, rates: UsageRates) -> float:
        """Energy per day at this level; `rates` as at level 0 (the base config's hours)."""
        cfg = self.levels[level]
        rates_here = rates.scaled_motion(self.activity[level])
        charge = daily_charge_mas(cfg, rates_here)
        return sum(charge.values()) / 1000.0 * self.pack_v

    def decide(
        self, today: date, remaining_wh: float, rates: UsageRates, level_now: int = 0
    ) -> Decision:
        level_now = min(max(0, level_now), len(self))
        if not math.isfinite(remaining_wh) or remaining_wh < 0:
            remaining_wh = 0.0
        base_rates = rates.scaled_motion(1.0 / self.activity[level_now])
        target = self.config.target_end
        if not self.config["power.budget"]:
            why = "budget controller off (power.budget = false): level 0"
            return self._decision(0, level_now, why, remaining_wh, base_rates, 0.0, target)
        if target is None:
            why = "no target end date (power.target_end is empty): level 0"
            return self._decision(0, level_now, why, remaining_wh, base_rates, 0.0, target)
        if target < today:
            why = f"target end {target} is in the past (today {today}): level 0"
            return self._decision(0, level_now, why, remaining_wh, base_rates, 0.0, target)
        days_left = float((target - today).days + 1)  # today and every day to the target end
        level, why = self._choose(level_now, remaining_wh, base_rates, days_left, today)
        return self._decision(level, level_now, why, remaining_wh, base_rates, days_left, target)

    def _need_wh(self, level: int, rates: UsageRates, days_left: float) -> float:
        return self.daily_j(level, rates) * days_left / 3600.0

    def _choose(
        self, level_now: int, remaining_wh: float, rates: UsageRates, days_left: float, today: date
    ) -> tuple[int, str]:
        need = [self._need_wh(n, rates, days_left) for n in range(len(self) + 1)]
        k = 1.0 + self.margin
        fits = [need[n] * k <= remaining_wh for n in range(len(need))]
        left = f"{remaining_wh:.1f} Wh left for {days_left:g} days"
        now = f"level {level_now} needs {need[level_now]:.1f} Wh x {k:.2f}"
        if not any(fits):
            last = len(self)
            days = remaining_wh * 3600.0 / self.daily_j(last, rates)
            end = today + timedelta(days=math.floor(days))
            return last, (
                f"even the last level ({last}) does not fit: it needs {need[last]:.1f} Wh "
                f"x {k:.2f} > {left}; projected end {end} ({days:.0f} days)"
            )
        lowest = fits.index(True)
        if not fits[level_now]:
            verb = "climb" if lowest > level_now else "drop back"
            return lowest, (
                f"{now} > {left}; {verb} to level {lowest}: {need[lowest]:.1f} Wh x {k:.2f} fits"
            )
        k_restore = k * (1.0 + RESTORE_HYSTERESIS)
        for n in range(lowest, level_now):
            if need[n] * k_restore <= remaining_wh:
                return n, (
                    f"restore to level {n}: it needs {need[n]:.1f} Wh x {k_restore:.2f} "
                    f"(the margin + {RESTORE_HYSTERESIS:.0%} to restore) <= {left}"
                )
        if lowest < level_now:
            return level_now, (
                f"stay at level {level_now}: level {lowest} fits ({need[lowest]:.1f} Wh x {k:.2f}) "
                f"but not with the {RESTORE_HYSTERESIS:.0%} more a restore needs; {left}"
            )
        return (
            level_now,
            f"stay at level {level_now}: it needs {need[level_now]:.1f} Wh x {k:.2f} <= {left}",
        )

    def _decision(
        self,
        level: int,
        level_now: int,
        reason: str,
        remaining_wh: float,
        rates: UsageRates,
        days_left: float,
        target: date | None,
    ) -> Decision:
        daily_j = self.daily_j(level, rates)
        return Decision(
            level=level,
            overrides=merged_overrides(self.ladder, level),
            changed=level != level_now,
            reason=reason,
            projected_days=remaining_wh * 3600.0 / daily_j if daily_j > 0 else None,
            days_left=days_left,
            need_wh=daily_j * days_left / 3600.0,
            from_level=level_now,
            steps=tuple(s.name for s in self.ladder[:level]),
            remaining_wh=remaining_wh,
            daily_j=daily_j,
            target_end=target,
        )


def apply(config: TrapConfig, decision: Decision) -> TrapConfig:
    """The config the trap runs with at this decision's level."""
    return config.with_values(**decision.overrides)
