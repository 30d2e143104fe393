"""The supervisor's state machine (device/supervisor/logic.py) under the real MicroPython.

One scripted day in the life of the supervisor, written once as MicroPython-compatible source: it
drives a `Supervisor` through every kind of event and prints one JSON line per step (the actions
taken, tx frames as hex, the state, the next deadline), then the counters. CPython runs it by
exec against the real modules; MicroPython (the WebAssembly port, tests/micropython.py) runs it
with the same files laid out as the package `device.supervisor`. Both must print the same.

Clock values are epoch milliseconds around 1.79e12, far above 2**31: on the 32-bit WebAssembly
port (as on the rp2) they are big ints, not small ones.
"""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from device.supervisor import link
from device.supervisor import logic as sl
from tests.micropython import REPO, node_and_micropython, run_micropython

SUPERVISOR = REPO / "device" / "supervisor"

needs_micropython = pytest.mark.skipif(
    node_and_micropython() is not None, reason=str(node_and_micropython())
)

SCRIPT = r"""
import binascii

from device.supervisor import link, logic

T0 = 1790000000000  # epoch ms, well above 2**31
sup = logic.Supervisor()
now = T0


def at(ms):
    global now
    now = ms


def later(ms):
    global now
    now += ms


def emit(step):
    actions = []
    for action in sup.take_actions():
        if action[0] == "tx":
            actions.append(["tx", binascii.hexlify(action[1]).decode()])
        else:
            actions.append([action[0], action[1]])
    line = {
        "step": step,
        "now": now,
        "actions": actions,
        "state": logic.STATE_NAMES[sup.state],
        "deadline": sup.next_deadline_ms(),
    }
    print(link.dumps(line).decode())


def send(msg_type, payload):
    sup.rx(link.encode(msg_type, payload), now)


def deadline():
    due = sup.next_deadline_ms()
    if due is not None and due > now:
        at(due)
    sup.tick(now)


sup.sample(9000, 21.5, now)
emit("rest_sample")

sup.power_up(now)
emit("power_up")

later(1000)
sup.pir(now)
emit("pir_while_booting")

later(2500)
send(link.HELLO, {"fw": "test", "link": 1, "watchdog_ms": 60000, "floor_mv": 6900})
emit("hello")

later(6500)
send(link.KICK, {})
emit("kick")

later(1000)
send(link.STATUS_REQUEST, {})
emit("status_request")

later(1000)
utc_s = now // 1000 + 88
send(link.TIME_SYNC, {"utc_s": utc_s})
at(utc_s * 1000)  # the RTC jumped
emit("time_sync")

later(500)
send(link.SLEEP, {"reason": "done", "wake_at_s": now // 1000 + 3600, "hold_off_ms": 60000})
emit("sleep")

later(4000)
sup.halted(now)
emit("halted")

deadline()
emit("settle")

later(10000)
sup.pir(now)
emit("pir_in_hold_off")

deadline()
emit("hold_off_ends")

later(3000)
send(link.HELLO, {"fw": "test", "link": 1})
emit("hello_after_pir")

later(20000)
send(link.KICK, {})
emit("kick_2")

at(now + 60001)
sup.tick(now)
emit("watchdog")

deadline()
emit("settle_after_watchdog")

deadline()
emit("hello_timeout_1")

deadline()
emit("retry_1")

deadline()
emit("hello_timeout_2")

deadline()
emit("retry_2")

later(3500)
send(link.HELLO, {"fw": "test", "link": 1})
emit("hello_after_retries")

for i in range(3):
    later(1000)
    sup.sample(6500, 20.0, now)
    emit("low_sample_" + str(i + 1))

later(2000)
send(link.SLEEP, {"reason": "brownout"})
emit("sleep_after_brownout")

later(3000)
sup.halted(now)
emit("halted_after_brownout")

deadline()
emit("settle_after_brownout")

later(60000)
sup.sample(7000, 19.0, now)  # above the floor, under floor + hysteresis
sup.pir(now)
emit("boot_refused_low")

later(60000)
sup.sample(7400, 19.0, now)
sup.pir(now)
emit("pack_recovered")

later(3000)
send(link.HELLO, {"fw": "test", "link": 1, "max_awake_ms": 300000})
emit("hello_short_day")
on_ms = now

for i in range(6):
    later(50000)
    send(link.KICK, {})
at(on_ms + 300001)
sup.tick(now)
emit("longest_awake")

at(now + 20000)
sup.tick(now)
emit("urgent_timeout")

deadline()
emit("settle_after_urgent")

later(1000)
frame = link.encode(link.HELLO, {"fw": "test", "link": 1})
sup.rx(b"\x00\xff\xa5\x02junk\xa5" + frame[:6], now)
emit("garbage_and_truncated")

later(1000)
sup.rx_idle(now)
emit("rx_idle")

later(1000)
sup.sample(50000, 200.0, now)
emit("impossible_reading")

deadline()
emit("forced_wake")

print(link.dumps({"counters": sup.counters, "decoder": sup.decoder.counters}).decode())
"""

LINES = 38  # 37 steps and the counters


def run_in_cpython() -> list[dict]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(SCRIPT, {"__name__": "script"})
    return [json.loads(x) for x in out.getvalue().splitlines()]


def frames(step: dict) -> list[tuple[int, dict]]:
    decoder = link.Decoder()
    got = []
    for kind, value in step["actions"]:
        if kind == "tx":
            got += decoder.feed(bytes.fromhex(value))
    return got


def test_the_script_walks_every_path_under_cpython():
    lines = run_in_cpython()
    assert len(lines) == LINES
    steps = {x["step"]: x for x in lines[:-1]}
    assert len(steps) == LINES - 1
    assert all(x["now"] > 2**31 for x in lines[:-1])

    assert steps["power_up"]["actions"] == [["led", sl.LED_WAKE], ["rail", True]]
    [(t, hello)] = frames(steps["hello"])
    assert t == link.HELLO and hello["wake"] == "boot" and hello["pir_during_boot"] == 1
    assert hello["rtc_s"] > 2**30 and hello["temp_c"] == 21.5
    [(t, status)] = frames(steps["status_request"])
    assert t == link.STATUS and status["state"] == "on"
    assert ["set_rtc", status["rtc_s"] + 89] in steps["time_sync"]["actions"]
    assert steps["halted"]["actions"] == [["rail", False]]
    assert steps["pir_in_hold_off"]["state"] == "asleep"
    assert ["rail", True] not in steps["pir_in_hold_off"]["actions"]
    assert ["rail", True] in steps["hold_off_ends"]["actions"]
    [(_, hello)] = frames(steps["hello_after_pir"])
    assert hello["wake"] == "pir" and hello["wake_age_ms"] == 3000
    assert ["led", sl.LED_WATCHDOG] in steps["watchdog"]["actions"]
    [(_, hello)] = frames(steps["hello_after_retries"])
    assert hello["wake"] == "watchdog"
    [(t, shutdown)] = frames(steps["low_sample_3"])
    assert t == link.SHUTDOWN and shutdown == {"reason": "brownout", "pack_mv": 6500}
    assert ["led", sl.LED_LOW_PACK] in steps["boot_refused_low"]["actions"]
    assert ["rail", True] in steps["pack_recovered"]["actions"]
    [(_, shutdown)] = frames(steps["longest_awake"])
    assert shutdown["reason"] == "longest_awake"
    assert steps["forced_wake"]["actions"] == [["led", sl.LED_WAKE], ["rail", True]]

    counters = lines[-1]["counters"]
    assert counters["watchdog_resets"] == 1
    assert counters["brownouts"] == 1
    assert counters["boots_refused_low"] >= 1
    assert counters["hello_timeouts"] == 2
    assert counters["frames_bad"] >= 2
    assert counters["pir_in_hold_off"] == 1 and counters["pir_while_booting"] == 1
    assert counters["longest_awake"] == 1 and counters["urgent_timeouts"] == 1
    assert counters["bad_readings"] == 2 and counters["wakes_forced"] == 1
    decoder = lines[-1]["decoder"]
    assert decoder["truncated"] >= 1 and decoder["bad_version"] >= 1
    assert decoder["skipped_bytes"] > 0


@needs_micropython
def test_the_supervisor_under_micropython_matches_cpython():
    files = {
        "device/__init__.py": "",
        "device/supervisor/__init__.py": (SUPERVISOR / "__init__.py").read_text(),
        "device/supervisor/link.py": (SUPERVISOR / "link.py").read_text(),
        "device/supervisor/logic.py": (SUPERVISOR / "logic.py").read_text(),
    }
    main = "import sys\nprint(sys.implementation.name)\n" + SCRIPT
    out = run_micropython(files, main, timeout_s=30)
    first, _, rest = out.partition("\n")
    assert first == "micropython"
    got = [json.loads(x) for x in rest.splitlines()]
    expected = run_in_cpython()
    assert len(got) == LINES
    for mine, theirs in zip(got, expected, strict=True):
        assert mine == theirs
