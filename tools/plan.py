"""`irbis plan CONFIG --scenario S`: before deployment, what a trap.toml costs per event and per
day at a scenario's activity and temperatures, how long the pack lasts, what the budget controller
would cut to reach the target date, and how other designs compare. Estimates, not a simulation.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from device.config import TrapConfig
from device.power.battery import Battery, PackSpec
from device.power.budget import (
    BudgetController,
    awake_after_s,
    currents_for,
    daily_charge_mas,
    event_shape,
    pack_for,
    pack_v_for,
    timings_for,
)
from device.power.energy_model import (
    DAY_S,
    STOCK_BOOT_MA,
    STOCK_TIMINGS,
    Currents,
    Timings,
    event_charge_mas,
)
from device.power.usage import UsageRates
from sim.scenario import DAYS_MAX, Scenario

FALSE_TRIGGER_NIGHT_SHARE = 0.5  # wind, sun on rock and snow: no preference for the dark
IR_LEFT_ON_S = 2.5  # a design that switches the IR on for the whole event, not per frame
HC_SR501_PIR_UA = 100.0  # a hobby PIR module in place of the low-power one
PICO_DORMANT_UA = 700.0  # a Pico-class board dormant, through its own regulator
YEAR_DAYS = 365.0


@dataclass(frozen=True)
class Design:
    name: str
    config: TrapConfig
    currents: Currents
    timings: Timings
    ir_left_on_s: float = 0.0


def activity(config: TrapConfig, scenario: Scenario, days: float) -> dict[str, float]:
    """Triggers, events (after the hold-off, an estimate), night share and time-lapse per day."""
    t = scenario.triggers
    busy = 1.0 + t.busy_day_share * (t.busy_day_factor - 1.0)
    storms = sum(1 for d in t.windstorm_days if d < days)
    storm_extra = storms * (t.windstorm_triggers_per_day - t.false_triggers_per_day) / days
    false_per_day = t.false_triggers_per_day * busy + storm_extra
    triggers = t.animal_passes_per_day + false_per_day
    night = t.animal_passes_per_day * t.night_animal_share
    night += false_per_day * FALSE_TRIGGER_NIGHT_SHARE
    frames = config["capture.burst_frames"]
    burst_s = config["capture.burst_interval_s"] * (frames - 1) + Timings().frame_s * frames
    cap = DAY_S / (burst_s + config["capture.hold_off_s"])
    interval_s = config["timelapse.interval_s"]
    return {
        "triggers_per_day": triggers,
        "hold_off_cap_per_day": cap,
        "events_per_day": min(triggers, cap),
        "night_share": night / triggers if triggers > 0 else 0.0,
        "timelapse_shots_per_day": DAY_S / interval_s if interval_s > 0 else 0.0,
    }


def rates_from(act: dict[str, float]) -> UsageRates:
    return UsageRates(
        motion_events_per_day=act["events_per_day"],
        night_events_per_day=act["events_per_day"] * act["night_share"],
        timelapse_shots_per_day=act["timelapse_shots_per_day"],
    )


def designs(config: TrapConfig) -> list[Design]:
    """The config as is, then hardware variants of its gated form, then always-on."""
    c, t = currents_for(config), timings_for(config)
    reference = Design("reference", config, c, t)
    gated = config.with_values(mode="gated")
    own = [reference] if config.mode == "gated" else [reference, Design("gated", gated, c, t)]
    return [
        *own,
        Design(
            "stock boot",
            gated,
            replace(c, boot_ma=STOCK_BOOT_MA),
            replace(t, boot_s=STOCK_TIMINGS.boot_s),
        ),
        Design(f"IR left on {IR_LEFT_ON_S:g} s", gated, c, t, ir_left_on_s=IR_LEFT_ON_S),
        Design(
            f"HC-SR501 PIR ({HC_SR501_PIR_UA:g} uA)", gated, replace(c, pir_ua=HC_SR501_PIR_UA), t
        ),
        Design(
            f"Pico dormant ({PICO_DORMANT_UA:g} uA)",
            gated,
            replace(c, mcu_dormant_ua=PICO_DORMANT_UA, regulator_iq_ua=0.0),
            t,
        ),
        Design("always-on", config.with_values(mode="always-on"), c, t),
    ]


def event_j(design: Design, night: bool, pack_v: float) -> float:
    """One motion event from trigger to halt (boot to shutdown when gated), without the time the
    Pi then stays up (hold-off, warm window: see awake_after_j)."""
    shape = event_shape(design.config, night, ir_left_on_s=design.ir_left_on_s)
    shape = replace(shape, awake_after_s=0.0)
    return sum(event_charge_mas(shape, design.currents, design.timings).values()) / 1000 * pack_v


def baseline_mas_per_day(design: Design) -> float:
    """What the pack gives between events: standby when gated, the idle Pi when always on."""
    c = design.currents
    if design.config.mode == "gated":
        return c.standby_ma * DAY_S
    return (c.idle_ma + c.supervisor_awake_ma) * DAY_S


def design_row(design: Design, rates: UsageRates, pack_v: float, usable_wh: float) -> dict:
    by_state = daily_charge_mas(
        design.config, rates, design.currents, design.timings, design.ir_left_on_s
    )
    wh_per_day = sum(by_state.values()) / 1000 * pack_v / 3600
    return {
        "design": design.name,
        "day_event_j": event_j(design, False, pack_v),
        "night_event_j": event_j(design, True, pack_v),
        "standby_ua": baseline_mas_per_day(design) / DAY_S * 1000,
        "standby_wh_per_year": baseline_mas_per_day(design) / 1000 * pack_v / 3600 * YEAR_DAYS,
        "wh_per_day": wh_per_day,
        "predicted_days": usable_wh / wh_per_day,
        "wh_by_state": {k: v / 1000 * pack_v / 3600 for k, v in by_state.items()},
    }


def target_date(config: TrapConfig, scenario: Scenario, days: float) -> tuple[date, str]:
    if config.target_end is not None:
        return config.target_end, "config power.target_end"
    end = scenario.start_utc.astimezone(scenario.trap.tz) + timedelta(days=days)
    last_day = (end - timedelta(microseconds=1)).date()
    return last_day, f"scenario: start + {days:g} days"


def budget_view(
    config: TrapConfig, scenario: Scenario, days: float, rates: UsageRates, usable_wh: float
) -> dict[str, Any]:
    """What the budget controller would do on the first day to reach the target."""
    target, source = target_date(config, scenario, days)
    today = scenario.start_utc.astimezone(scenario.trap.tz).date()  # the site's local date
    cfg = config.with_values(power__target_end=target.isoformat(), power__budget=True)
    controller = BudgetController(cfg)
    decision = controller.decide(today, usable_wh, rates, 0)
    steps = controller.ladder[: decision.level]
    return {
        "target_end": target.isoformat(),
        "target_source": source,
        "start": today.isoformat(),
        "days_left": decision.days_left,
        "margin": cfg["power.margin"],
        "budget_enabled_in_config": config["power.budget"],
        "level": decision.level,
        "levels": len(controller),
        "steps": [s.name for s in steps],
        "what": [s.what for s in steps],
        "reason": decision.reason,
        "need_wh": decision.need_wh,
        "wh_per_day": decision.daily_j / 3600,
        "predicted_days": decision.projected_days,
    }


def plan(config: TrapConfig, scenario: Scenario, days: float | None = None) -> dict[str, Any]:
    """Everything `irbis plan` prints, as one JSON-able dict."""
    days = scenario.days if days is None else days
    act = activity(config, scenario, days)
    rates = rates_from(act)
    spec: PackSpec = pack_for(config)
    pack_v = pack_v_for(config)
    w = scenario.weather
    usable_mean_wh = Battery(spec).usable_remaining_wh(w.mean_c)
    usable_min_wh = Battery(spec).usable_remaining_wh(w.min_c)
    rows = [design_row(d, rates, pack_v, usable_mean_wh) for d in designs(config)]
    ref = rows[0]
    awake_s = awake_after_s(config)
    c = currents_for(config)
    return {
        "config": config.source,
        "scenario": scenario.name,
        "mode": config.mode,
        "days": days,
        "note": "estimates from device/power/energy_model.py; events per day after the hold-off "
        "are an estimate (at most one per burst + hold-off)",
        "activity": act,
        "events": {
            "day_event_j": ref["day_event_j"],
            "night_event_j": ref["night_event_j"],
            "awake_after_s": awake_s,
            "awake_after_j": awake_s * (c.idle_ma + c.supervisor_awake_ma) / 1000 * pack_v,
        },
        "wh_per_day_by_state": ref["wh_by_state"],
        "wh_per_day": ref["wh_per_day"],
        "standby_share": ref["wh_by_state"]["standby"] / ref["wh_per_day"],
        "pack": {
            "chemistry": spec.chemistry.name,
            "series": spec.series,
            "parallel": spec.parallel,
            "nominal_wh": spec.nominal_wh,
            "mean_c": w.mean_c,
            "min_c": w.min_c,
            "usable_wh_at_mean": usable_mean_wh,
            "usable_wh_at_min": usable_min_wh,
            "predicted_days": ref["predicted_days"],
        },
        "budget": budget_view(config, scenario, days, rates, usable_mean_wh),
        "designs": [{k: v for k, v in r.items() if k != "wh_by_state"} for r in rows],
    }


# -- text -----------------------------------------------------------------------------------------
def render(p: dict[str, Any]) -> str:
    return "\n".join(
        [
            *_render_head(p),
            *_render_events(p),
            *_render_pack(p),
            *_render_budget(p),
            *_render_designs(p),
        ]
    )


def _render_head(p: dict[str, Any]) -> list[str]:
    a = p["activity"]
    return [
        f"irbis plan: {p['config']} with scenario {p['scenario']} ({p['days']:g} days), "
        f"mode {p['mode']}",
        f"  {p['note']}",
        "",
        "Activity per day",
        f"  triggers {a['triggers_per_day']:.1f}; events {a['events_per_day']:.1f} (estimate: "
        f"at most {a['hold_off_cap_per_day']:,.0f} a day after the hold-off); "
        f"night share {a['night_share']:.2f}; time-lapse shots {a['timelapse_shots_per_day']:g}",
    ]


def _render_events(p: dict[str, Any]) -> list[str]:
    e = p["events"]
    lines = [
        "",
        "Energy per motion event (without the time the Pi stays up after it)",
        f"  day event {e['day_event_j']:.1f} J, night event {e['night_event_j']:.1f} J; "
        f"then the Pi stays up {e['awake_after_s']:g} s (hold-off + warm window): "
        f"{e['awake_after_j']:.1f} J",
        "",
        "Energy per day by state (Wh)",
    ]
    total = p["wh_per_day"]
    for state, wh in p["wh_per_day_by_state"].items():
        lines.append(f"  {state:<11} {wh:8.4f}  {wh / total:6.1%}")
    lines.append(f"  {'total':<11} {total:8.4f}  (standby {p['standby_share']:.0%})")
    return lines


def _render_pack(p: dict[str, Any]) -> list[str]:
    k = p["pack"]
    return [
        "",
        f"Pack: {k['chemistry']} {k['series']}S{k['parallel']}P, nominal {k['nominal_wh']:.1f} Wh;"
        f" usable {k['usable_wh_at_mean']:.1f} Wh at {k['mean_c']:g} C (mean), "
        f"{k['usable_wh_at_min']:.1f} Wh at {k['min_c']:g} C (min)",
        f"  predicted days until empty at {k['mean_c']:g} C: {k['predicted_days']:.0f}",
    ]


def _render_budget(p: dict[str, Any]) -> list[str]:
    b = p["budget"]
    days = "-" if b["predicted_days"] is None else f"{b['predicted_days']:.0f}"
    lines = [
        "",
        f"Target {b['target_end']} ({b['target_source']}), {b['days_left']:g} days from "
        f"{b['start']}",
        f"  budget controller (margin {b['margin']:.0%}): level {b['level']} of {b['levels']}, "
        f"predicted days {days}; cuts:" + ("" if b["what"] else " nothing"),
        *(f"    {name:<22} {what}" for name, what in zip(b["steps"], b["what"], strict=True)),
        f"  {b['reason']}",
    ]
    if p["mode"] != "gated":
        lines.append("  (mode always-on: the idle Pi dominates and no step changes that)")
    if not b["budget_enabled_in_config"]:
        lines.append("  (power.budget is false in this config: the trap would not cut)")
    return lines


def _render_designs(p: dict[str, Any]) -> list[str]:
    head = (
        f"  {'design':<24} {'J/day ev':>8} {'J/night ev':>10} {'standby uA':>10} "
        f"{'standby Wh/yr':>13} {'Wh/day':>7} {'days':>6}"
    )
    lines = ["", f"Designs (days at {p['pack']['mean_c']:g} C)", head]
    for r in p["designs"]:
        lines.append(
            f"  {r['design']:<24} {r['day_event_j']:8.1f} {r['night_event_j']:10.1f} "
            f"{r['standby_ua']:10.0f} {r['standby_wh_per_year']:13.2f} {r['wh_per_day']:7.3f} "
            f"{r['predicted_days']:6.0f}"
        )
    lines.append("  (always-on: 'standby' is the idle Pi all day; the variants are gated)")
    return lines


# -- command --------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="irbis plan",
        description="Predict a config's energy, pack life and budget cuts for a scenario.",
    )
    p.add_argument("config", metavar="CONFIG", help="a trap.toml")
    p.add_argument("--scenario", required=True, help="a scenario name or a .toml path")
    p.add_argument(
        "--days",
        type=float,
        default=None,
        help=f"deployment days, up to {DAYS_MAX:g} (default: scenario)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    if args.days is not None and not 0 < args.days <= DAYS_MAX:  # NaN and inf fail too
        p.error(f"--days must be positive, a number of days up to {DAYS_MAX:g}, got {args.days}")

    from device.config import check_target_end
    from device.config import load as load_config
    from device.errors import ConfigError
    from sim import scenario as scenario_mod

    try:
        config = load_config(args.config)
        # A plan is for a deployment to come: a target date that has passed is a mistake.
        check_target_end(config, datetime.now(config.tz).date())
    except FileNotFoundError as exc:
        print(f"irbis plan: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"irbis plan: {args.config}: {exc}", file=sys.stderr)
        return 2
    try:
        scenario = scenario_mod.load(args.scenario)
    except FileNotFoundError as exc:
        print(f"irbis plan: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"irbis plan: scenario {args.scenario}: {exc}", file=sys.stderr)
        return 2
    result = plan(config, scenario, args.days)
    print(json.dumps(result, indent=1) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
