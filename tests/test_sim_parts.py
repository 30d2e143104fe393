"""The simulator's parts: virtual clock, energy ledger, world, scenarios."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from device.errors import ConfigError
from device.power.battery import Battery, PackSpec
from sim import scenario as scenario_mod
from sim.clock import VirtualClock
from sim.energy import Ledger
from sim.world import DAY_S, World, lux_from_elevation, solar_elevation_deg

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def test_virtual_clock_jumps_to_timers_in_order_and_repeats():
    clock = VirtualClock(T0)
    fired = []
    clock.call_later(5.0, lambda: fired.append(("once", clock.monotonic_s())))
    tick = clock.call_every(2.0, lambda: fired.append(("tick", clock.monotonic_s())))
    clock.sleep_s(7.0)
    assert fired == [("tick", 2.0), ("tick", 4.0), ("once", 5.0), ("tick", 6.0)]
    assert clock.monotonic_s() == 7.0
    assert clock.now_utc() == datetime(2026, 12, 1, 0, 0, 7, tzinfo=UTC)
    tick.cancel()
    assert clock.run_until(lambda: False, 100.0) is False and clock.monotonic_s() == 100.0


def test_run_until_returns_when_a_timer_makes_the_condition_true():
    clock = VirtualClock(T0)
    box = []
    clock.call_later(30.0, lambda: box.append(1))
    clock.call_later(60.0, lambda: box.append(2))
    assert clock.run_until(lambda: bool(box), 1000.0) is True
    assert clock.monotonic_s() == 30.0 and box == [1]


def test_virtual_clock_needs_an_aware_start():
    with pytest.raises(ValueError):
        VirtualClock(datetime(2026, 12, 1))


def test_ledger_books_charge_by_state_and_draws_it_from_the_battery():
    clock = VirtualClock(T0)
    battery = Battery(PackSpec.from_name("L91", 6, 2))
    ledger = Ledger(clock, battery, lambda: 20.0)
    ledger.set("supervisor", "standby")
    ledger.set("pi", "boot")
    clock.sleep_s(3.5)
    ledger.set("pi", "idle")
    ledger.set("ir", "ir", 0.5)  # half power
    clock.sleep_s(0.05)
    ledger.set("ir", "off")
    clock.sleep_s(86400 - 3.55)
    ledger.set("pi", "off")
    ledger.close()
    mas = ledger.charge_mas
    assert mas["boot"] == pytest.approx(52.0 * 3.5)
    assert mas["ir"] == pytest.approx(550.0 * 0.5 * 0.05)
    assert mas["standby"] == pytest.approx(0.030 * 86400)  # 30 uA for a day
    drawn_mah = sum(mas.values()) / 3600
    assert battery.drawn_mah == pytest.approx(drawn_mah, rel=0.05)  # + a day's self-discharge
    wh = ledger.wh_by_state()
    mean_v = sum(wh.values()) * 1000 / drawn_mah
    assert 9.0 < mean_v < battery.spec.ocv_v(1.0)  # at the pack's voltage, not a nominal one
    with pytest.raises(ValueError):
        ledger.set("pi", "warp")


def test_the_pack_sags_under_load_and_more_in_the_cold():
    clock = VirtualClock(T0)
    temps = {"c": 20.0}
    ledger = Ledger(clock, Battery(PackSpec.from_name("L91", 6, 2)), lambda: temps["c"])
    rest_v = ledger.pack_v()
    ledger.set("pi", "idle")
    ledger.set("camera", "camera")
    ledger.set("ir", "ir")
    warm_sag_v = rest_v - ledger.pack_v()
    temps["c"] = -40.0
    cold_sag_v = ledger.battery.open_circuit_v(-40.0) - ledger.pack_v()
    assert 0 < warm_sag_v < cold_sag_v


def test_sun_is_up_at_local_noon_and_down_at_midnight_in_the_altai_winter():
    noon = datetime(2026, 12, 21, 5, 0, tzinfo=UTC)  # 12:00 at +07:00
    midnight = datetime(2026, 12, 21, 17, 0, tzinfo=UTC)
    assert 10 < solar_elevation_deg(noon, 49.7, 89.3) < 20  # winter solstice: ~17 degrees
    assert solar_elevation_deg(midnight, 49.7, 89.3) < -40
    assert lux_from_elevation(-20) < 1 and lux_from_elevation(15) > 10_000


def test_world_is_seeded_and_matches_the_scenario_rates():
    sc = scenario_mod.load("altai-winter-90d")
    a, b = World(sc, 7), World(sc, 7)
    assert [(p.kind, p.start_s) for p in a.passes] == [(p.kind, p.start_s) for p in b.passes]
    assert [(p.start_s) for p in World(sc, 8).passes] != [p.start_s for p in a.passes]
    animals = [p for p in a.passes if p.kind == "animal"]
    false = [p for p in a.passes if p.kind != "animal"]
    assert 2.3 < len(animals) / 90 < 3.7
    assert 7 < len(false) / 90 < 11  # 7 a day plus busy days at 3x
    light = [p for p in false if p.kind == "light"]
    assert all(a.lux_at(p.start_s) >= 5 for p in light)  # sun on rock needs the sun


def test_pir_edges_alternate_and_merge_overlapping_passes():
    sc = scenario_mod.load("altai-winter-90d")
    w = World(sc, 3)
    levels = [lvl for _, lvl in w.pir_edges]
    assert levels == [True, False] * (len(levels) // 2)
    times = [t for t, _ in w.pir_edges]
    assert times == sorted(times)
    stuck_day, stuck_s = sc.faults.pir_stuck[0]
    assert any(
        rise <= stuck_day * DAY_S and fall >= stuck_day * DAY_S + stuck_s
        for (rise, _), (fall, _) in zip(w.pir_edges[::2], w.pir_edges[1::2], strict=True)
    )


def test_temperatures_stay_in_the_scenario_range():
    sc = scenario_mod.load("altai-winter-90d")
    w = World(sc, 1)
    temps = [w.temperature_c(h * 3600.0) for h in range(90 * 24)]
    assert min(temps) >= -45 and max(temps) <= -5
    assert -30 < sum(temps) / len(temps) < -20


def test_scenario_errors_name_the_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("days = 10\n[triggers]\nanimal_passes_per_dya = 3.0\n")
    with pytest.raises(ConfigError, match=r"triggers\.animal_passes_per_dya"):
        scenario_mod.load(str(bad))
    bad.write_text("days = 10\n[trap.capture]\nburst_frames = 0\n")
    with pytest.raises(ConfigError, match=r"trap\.capture\.burst_frames"):
        scenario_mod.load(str(bad))
    with pytest.raises(FileNotFoundError, match="altai-winter-90d"):
        scenario_mod.load("no-such-scenario")


def test_sim_backend_from_the_registry_implements_the_interfaces_over_a_quiet_world(tmp_path):
    from device.clock import RealClock
    from device.config import validate
    from device.hal import interfaces as hal
    from device.hal.registry import open_backend

    (tmp_path / "data").mkdir()
    storage = {"card_path": str(tmp_path), "data_path": str(tmp_path / "data")}
    config = validate({"backend": "sim", "storage": storage})
    hw = open_backend("sim", config, RealClock())
    assert hw.backend == "sim"
    for part, protocol in [
        (hw.motion, hal.MotionSensor),
        (hw.camera, hal.Camera),
        (hw.illuminator, hal.Illuminator),
        (hw.card, hal.Card),
        (hw.power, hal.PowerMonitor),
        (hw.link, hal.SupervisorLink),
    ]:
        assert isinstance(part, protocol)
    assert hw.extras["bench"].world.passes == [] and not hw.motion.is_active
    assert hw.card.mount_path == tmp_path
    assert hw.data_io.root == tmp_path / "data"  # type: ignore[attr-defined]
    hw.close()
