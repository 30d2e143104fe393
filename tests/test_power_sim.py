"""Power in whole simulated deployments: the real supervisor gating the Pi on virtual time, the
battery model, the budget controller, and the faults the supervisor is there for."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sim import scenario as scenario_mod
from sim.metrics import collect
from sim.runner import simulate
from tools.card_check import check_card

pytestmark = pytest.mark.slow


def run(name: str, out: Path, days: float | None = None, **changes):
    """Simulate a scenario with some fields changed: faults=..., hardware=..., trap values."""
    sc = scenario_mod.load(name)
    trap = changes.pop("trap", {})
    if trap:
        changes["trap"] = sc.trap.with_values(**trap)
    for section in ("faults", "hardware"):
        if section in changes:
            changes[section] = replace(getattr(sc, section), **changes[section])
    sc = replace(sc, **changes)
    result = simulate(sc, seed=1, out=out, days=days)
    return result, collect(result)


def assert_nothing_lost(result, metrics) -> None:
    assert metrics["data_loss"] == {"committed_media_missing": 0, "committed_media_corrupt": 0}
    for card_dir in result.bench.card.dirs:
        report = check_card(card_dir)
        assert report.exit_status == 0, report.render()


@pytest.fixture(scope="module")
def windstorm(tmp_path_factory):
    base = tmp_path_factory.mktemp("windstorm")
    return {
        budget: run("windstorm", base / str(budget), trap={"power__budget": budget})
        for budget in (False, True)
    }


def test_windstorm_kills_the_pack_without_the_budget_controller(windstorm):
    result, m = windstorm[False]
    en = m["energy"]
    assert en["exhausted_day"] is not None and en["exhausted_day"] < 90
    assert en["boots_refused_low"] > 0  # never a boot below the floor
    assert_nothing_lost(result, m)


def test_windstorm_with_the_budget_controller_reaches_the_target(windstorm, tmp_path):
    result, m = windstorm[True]
    en = m["energy"]
    assert en["exhausted_day"] is None and en["boots_refused_low"] == 0
    assert en["remaining_fraction"] > 0.1
    off = windstorm[False][1]["energy"]
    assert en["consumed_wh"] < off["consumed_wh"]
    # every change of level was logged with its reason
    log = (result.card_dir.parent / "trap.log").read_text()
    assert '"msg": "budget"' in log and "climb to level" in log
    assert_nothing_lost(result, m)


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    return run("station-365d", tmp_path_factory.mktemp("station"))


def test_the_365_day_station_finishes_on_12_l91_with_30_percent_left(station):
    result, m = station
    en = m["energy"]
    assert m["simulated_days"] == 365 and en["pack"] == "12 x L91 (6S2P)"
    assert en["exhausted_day"] is None and en["boots_refused_low"] == 0
    assert en["remaining_fraction"] >= 0.30  # of the cold-derated pack (at the -5 C mean)
    assert en["standby_share"] > 0.05  # a year of standby is a visible share
    assert_nothing_lost(result, m)


def test_a_hung_pi_is_power_cycled_by_the_watchdog(tmp_path):
    result, m = run("altai-winter-90d", tmp_path, days=4, faults={"pi_hang_at_days": [1.5]})
    sup = m["supervisor"]
    assert m["faults"]["injected"]["pi_hang"] == 1
    assert sup["counters"]["watchdog_resets"] == 1 and sup["counters"]["wakes_watchdog"] == 1
    assert sup["rail_cuts_under_running_pi"] >= 1
    # the trap works again after the cycle: events on the last days
    days = sorted({r["trigger_time"][:10] for r in _events(result)})
    assert days[-1] >= "2026-12-04"
    assert_nothing_lost(result, m)


def test_a_brownout_shuts_the_pi_down_cleanly_and_loses_nothing(tmp_path):
    # 10 s after the batteries go in (the Pi is up for its first warm window) the pack sags to
    # about 6.3 V for an hour (a cold snap on a tired pack); the mid-event case: test_trap_power.py
    result, m = run(
        "altai-winter-90d", tmp_path, days=1, faults={"pack_sag": [[10 / 86400, 4.5, 3600]]}
    )
    sup = m["supervisor"]["counters"]
    assert sup["brownouts"] >= 1
    assert sup["urgent_timeouts"] == 0  # the Pi finished its event, said so and halted in time
    log = (result.card_dir.parent / "trap.log").read_text()
    assert "supervisor asks to shut down" in log and '"reason": "brownout"' in log
    # and no boot below the floor while it lasts: the PIR wakes in that hour are refused
    first_after = min(
        (r["trigger_time"] for r in _events(result) if r["trigger_time"] > "2026-12-01T00:01"),
    )
    assert first_after >= "2026-12-01T01:00"
    assert m["energy"]["boots_refused_low"] >= 1
    assert_nothing_lost(result, m)


def test_garbled_link_frames_are_counted_and_the_trap_carries_on(tmp_path):
    result, m = run("altai-winter-90d", tmp_path, days=3, faults={"link_garble_share": 0.2})
    sup = m["supervisor"]
    assert sup["link_frames_garbled_on_the_wire"] > 5
    assert sup["counters"]["frames_bad"] > 0
    assert m["events"]["captured"] > 20
    assert_nothing_lost(result, m)


def test_a_supervisor_that_never_answers_is_logged_and_nothing_crashes(tmp_path):
    result, m = run("altai-winter-90d", tmp_path, days=2, faults={"supervisor_silent": True})
    counters = m["supervisor"]["counters"]
    assert counters["hello_timeouts"] >= 3 and counters["boot_failures"] >= 1
    log = (result.card_dir.parent / "trap.log").read_text()
    assert "supervisor did not answer" in log and "running always-on" in log
    assert_nothing_lost(result, m)


def _events(result) -> list[dict]:
    from sim.metrics import deployment_roots, read_journal

    return [
        r
        for root in deployment_roots(result)
        for r in read_journal(root)
        if r.get("kind") == "event"
    ]
