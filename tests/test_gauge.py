"""Fuel gauge: the ledger lowers the estimate, rest voltages correct it by how steep the OCV curve
is there, impossible readings are ignored, and the state survives a JSON round trip."""

from __future__ import annotations

import json
import math

import pytest

from device.power.battery import Battery, PackSpec
from device.power.gauge import FuelGauge

MAH_S = 3600.0  # mA s in one mAh


@pytest.fixture
def ref() -> PackSpec:
    return PackSpec.from_name("L91", 6, 2)  # 6000 mAh


def test_booking_lowers_soc_by_charge_over_nominal(ref):
    gauge = FuelGauge(ref)
    gauge.book(600 * MAH_S)  # 600 mAh of 6000
    assert gauge.soc == pytest.approx(0.9, abs=1e-12)
    assert gauge.booked_mas == 600 * MAH_S
    assert gauge.variance == pytest.approx((0.15 * 0.1) ** 2, rel=1e-9)
    gauge.book(60 * MAH_S)
    assert gauge.soc == pytest.approx(0.89, abs=1e-12)


def test_variance_grows_with_the_charge_booked_not_with_the_number_of_bookings(ref):
    one, many = FuelGauge(ref), FuelGauge(ref)
    one.book(1200 * MAH_S)
    for _ in range(1000):
        many.book(1.2 * MAH_S)
    assert many.soc == pytest.approx(one.soc, abs=1e-9)
    assert many.sigma_soc == pytest.approx(one.sigma_soc, rel=1e-6)
    assert one.sigma_soc == pytest.approx(0.15 * 0.2)


def test_booking_negative_charge_is_a_bug(ref):
    with pytest.raises(ValueError, match="charge_mas"):
        FuelGauge(ref).book(-1.0)


def test_rest_voltage_in_the_steep_end_pulls_hard_on_the_plateau_barely(ref):
    steep = FuelGauge(ref, soc=0.5, variance=0.02**2)
    assert steep.observe_rest_voltage(ref.ocv_v(0.07), 20.0)
    assert steep.soc == pytest.approx(0.07, abs=0.01)  # > 97 % of the way
    assert steep.sigma_soc < 0.002  # the knee is steep: the reading is sharp

    flat = FuelGauge(ref, soc=0.5, variance=0.02**2)
    assert flat.observe_rest_voltage(ref.ocv_v(0.35), 20.0)
    moved = (0.5 - flat.soc) / (0.5 - 0.35)
    assert 0.0 < moved < 0.2
    assert flat.readings_used == 1 and flat.variance < 0.02**2


def test_cold_voltage_reads_through_the_usable_fraction(ref):
    # At -20 C 70 % is usable; a pack whose voltage says half of that is left has used 35 %.
    gauge = FuelGauge(ref, soc=1.0, variance=1.0)
    gauge.observe_rest_voltage(ref.ocv_v(0.5), -20.0)
    assert gauge.soc == pytest.approx(0.65, abs=0.01)


@pytest.mark.parametrize(
    ("pack_v", "temp_c"),
    [(math.nan, 20.0), (0.0, 20.0), (-3.0, 20.0), (10.8 + 1.01, 20.0), (9.0, math.nan)],
)
def test_impossible_readings_are_counted_and_ignored(ref, pack_v, temp_c):
    gauge = FuelGauge(ref, soc=0.6, variance=0.01)
    assert gauge.observe_rest_voltage(pack_v, temp_c) is False
    assert (gauge.soc, gauge.variance) == (0.6, 0.01)
    assert gauge.rejected_readings == 1 and gauge.readings_used == 0


def test_a_reading_just_above_full_is_believed(ref):
    gauge = FuelGauge(ref, soc=0.9, variance=0.01)
    assert gauge.observe_rest_voltage(ref.ocv_v(1.0) + 0.5, 20.0)
    assert gauge.soc > 0.99 and gauge.rejected_readings == 0


def test_remaining_energy_and_projected_days_follow_the_battery_model(ref):
    gauge = FuelGauge(ref, soc=0.8)
    expected_wh = Battery(ref, 0.8).usable_remaining_wh(-25.0)
    assert gauge.remaining_usable_wh(-25.0) == pytest.approx(expected_wh)
    assert expected_wh < Battery(ref, 0.8).usable_remaining_wh(20.0)
    assert gauge.projected_days(360.0, -25.0) == pytest.approx(expected_wh * 10.0)
    assert gauge.projected_days(0.0, -25.0) is None


def test_state_round_trips_through_json(ref):
    gauge = FuelGauge(ref, soc=0.7, variance=0.003)
    gauge.book(12.5)
    gauge.observe_rest_voltage(-1.0, 0.0)
    gauge.observe_rest_voltage(ref.ocv_v(0.6), 0.0)
    back = FuelGauge.from_dict(json.loads(json.dumps(gauge.to_dict())))
    assert back == gauge
    assert back.spec == ref and back.rejected_readings == 1 and back.readings_used == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("soc", 1.5),
        ("soc", "full"),
        ("variance", -0.1),
        ("booked_mas", math.nan),
        ("readings_used", 2.5),
        ("rejected_readings", True),
        ("chemistry", "lead-acid"),
        ("series", 0),
        ("sigma_v", 0.0),
    ],
)
def test_corrupt_state_raises_naming_the_field(ref, field, value):
    data = FuelGauge(ref).to_dict()
    data[field] = value
    with pytest.raises(ValueError, match=field):
        FuelGauge.from_dict(data)


def test_missing_field_and_non_object_are_refused(ref):
    data = FuelGauge(ref).to_dict()
    del data["variance"]
    with pytest.raises(ValueError, match="variance"):
        FuelGauge.from_dict(data)
    with pytest.raises(ValueError, match="object"):
        FuelGauge.from_dict([1, 2])
