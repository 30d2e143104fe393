"""The supervisor's state machine under CPython: wakes, hello, watchdog, brown-out, timeouts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device.supervisor import link
from device.supervisor import logic as sl
from sim.clock import VirtualClock
from sim.fake_machine import FakeMachine, load_board

T0 = 1_790_000_000_000  # epoch ms


class Pi:
    """Drives a Supervisor as the Pi and the board would, and reads what it does."""

    def __init__(self, pack_mv: int = 9000, **settings: object) -> None:
        self.sup = sl.Supervisor(settings or None)
        self.now = T0
        self.rail: list[bool] = []
        self.leds: list[int] = []
        self.frames: list[tuple[int, dict]] = []
        self.rtc: list[int] = []
        self._decoder = link.Decoder()
        self.pack_mv = pack_mv
        self.sample()

    def at(self, ms: int) -> Pi:
        self.now = T0 + ms
        return self

    def drain(self) -> None:
        for action in self.sup.take_actions():
            kind = action[0]
            if kind == "rail":
                self.rail.append(action[1])
            elif kind == "led":
                self.leds.append(action[1])
            elif kind == "tx":
                self.frames += self._decoder.feed(action[1])
            elif kind == "set_rtc":
                self.rtc.append(action[1])

    def sample(self, pack_mv: int | None = None, temp_c: float | None = -20.0) -> None:
        if pack_mv is not None:
            self.pack_mv = pack_mv
        self.sup.sample(self.pack_mv, temp_c, self.now)
        self.drain()

    def send(self, msg_type: int, payload: dict | None = None) -> None:
        self.sup.rx(link.encode(msg_type, payload or {}), self.now)
        self.drain()

    def hello(self, **fields: object) -> dict:
        self.send(link.HELLO, {"fw": "test", "link": link.LINK_VERSION, **fields})
        return self.last(link.HELLO)

    def last(self, msg_type: int) -> dict:
        for t, payload in reversed(self.frames):
            if t == msg_type:
                return payload
        raise AssertionError(f"no {link.NAMES[msg_type]} frame sent")

    def pir(self) -> None:
        self.sup.pir(self.now)
        self.drain()

    def tick(self) -> None:
        self.sup.tick(self.now)
        self.drain()

    def run_to_deadline(self) -> None:
        due = self.sup.next_deadline_ms()
        assert due is not None
        self.now = max(self.now, due)
        self.tick()

    @property
    def state(self) -> str:
        return sl.STATE_NAMES[self.sup.state]


def up(pi: Pi) -> Pi:
    """Batteries in, the Pi boots, says hello, halts; the supervisor is asleep again."""
    pi.sup.power_up(pi.now)
    pi.drain()
    pi.hello()
    pi.send(link.SLEEP, {"reason": "setup", "wake_at_s": None})
    pi.sup.halted(pi.now)
    pi.drain()
    pi.run_to_deadline()  # settle
    assert pi.state == "asleep"
    return pi


def test_batteries_in_boot_the_pi_once_and_hello_reports_the_reason():
    pi = Pi()
    pi.sup.power_up(pi.now)
    pi.drain()
    assert pi.rail == [True] and pi.state == "powering" and sl.LED_WAKE in pi.leds
    reply = pi.at(3500).hello()
    assert pi.state == "on"
    assert reply["wake"] == "boot" and reply["fw"] == sl.FIRMWARE_VERSION
    assert reply["link"] == link.LINK_VERSION and reply["pack_mv"] == 9000
    assert reply["wake_age_ms"] == 3500 and reply["rtc_set"] is False


def test_a_pir_wake_reports_when_the_edge_fired_and_motion_during_boot():
    pi = up(Pi()).at(60_000)
    pi.pir()
    assert pi.rail[-1] is True and pi.state == "powering"
    pi.at(61_000).pir()  # the animal moves again while the Pi boots
    reply = pi.at(63_500).hello()
    assert reply["wake"] == "pir" and reply["wake_age_ms"] == 3500
    assert reply["pir_during_boot"] == 1 and reply["pir_age_ms"] == 2500
    assert pi.sup.counters["pir_while_booting"] == 1 and pi.sup.counters["wakes_pir"] == 1


def test_a_pi_that_never_says_hello_is_power_cycled_then_given_up():
    pi = Pi()
    pi.sup.power_up(pi.now)
    pi.drain()
    retries = sl.DEFAULTS["hello_retries"]
    for _ in range(2 * (retries + 1)):  # a hello timeout, then the rail settles; each try
        pi.run_to_deadline()
    assert pi.rail == [True, False] * (retries + 1)
    assert pi.sup.counters["hello_timeouts"] == retries + 1
    assert pi.sup.counters["boot_failures"] == 1 and sl.LED_NO_HELLO in pi.leds
    assert pi.state == "asleep"
    gave_up_ms = pi.now
    pi.run_to_deadline()  # nothing until the forced wake a day after the last try
    assert pi.rail[-1] is True and pi.now - gave_up_ms > sl.DAY_MS - 60_000


def test_the_watchdog_power_cycles_a_pi_that_stops_kicking():
    pi = up(Pi()).at(100_000)
    pi.pir()
    pi.hello()
    pi.at(150_000).send(link.KICK)
    pi.at(150_000 + sl.DEFAULTS["watchdog_ms"]).tick()
    assert pi.state == "on"  # exactly at the limit: not yet
    pi.at(150_001 + sl.DEFAULTS["watchdog_ms"]).tick()
    assert pi.rail[-1] is False and sl.LED_WATCHDOG in pi.leds
    assert pi.sup.counters["watchdog_resets"] == 1
    pi.run_to_deadline()  # settle, then the rail goes on again
    assert pi.rail[-1] is True
    assert pi.hello()["wake"] == "watchdog"


def test_watchdog_and_awake_limits_come_from_the_pis_hello_within_bounds():
    pi = up(Pi()).at(10_000)
    pi.pir()
    pi.hello(watchdog_ms=60_000, max_awake_ms=5, floor_mv=6_900)
    assert pi.sup.cfg["watchdog_ms"] == 60_000
    assert pi.sup.cfg["max_awake_ms"] == sl.DEFAULTS["max_awake_ms"]  # 5 ms is out of bounds
    assert pi.sup.cfg["floor_mv"] == 6_900


def test_brownout_asks_the_pi_to_shut_down_and_no_boot_until_the_pack_recovers():
    pi = up(Pi()).at(10_000)
    pi.pir()
    pi.hello()
    for i in range(sl.DEFAULTS["low_samples"] - 1):
        pi.at(11_000 + i * 1000).sample(5_800)
    assert pi.frames[-1][0] == link.HELLO  # one reading short of a brown-out
    pi.at(14_000).sample(5_800)
    shutdown = pi.last(link.SHUTDOWN)
    assert shutdown["reason"] == "brownout" and pi.sup.counters["brownouts"] == 1
    pi.at(16_000).send(link.SLEEP, {"reason": "brownout"})  # the event in flight is stored
    pi.sup.halted(pi.now)
    pi.drain()
    assert pi.rail[-1] is False
    pi.run_to_deadline()
    pi.at(30_000).sample(6_800)  # rested: above the floor but not above floor + hysteresis
    pi.pir()
    assert pi.rail[-1] is False and pi.sup.counters["boots_refused_low"] == 1
    assert sl.LED_LOW_PACK in pi.leds
    pi.at(40_000).sample(7_100)
    pi.pir()
    assert pi.rail[-1] is True


def test_a_pi_that_ignores_a_shutdown_request_is_cut_after_the_urgent_timeout():
    pi = up(Pi()).at(10_000)
    pi.pir()
    pi.hello()
    awake_ms = sl.DEFAULTS["max_awake_ms"]
    for t in range(10_000, 10_000 + awake_ms + 2, 60_000):
        pi.at(t).send(link.KICK)
    pi.at(10_000 + awake_ms + 1).tick()
    assert pi.last(link.SHUTDOWN)["reason"] == "longest_awake"
    pi.at(10_000 + awake_ms + 1 + sl.DEFAULTS["urgent_timeout_ms"]).send(link.KICK)
    assert pi.rail[-1] is False and pi.sup.counters["urgent_timeouts"] == 1


def test_a_pi_that_never_raises_its_halt_line_is_cut_after_the_halt_timeout():
    pi = up(Pi()).at(10_000)
    pi.pir()
    pi.hello()
    pi.send(link.SLEEP, {"reason": "done"})
    assert pi.state == "stopping"
    pi.at(10_000 + sl.DEFAULTS["halt_timeout_ms"]).tick()
    assert pi.rail[-1] is False and pi.sup.counters["halt_timeouts"] == 1


def test_alarm_wake_and_the_forced_wake_after_a_day_without_one():
    pi = Pi()
    pi.sup.power_up(pi.now)
    pi.drain()
    pi.hello()
    wake_at_s = (T0 + 3_600_000) // 1000
    pi.send(link.SLEEP, {"reason": "idle", "wake_at_s": wake_at_s})
    pi.sup.halted(pi.now)
    pi.drain()
    pi.run_to_deadline()  # settled
    pi.run_to_deadline()  # the alarm
    assert pi.now == wake_at_s * 1000 and pi.rail[-1] is True
    assert pi.hello()["wake"] == "rtc"
    pi.send(link.SLEEP, {"reason": "idle"})  # no alarm this time
    pi.sup.halted(pi.now)
    pi.drain()
    pi.run_to_deadline()
    woke_ms = pi.now
    pi.run_to_deadline()
    assert pi.now - (wake_at_s * 1000) == sl.DAY_MS and pi.rail[-1] is True
    assert pi.hello()["wake"] == "forced" and woke_ms < pi.now


def test_a_pir_during_the_hold_off_is_latched_and_wakes_the_pi_when_it_ends():
    pi = Pi()
    pi.sup.power_up(pi.now)
    pi.drain()
    pi.hello()
    pi.send(link.SLEEP, {"reason": "event_done", "hold_off_ms": 10_000})
    pi.sup.halted(pi.now)
    pi.drain()
    pi.run_to_deadline()  # the rail settles
    pi.at(4_000).pir()
    pi.at(5_000).pir()
    assert pi.rail == [True, False] and pi.sup.counters["pir_in_hold_off"] == 2
    pi.run_to_deadline()
    assert pi.now == T0 + 10_000 and pi.rail[-1] is True
    reply = pi.at(13_500).hello()
    assert reply["wake"] == "pir" and reply["wake_age_ms"] == 3_500  # from the hold-off's end


def test_a_pir_while_the_pi_halts_wakes_it_again_after_the_rail_settles():
    pi = up(Pi()).at(10_000)
    pi.pir()
    pi.hello()
    pi.send(link.SLEEP, {"reason": "done"})
    pi.at(11_000).pir()
    pi.sup.halted(pi.now)
    pi.drain()
    assert pi.rail[-1] is False
    pi.run_to_deadline()
    assert pi.rail[-1] is True and pi.sup.counters["pir_while_halting"] == 1


def test_time_sync_sets_the_rtc_and_keeps_intervals():
    pi = Pi()
    pi.sup.power_up(pi.now)
    pi.drain()
    pi.hello()
    pi.send(link.KICK)
    new_s = T0 // 1000 + 7200
    pi.send(link.TIME_SYNC, {"utc_s": new_s})
    assert pi.rtc == [new_s] and pi.sup.rtc_set
    pi.now = new_s * 1000 + sl.DEFAULTS["watchdog_ms"]  # the board's clock jumped with the RTC
    pi.tick()
    assert pi.state == "on"  # the last kick moved with the clock: not a watchdog reset
    pi.send(link.TIME_SYNC, {"utc_s": "soon"})
    assert pi.rtc == [new_s]


def test_impossible_readings_are_counted_and_never_used():
    pi = up(Pi(pack_mv=9000))
    pi.sample(0)
    pi.sample(25_000)
    pi.sample(None, temp_c=150.0)
    assert pi.sup.counters["bad_readings"] == 4 and pi.sup.pack_mv == 9000  # None and 150 C
    pi.pir()
    assert pi.rail[-1] is True


def test_walk_test_blinks_on_every_pir_for_ten_minutes_after_the_batteries_go_in():
    pi = up(Pi())
    pi.leds.clear()
    pi.at(60_000).pir()
    assert pi.leds[0] == sl.LED_PIR
    pi.leds.clear()
    pi.at(sl.DEFAULTS["walk_test_ms"] + 1).sup.walk_test_until_ms = None
    pi.pir()
    assert sl.LED_PIR not in pi.leds


def test_messages_before_hello_are_ignored_and_garbage_is_counted():
    pi = Pi()
    pi.sup.power_up(pi.now)
    pi.drain()
    pi.send(link.SLEEP, {"reason": "early"})
    assert pi.state == "powering"
    pi.sup.rx(b"\xa5\x01\x07\x00\x00\xff\xff" + b"noise", pi.now)
    assert pi.sup.counters["frames_bad"] >= 1 and pi.state == "powering"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(sorted(link.NAMES)),
            st.dictionaries(
                st.sampled_from(
                    ["wake_at_s", "hold_off_ms", "utc_s", "at_s", "watchdog_ms", "floor_mv", "x"]
                ),
                st.one_of(
                    st.none(),
                    st.integers(),
                    st.floats(allow_nan=False, allow_infinity=False),
                    st.text(),
                    st.booleans(),
                ),
                max_size=4,
            ),
        ),
        max_size=12,
    )
)
def test_any_sequence_of_well_framed_but_odd_messages_never_crashes(messages):
    pi = Pi()
    pi.sup.power_up(pi.now)
    pi.drain()
    for i, (msg_type, payload) in enumerate(messages):
        pi.at(i * 1000).send(msg_type, payload)
        pi.tick()
    assert pi.state in sl.STATE_NAMES


def test_board_reads_the_pack_through_the_divider_and_the_chip_temperature():
    clock = VirtualClock(datetime(2026, 12, 1, tzinfo=UTC))
    machine = FakeMachine(clock, T0)
    board_mod = load_board(machine)
    machine.adc_sources[board_mod.PIN_ADC] = lambda: 9.0 / board_mod.DIVIDER_RATIO
    machine.adc_sources[board_mod.TEMP_ADC] = lambda: 0.706 - (-30 - 27) * 0.001721
    board = board_mod.Board()
    assert board.read_pack_mv() == pytest.approx(9000, abs=5)
    assert board.read_temp_c() == pytest.approx(-30.0, abs=0.1)
    assert machine.pins[board_mod.PIN_DIVIDER].value() == 0  # switched off after sampling
    board.set_rtc(1_800_000_000)
    assert board.now_ms() // 1000 == 1_800_000_000
