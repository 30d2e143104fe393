"""Budget controller: the ladder's order, choosing the lowest level that lasts with the margin,
the restore hysteresis, no or past targets, the usage tracker's rates and persisted state."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from device.config import defaults
from device.power.budget import (
    BudgetController,
    active_share,
    apply,
    awake_after_s,
    currents_for,
)
from device.power.energy_model import DAY_S, EventShape, event_energy_j
from device.power.usage import UsageRates, UsageTracker

TODAY = date(2026, 12, 1)
TARGET = date(2027, 2, 28)  # 90 days including today
RATES = UsageRates(motion_events_per_day=10.0, night_events_per_day=5.0, timelapse_shots_per_day=2)
TZ = timezone(timedelta(hours=7))


@pytest.fixture
def controller() -> BudgetController:
    return BudgetController(defaults().with_values(power__target_end=TARGET.isoformat()))


def needs_wh(controller: BudgetController, days: float = 90.0) -> list[float]:
    return [controller.daily_j(n, RATES) * days / 3600 for n in range(len(controller) + 1)]


def test_default_ladder_order(controller):
    assert [s.name for s in controller.ladder] == [
        "burst:2",
        "burst:1",
        "resolution:1152x648",
        "ir:0.5",
        "hold-off:30",
        "hold-off:60",
        "warm:10",
        "warm:0",
        "active-hours",
    ]
    kinds = [s.kind for s in controller.ladder]
    assert list(dict.fromkeys(kinds)) == [
        "burst",
        "resolution",
        "ir",
        "hold-off",
        "warm",
        "active-hours",
    ]


def test_levels_are_cumulative_and_apply_sets_them(controller):
    decision = controller.decide(TODAY, 0.5, RATES, 0)  # nothing fits: the last level
    assert decision.level == len(controller)
    cfg = apply(controller.config, decision)
    assert cfg["capture.burst_frames"] == 1
    assert (cfg["capture.main_width"], cfg["capture.main_height"]) == (1152, 648)
    assert cfg["capture.ir_power"] == 0.5
    assert cfg["capture.hold_off_s"] == 60.0
    assert cfg["gated.warm_window_s"] == 0.0
    assert cfg["schedule.active_hours"] == ["16:00-10:00"]
    assert decision.steps == tuple(s.name for s in controller.ladder)


def test_steps_only_where_they_degrade():
    cfg = defaults().with_values(
        capture__burst_frames=1,
        capture__main_width=800,
        capture__main_height=600,
        capture__ir_power=0.25,
        capture__hold_off_s=45.0,
        gated__warm_window_s=0.0,
    )
    names = [s.name for s in BudgetController(cfg).ladder]
    assert names == ["resolution:640x480", "hold-off:60", "active-hours"]


def test_daily_energy_from_the_energy_model(controller):
    day = EventShape(burst_frames=3, awake_after_s=40.0)
    night = EventShape(burst_frames=3, night=True, awake_after_s=40.0)
    shot = (event_energy_j(EventShape(1)) + event_energy_j(EventShape(1, night=True))) / 2
    standby_j = 30e-3 * DAY_S / 1000 * 9.0
    expected = 5 * event_energy_j(day) + 5 * event_energy_j(night) + 2 * shot + standby_j
    assert controller.daily_j(0, RATES) == pytest.approx(expected, rel=0.002)  # L91: 9.0 V mean


def test_active_hours_scale_the_motion_events(controller):
    last = len(controller)
    fixed = controller.daily_j(last, UsageRates(timelapse_shots_per_day=2))
    before = controller.daily_j(last - 1, RATES) - fixed
    after = controller.daily_j(last, RATES) - fixed
    assert active_share(["16:00-10:00"]) == 0.75
    assert after == pytest.approx(0.75 * before)


def test_standby_and_awake_time_follow_the_config():
    cfg = defaults()
    assert currents_for(cfg.with_values(power__standby_ua=80.0)).standby_ua == pytest.approx(80)
    assert currents_for(cfg.with_values(power__standby_ua=5.0)).standby_ua == pytest.approx(5)
    assert awake_after_s(cfg) == 40.0
    assert awake_after_s(cfg.with_values(gated__warm_window_s=0.0)) == 0.0
    assert awake_after_s(cfg.with_values(mode="always-on")) == 0.0


def test_plenty_left_stays_at_level_0(controller):
    decision = controller.decide(TODAY, 35.0, RATES, 0)
    assert (decision.level, decision.changed, decision.overrides) == (0, False, {})
    assert decision.days_left == 90.0
    assert decision.need_wh == pytest.approx(needs_wh(controller)[0])
    assert decision.projected_days == pytest.approx(35.0 * 3600 / controller.daily_j(0, RATES))


def test_short_pack_climbs_to_the_lowest_level_that_fits_with_margin(controller):
    need = needs_wh(controller)
    assert need[2] < need[1] < need[0]
    remaining = need[2] * 1.3 * 1.001
    assert remaining < need[1] * 1.3
    decision = controller.decide(TODAY, remaining, RATES, 0)
    assert decision.level == 2 and decision.changed  # resolution (level 3) saves nothing more
    assert decision.overrides == {"capture__burst_frames": 1}
    # Without the margin's room the same pack goes further down the ladder.
    assert controller.decide(TODAY, need[2] * 1.29, RATES, 0).level > 2


def test_restoring_needs_ten_percent_more(controller):
    need0 = needs_wh(controller)[0]
    just_above = controller.decide(TODAY, need0 * 1.3 * 1.01, RATES, 1)
    assert just_above.level == 1 and not just_above.changed
    assert "restore" in just_above.reason
    well_above = controller.decide(TODAY, need0 * 1.3 * 1.15, RATES, 1)
    assert well_above.level == 0 and well_above.changed


def test_rates_observed_under_reduced_hours_count_for_the_full_day(controller):
    last = len(controller)
    seen = RATES.scaled_motion(0.75)  # what the trap counts while running the reduced hours
    decision = controller.decide(TODAY, 100.0, seen, last)
    assert decision.level == 0
    assert decision.daily_j == pytest.approx(controller.daily_j(0, RATES))


def test_when_nothing_fits_the_last_level_and_the_projected_end(controller):
    decision = controller.decide(TODAY, 2.0, RATES, 0)
    assert decision.level == len(controller)
    assert "does not fit" in decision.reason and "projected end 2027-" in decision.reason
    assert decision.projected_days == pytest.approx(
        2.0 * 3600 / controller.daily_j(len(controller), RATES)
    )


def test_past_target_is_level_0_and_says_so(controller):
    decision = controller.decide(date(2027, 3, 1), 0.1, RATES, 4)
    assert decision.level == 0 and decision.changed and decision.overrides == {}
    assert "past" in decision.reason and "2027-02-28" in decision.reason
    assert controller.decide(TARGET, 0.1, RATES, 0).days_left == 1.0  # the last day still counts


def test_no_target_or_budget_off_is_level_0():
    no_target = BudgetController(defaults()).decide(TODAY, 0.1, RATES, 3)
    assert no_target.level == 0 and "no target" in no_target.reason
    off = defaults().with_values(power__target_end=TARGET.isoformat(), power__budget=False)
    decision = BudgetController(off).decide(TODAY, 0.1, RATES, 0)
    assert decision.level == 0 and "power.budget = false" in decision.reason


def test_log_record_is_json(controller):
    decision = controller.decide(TODAY, 0.5, RATES, 2)
    record = json.loads(json.dumps(decision.log_record()))
    assert record["from_level"] == 2 and record["to_level"] == len(controller)
    assert record["steps"][-1] == "active-hours" and record["target_end"] == "2027-02-28"
    assert record["remaining_wh"] == 0.5 and record["need_wh"] > 0.5


def tracker_with_history() -> UsageTracker:
    tracker = UsageTracker()
    for back in range(1, 10):  # 9 past days; day 3 back has no data
        if back == 3:
            continue
        day = TODAY - timedelta(days=back)
        events = 100 if back > 7 else 10  # the two oldest fall out of the last 7 days with data
        for i in range(events):
            tracker.record_event(day, night=i < events // 2)
        tracker.record_timelapse(day)
        tracker.record_awake_after(day, 400.0)
    for i in range(6):
        tracker.record_event(TODAY, night=i < 3)
    tracker.record_event(TODAY + timedelta(days=1), night=False)  # a clock jump: ignored
    return tracker


def test_tracker_rates_over_the_last_seven_days_with_data():
    rates = tracker_with_history().rates(datetime(2026, 12, 1, 12, 0, tzinfo=TZ))
    # today (half a day, 6 events) and the 6 most recent past days with data (10 each)
    assert rates.days_of_data == pytest.approx(6.5)
    assert rates.motion_events_per_day == pytest.approx(66 / 6.5)
    assert rates.night_events_per_day == pytest.approx(33 / 6.5)
    assert rates.night_share == pytest.approx(0.5)
    assert rates.timelapse_shots_per_day == pytest.approx(6 / 6.5)
    assert rates.awake_after_s_per_day == pytest.approx(2400 / 6.5)


def test_tracker_without_data_gives_the_prior():
    prior = UsageRates(motion_events_per_day=12.0)
    assert UsageTracker().rates(datetime(2026, 12, 1, tzinfo=TZ), prior) == prior
    assert UsageTracker().rates(datetime(2026, 12, 1, tzinfo=TZ)).motion_events_per_day == 0.0


def test_tracker_round_trips_and_refuses_corrupt_state():
    tracker = tracker_with_history()
    back = UsageTracker.from_dict(json.loads(json.dumps(tracker.to_dict())))
    assert back == tracker
    data = tracker.to_dict()
    data["days"]["2026-11-30"]["night_events"] = -2
    with pytest.raises(ValueError, match=r"days\.2026-11-30\.night_events"):
        UsageTracker.from_dict(data)
    with pytest.raises(ValueError, match=r"days\.yesterday"):
        UsageTracker.from_dict({"days": {"yesterday": {}}})
    with pytest.raises(ValueError, match="days"):
        UsageTracker.from_dict({})


def test_tracker_keeps_two_weeks():
    tracker = UsageTracker()
    for back in range(30):
        tracker.record_event(TODAY - timedelta(days=back), night=False)
    assert len(tracker.days) == 14 and min(tracker.days) == TODAY - timedelta(days=13)
