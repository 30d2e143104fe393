"""The Pi's side of power on fake hardware: a brown-out request in the middle of an event, a PIR
edge the supervisor saw while the Pi booted, the watchdog kicks, and random link bytes."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from device.config import defaults
from device.hal.supervisor_link import SupervisorClient
from device.supervisor import link
from device.supervisor.logic import Supervisor
from sim.clock import VirtualClock
from tests.fakes import START, FakeLink, make_rig


def test_a_brownout_request_mid_event_finishes_the_event_then_shuts_down(tmp_path):
    link_ = FakeLink("pir", wake_time=START)
    rig = make_rig(tmp_path, link=link_, mode="gated", capture={"burst_frames": 3})
    real_capture = rig.camera.capture_frame

    def capture_then_sag(ir_on: bool):
        frame = real_capture(ir_on)
        if len(rig.camera.capture_calls) == 1:  # the pack sags during the first frame
            assert link_.shutdown_callback is not None
            link_.shutdown_callback("brownout")
        return frame

    rig.camera.capture_frame = capture_then_sag  # type: ignore[method-assign]
    rig.trap.start()
    assert rig.trap.run(deadline_s=600) == "brownout"
    [event] = rig.records()
    assert event["status"] == "ok" and len(event["media"]) == 3  # the event in flight: whole
    assert link_.shutdowns[-1][1] == "brownout"  # told the supervisor, then halted
    assert rig.trap.controller.counters["events_stored"] == 1


def test_a_pir_edge_while_the_pi_booted_for_an_alarm_becomes_an_event(tmp_path):
    link_ = FakeLink("rtc")
    link_.boot_pir = START + timedelta(seconds=2)
    rig = make_rig(
        tmp_path,
        link=link_,
        mode="gated",
        timelapse={"interval_s": 3600},
        gated={"warm_window_s": 0},
    )
    rig.clock.sleep_s(3.5)  # the boot
    rig.trap.start()
    rig.trap.run(deadline_s=600)
    sources = [r["source"] for r in rig.records()]
    assert sources == ["timelapse", "pir"]  # the alarm's shot, then the motion seen during boot
    assert rig.trap.controller.counters["triggers.during_boot"] == 1


def test_the_trap_kicks_the_watchdog_while_it_runs(tmp_path):
    link_ = FakeLink("boot")
    rig = make_rig(tmp_path, link=link_, mode="gated", gated={"warm_window_s": 300})
    rig.trap.start()
    rig.trap.run(deadline_s=1000)
    kick_s = rig.config["gated.watchdog_s"] / 4
    assert link_.kicks >= int(300 / kick_s) - 1


@settings(max_examples=10_000, deadline=None)
@given(st.binary(max_size=64), st.integers(min_value=1, max_value=9))
def test_random_frames_crash_neither_end(body, msg_type):
    """10,000 random payloads, framed with a valid CRC (so they reach the message handlers) or
    raw: the supervisor and the Pi's client count and drop what they cannot use."""
    raw = bytes([link.SYNC, link.LINK_VERSION, msg_type, len(body) & 0xFF, len(body) >> 8]) + body
    framed = raw + link.crc16(raw, 1).to_bytes(2, "little")
    sup = Supervisor()
    now = 1_790_000_000_000
    sup.sample(9000, -10.0, now)
    sup.power_up(now)
    sup.rx(link.encode(link.HELLO, {}), now)
    for data in (framed, body):
        sup.rx(data, now)
        sup.tick(now)
    sup.rx_idle(now)
    assert sup.state in (1, 2, 3, 4)
    client = SupervisorClient(NullTransport(), VirtualClock(START), defaults())
    for data in (framed, body):
        client._receive(data)
    assert client.decoder.counters["frames_ok"] <= 2


class NullTransport:
    def start(self, receiver) -> None:
        pass

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass
