"""Battery model: pack figures, temperature derating, voltage sag, energy, self-discharge."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device.power.battery import CHEMISTRIES, Battery, PackSpec, interpolate

CAPTURE_MA = 770.0  # Pi + camera ~220 mA plus IR LEDs ~550 mA, at the pack
FLOOR_V = 5.6  # 5 V converter plus its dropout
YEAR_S = 365.25 * 24 * 3600


@pytest.fixture
def ref() -> PackSpec:
    return PackSpec.from_name("L91", 6, 2)


def drained(spec: PackSpec, drawn_mah: float) -> Battery:
    battery = Battery(spec)
    battery.draw(drawn_mah, 3600.0, 20.0)  # drawn_mah mA for an hour
    return battery


def test_reference_pack_is_about_54_wh_and_6000_mah(ref):
    assert ref.nominal_mah == 6000.0
    assert ref.nominal_wh == pytest.approx(54.0, rel=0.05)
    assert ref.nominal_v == pytest.approx(9.0, rel=0.05)
    assert Battery(ref).usable_remaining_wh(20.0) == pytest.approx(54.0, rel=0.05)


def test_l91_usable_fraction_by_temperature(ref):
    assert ref.usable_fraction(25.0) == 1.0
    assert ref.usable_fraction(-25.0) == pytest.approx(0.65)
    assert ref.usable_fraction(-40.0) == pytest.approx(0.5)
    assert ref.usable_fraction(-55.0) == pytest.approx(0.5)


def test_alkaline_loses_more_than_half_at_0c_and_l91_nothing():
    assert PackSpec.from_name("alkaline", 6, 2).usable_fraction(0.0) < 0.5
    assert PackSpec.from_name("L91", 6, 2).usable_fraction(0.0) == 1.0


def test_nimh_has_nothing_below_minus_30c():
    assert PackSpec.from_name("NiMH", 6, 2).usable_fraction(-35.0) == 0.0


def test_interpolate_ascending_descending_and_clamped():
    up = ((0.0, 0.0), (1.0, 10.0), (3.0, 30.0))
    down = tuple(reversed(up))
    for table in (up, down):
        assert interpolate(table, 0.5) == pytest.approx(5.0)
        assert interpolate(table, 2.0) == pytest.approx(20.0)
        assert interpolate(table, 1.0) == pytest.approx(10.0)
        assert interpolate(table, -5.0) == 0.0
        assert interpolate(table, 99.0) == 30.0
    assert interpolate(((4.0, 7.0),), -1.0) == 7.0
    with pytest.raises(ValueError):
        interpolate((), 1.0)


@pytest.mark.parametrize("name", sorted(CHEMISTRIES))
def test_ocv_rises_with_soc_and_clamps(name):
    spec = PackSpec.from_name(name, 6, 2)
    volts = [spec.ocv_v(i / 100) for i in range(101)]
    assert all(b > a for a, b in itertools.pairwise(volts))
    assert spec.ocv_v(-0.5) == spec.ocv_v(0.0)
    assert spec.ocv_v(1.5) == spec.ocv_v(1.0)
    assert spec.soc_from_ocv(0.0) == 0.0
    assert spec.soc_from_ocv(100.0) == 1.0


@given(soc=st.floats(min_value=0.0, max_value=1.0), name=st.sampled_from(sorted(CHEMISTRIES)))
def test_soc_from_ocv_inverts_ocv(soc, name):
    spec = PackSpec.from_name(name, 6, 2)
    assert spec.soc_from_ocv(spec.ocv_v(soc)) == pytest.approx(soc, abs=1e-6)


def test_l91_ocv_shape(ref):
    cell = ref.ocv_v(1.0) / 6
    assert cell == pytest.approx(1.80)
    assert 1.5 <= ref.ocv_v(0.5) / 6 <= 1.6  # plateau
    assert ref.ocv_v(0.0) / 6 == pytest.approx(1.0)
    assert ref.ocv_v(0.1) - ref.ocv_v(0.0) > ref.ocv_v(0.9) - ref.ocv_v(0.2)  # steep tail


def test_cold_raises_resistance_and_sag(ref):
    assert ref.r_internal_ohm(20.0) == pytest.approx(6 * 0.12 / 2)
    assert ref.r_internal_ohm(-20.0) == pytest.approx(2 * ref.r_internal_ohm(20.0))
    assert 4 <= ref.r_internal_ohm(-40.0) / ref.r_internal_ohm(20.0) <= 5
    battery = Battery(ref, soc=0.7)  # above the -40 C usable share: same OCV at both temperatures
    sag_warm = battery.open_circuit_v(20.0) - battery.terminal_v(CAPTURE_MA, 20.0)
    sag_cold = battery.open_circuit_v(-40.0) - battery.terminal_v(CAPTURE_MA, -40.0)
    assert sag_cold > 4 * sag_warm
    assert battery.terminal_v(CAPTURE_MA, -40.0) < battery.terminal_v(CAPTURE_MA, 20.0)


def test_cold_pack_carries_a_capture_until_near_its_cold_empty(ref):
    cold_usable_mah = ref.nominal_mah * ref.usable_fraction(-40.0)  # 3000 mAh
    assert not Battery(ref).is_empty(-40.0, CAPTURE_MA, FLOOR_V)
    assert Battery(ref).terminal_v(CAPTURE_MA, -40.0) > 9.0
    assert drained(ref, 0.90 * cold_usable_mah).terminal_v(CAPTURE_MA, -40.0) > 6.5
    assert drained(ref, 0.95 * cold_usable_mah).is_empty(-40.0, CAPTURE_MA, FLOOR_V)


def test_half_drained_l91_is_under_6v_only_at_minus_40c(ref):
    half = drained(ref, 3000.0)  # exactly the -40 C usable share
    assert half.terminal_v(CAPTURE_MA, -40.0) < 6.0
    for temp_c in (20.0, 0.0, -20.0, -30.0):
        assert half.terminal_v(CAPTURE_MA, temp_c) > 7.5
    assert not half.is_empty(-30.0, CAPTURE_MA, FLOOR_V)
    assert half.is_empty(-40.0, CAPTURE_MA, FLOOR_V)


def test_terminal_voltage_never_negative(ref):
    battery = drained(ref, 6000.0)
    assert battery.terminal_v(100_000.0, -40.0) == 0.0


def test_draining_half_the_pack_gives_about_half_its_energy(ref):
    battery = Battery(ref)
    wh = sum(battery.draw(300.0, 60.0, 20.0) for _ in range(600))  # 300 mA for 10 h
    assert battery.drawn_mah == pytest.approx(3000.0)
    assert battery.soc == pytest.approx(0.5)
    assert wh == pytest.approx(ref.nominal_wh / 2, rel=0.10)
    # I*R loss: less than the same charge at open circuit.
    assert wh < 3.0 * ref.mean_ocv_v(0.5, 1.0)


def test_draw_energy_is_charge_times_loaded_voltage(ref):
    battery = Battery(ref, soc=0.5)
    v = battery.terminal_v(CAPTURE_MA, 20.0)
    wh = battery.draw(CAPTURE_MA, 10.0, 20.0)
    mah = CAPTURE_MA * 10.0 / 3600
    assert wh == pytest.approx(v * mah / 1000, rel=1e-3)
    assert battery.draw(0.0, 10.0, 20.0) == 0.0
    assert battery.draw(CAPTURE_MA, 0.0, 20.0) == 0.0


def test_cold_locks_charge_and_warming_returns_it(ref):
    battery = drained(ref, 2000.0)
    assert battery.accessible_soc(-30.0) < battery.accessible_soc(10.0)
    assert battery.accessible_soc(-30.0) == pytest.approx(1 - 2000 / 3600)
    assert battery.usable_remaining_mah(-30.0) == pytest.approx(1600.0)
    assert battery.usable_remaining_mah(10.0) == pytest.approx(4000.0)
    assert battery.open_circuit_v(-30.0) < battery.open_circuit_v(10.0)
    assert battery.soc == pytest.approx(2 / 3)  # nothing was lost
    assert battery.usable_remaining_wh(-30.0) < battery.usable_remaining_wh(10.0)
    assert drained(ref, 3500.0).usable_remaining_wh(-40.0) == 0.0


@pytest.mark.parametrize(("name", "lost"), [("NiMH", 0.15), ("L91", 0.01), ("alkaline", 0.03)])
def test_a_year_on_the_shelf_at_20c(name, lost):
    battery = Battery(PackSpec.from_name(name, 6, 2))
    for _ in range(365):
        battery.self_discharge(YEAR_S / 365, 20.0)
    assert 1 - battery.soc == pytest.approx(lost, abs=0.01)
    assert battery.self_discharged_mah == pytest.approx(battery.drawn_mah)


def test_self_discharge_doubles_per_10c_and_stops_at_empty(ref):
    warm, cool = Battery(ref), Battery(ref)
    warm.self_discharge(YEAR_S, 30.0)
    cool.self_discharge(YEAR_S, 10.0)
    assert warm.self_discharged_mah == pytest.approx(4 * cool.self_discharged_mah)
    nearly = Battery(ref, soc=0.001)
    nearly.self_discharge(100 * YEAR_S, 60.0)
    assert nearly.soc == 0.0
    assert nearly.drawn_mah == pytest.approx(ref.nominal_mah)


def test_from_name_errors_name_the_bad_value_and_the_known_ones():
    with pytest.raises(ValueError) as err:
        PackSpec.from_name("LiPo", 6, 2)
    assert "LiPo" in str(err.value)
    for name in ("L91", "alkaline", "NiMH"):
        assert name in str(err.value)
    with pytest.raises(ValueError, match="series"):
        PackSpec.from_name("L91", 0, 2)
    with pytest.raises(ValueError, match="parallel=0"):
        PackSpec.from_name("L91", 6, 0)
    assert PackSpec.from_name("nimh", 4, 1).chemistry is CHEMISTRIES["NiMH"]


def test_bad_arguments_raise(ref):
    battery = Battery(ref)
    with pytest.raises(ValueError, match="current_ma"):
        battery.draw(-1.0, 1.0, 20.0)
    with pytest.raises(ValueError, match="duration_s"):
        battery.draw(1.0, -1.0, 20.0)
    with pytest.raises(ValueError, match="duration_s"):
        battery.self_discharge(-1.0, 20.0)
    for soc in (-0.1, 1.1, float("nan")):
        with pytest.raises(ValueError, match="soc"):
            Battery(ref, soc=soc)
    assert battery.drawn_mah == 0.0
