"""The trap's state machine and loop on virtual time, with behavioural fakes."""

from __future__ import annotations

import itertools
import logging
from datetime import timedelta

import pytest

from device.events import StopRequested
from tests.fakes import START, FakeLink, make_rig

HOUR = 3600.0


def run(rig, until_s: float) -> str:
    rig.trap.start()
    return rig.trap.run(deadline_s=until_s)


def events(rig, source: str | None = None) -> list[dict]:
    return [r for r in rig.records() if source is None or r["source"] == source]


def test_one_trigger_gives_one_burst_of_n_frames_at_the_interval(tmp_path):
    rig = make_rig(tmp_path, capture={"burst_frames": 4, "burst_interval_s": 0.7})
    rig.pir.pulse(100.0, high_s=1.0)
    assert run(rig, 200.0) == "deadline"
    (rec,) = events(rig)
    assert rec["source"] == "pir" and rec["status"] == "ok" and len(rec["media"]) == 4
    calls = rig.camera.capture_calls
    assert [round(b - a, 6) for a, b in itertools.pairwise(calls)] == [0.7, 0.7, 0.7]
    # trigger at 100.0: camera start 0.5 s, then the first exposure
    assert rec["latency_s"] == pytest.approx(0.5)
    assert calls[0] == pytest.approx(100.5)
    files = sorted(p.name for p in (rig.card / "irbis" / "test").rglob("*.jpg"))
    assert files == ["00000001-01.jpg", "00000001-02.jpg", "00000001-03.jpg", "00000001-04.jpg"]


def test_trigger_in_hold_off_is_counted_and_starts_the_next_event_when_it_ends(tmp_path):
    rig = make_rig(
        tmp_path, capture={"hold_off_s": 10.0, "burst_frames": 3, "burst_interval_s": 0.5}
    )
    rig.pir.pulse(100.0, 0.5)
    rig.pir.pulse(105.0, 0.5)  # the first event ends ~101.6; hold-off until ~111.6
    rig.pir.pulse(106.0, 0.5)
    run(rig, 300.0)
    first, second = events(rig)
    assert (first["source"], second["source"]) == ("pir", "retrigger")
    assert second["held_off_triggers"] == 2
    c = rig.trap.controller.counters
    assert c["retriggers_during_hold_off"] == 2 and c["triggers"] == 3
    # the second event starts right when the hold-off ends (the camera, stopped to save power
    # during the hold-off, takes 0.5 s to start again)
    starts = rig.camera.capture_calls[::3]
    first_end = rig.camera.capture_calls[2] + 0.05
    assert starts[1] - first_end == pytest.approx(10.0 + 0.5, abs=0.01)


def test_trigger_after_hold_off_fires_at_once(tmp_path):
    rig = make_rig(tmp_path, capture={"hold_off_s": 5.0})
    rig.pir.pulse(100.0, 0.5)
    rig.pir.pulse(150.0, 0.5)
    run(rig, 300.0)
    assert [r["source"] for r in events(rig)] == ["pir", "pir"]
    assert events(rig)[1]["latency_s"] == pytest.approx(0.5)


def test_retrigger_during_capture_is_recorded_on_the_event(tmp_path):
    rig = make_rig(tmp_path, capture={"burst_frames": 5, "burst_interval_s": 1.0})
    rig.pir.pulse(100.0, 0.3)
    rig.pir.pulse(102.0, 0.3)  # mid-burst
    run(rig, 300.0)
    (rec,) = events(rig)
    assert rec["retriggers"] == 1
    assert rig.trap.controller.counters["retriggers_during_event"] == 1


def test_pir_still_high_after_hold_off_gives_a_sustained_event(tmp_path):
    rig = make_rig(tmp_path, capture={"hold_off_s": 5.0})
    rig.pir.pulse(100.0, 12.0)  # an animal lingering in front
    run(rig, 300.0)
    assert [r["source"] for r in events(rig)] == ["pir", "sustained"]


def test_stuck_pir_is_flagged_and_stops_sustained_events_until_it_falls(tmp_path, caplog):
    rig = make_rig(tmp_path, capture={"hold_off_s": 10.0}, pir={"stuck_after_s": 60.0})
    rig.pir.pulse(100.0, 2 * HOUR)  # stuck high for two hours
    rig.pir.pulse(100.0 + 2 * HOUR + 60, 1.0)  # then a real trigger
    with caplog.at_level(logging.WARNING, logger="irbis.controller"):
        run(rig, 3 * HOUR)
    sources = [r["source"] for r in events(rig)]
    # events while high are bounded by stuck_after_s (60 s) / (burst + hold-off ~11.6 s)
    sustained = sources.count("sustained")
    assert 3 <= sustained <= 6
    assert sources[-1] == "pir"  # the real trigger after recovery is photographed
    assert rig.trap.controller.counters["pir_stuck"] == 1
    assert any(r.getMessage() == "pir stuck high" for r in caplog.records)
    assert not rig.trap.controller.pir_stuck


def test_pir_high_at_start_is_not_lost(tmp_path):
    rig = make_rig(tmp_path)
    rig.pir.level = True  # already high before the trap listens
    run(rig, 60.0)
    assert len(events(rig, "pir")) == 1


def test_active_hours_outside_window_counts_but_does_not_capture(tmp_path, caplog):
    # START is 00:00 local; window 18:00-06:00 (wraps midnight)
    rig = make_rig(tmp_path, schedule={"active_hours": ["18:00-06:00"]})
    rig.pir.pulse(2 * HOUR, 0.5)  # 02:00 active
    rig.pir.pulse(12 * HOUR, 0.5)  # 12:00 inactive
    rig.pir.pulse(20 * HOUR, 0.5)  # 20:00 active
    with caplog.at_level(logging.INFO, logger="irbis.controller"):
        run(rig, 24 * HOUR)
    times = [r["trigger_time"][11:16] for r in events(rig)]
    assert times == ["02:00", "20:00"]
    assert rig.trap.controller.counters["triggers_outside_schedule"] == 1
    sched = [
        r.record for r in caplog.records if getattr(r, "record", {}).get("reason") == "schedule"
    ]
    assert [(s["from"], s["to"]) for s in sched] == [("armed", "inactive"), ("inactive", "armed")]


def test_timelapse_shots_are_aligned_to_local_time_and_deferred_when_busy(tmp_path):
    # a shot that falls in an event or its hold-off is taken when the hold-off ends
    rig = make_rig(tmp_path, timelapse={"interval_s": 3600}, capture={"hold_off_s": 30.0})
    rig.pir.pulse(3 * HOUR - 0.2, 0.1)  # busy across the 03:00 shot
    run(rig, 6 * HOUR + 10)
    shots = events(rig, "timelapse")
    assert len(shots) == 6
    assert all(len(s["media"]) == 1 for s in shots)
    assert [s["trigger_time"][11:19] for s in shots] == [
        "01:00:00",
        "02:00:00",
        "03:00:31",
        "04:00:00",
        "05:00:00",
        "06:00:00",
    ]
    assert rig.trap.controller.counters["timelapse_deferred"] == 1


def test_camera_that_raises_is_logged_and_the_trap_goes_on(tmp_path, caplog):
    rig = make_rig(tmp_path)
    rig.camera.fail_next = 1
    rig.pir.pulse(100.0, 0.5)
    rig.pir.pulse(200.0, 0.5)
    with caplog.at_level(logging.ERROR):
        run(rig, 300.0)
    failed, ok = events(rig)
    assert failed["status"] == "capture_failed" and failed["media"] == []
    assert "CameraError" in failed["error"]
    assert ok["status"] == "ok" and len(ok["media"]) == 3
    assert rig.trap.controller.counters["capture_failures"] == 1
    assert any(r.getMessage() == "capture failed" for r in caplog.records)
    assert rig.camera.starts == 2  # restarted after the fault


def test_camera_that_times_out_mid_burst_keeps_the_frames_it_got(tmp_path):
    rig = make_rig(tmp_path)
    rig.pir.pulse(100.0, 0.5)
    rig.pir.pulse(200.0, 0.5)

    original = rig.camera.capture_frame

    def hang_on_second(ir_on):
        if len(rig.camera.capture_calls) == 1:
            rig.camera.hang_next = 1
        return original(ir_on)

    rig.camera.capture_frame = hang_on_second
    run(rig, 300.0)
    partial, ok = events(rig)
    assert partial["status"] == "partial" and len(partial["media"]) == 1
    assert "CameraTimeout" in partial["error"]
    assert ok["status"] == "ok"


def test_ir_is_strobed_only_around_exposures_at_night(tmp_path):
    rig = make_rig(tmp_path)
    rig.camera.lux = 0.5
    rig.pir.pulse(100.0, 0.5)
    run(rig, 200.0)
    (rec,) = events(rig)
    assert rec["ir"] is True and all(m["ir"] for m in rec["media"])
    assert rig.ir.switches == [True, False] * 3
    assert not rig.ir.is_on


def test_gated_mode_warm_window_then_shutdown_with_alarm_for_next_timelapse(tmp_path):
    link = FakeLink("pir", wake_time=START + timedelta(seconds=0))
    rig = make_rig(
        tmp_path,
        link=link,
        mode="gated",
        gated={"warm_window_s": 30.0},
        capture={"hold_off_s": 10.0},
        timelapse={"interval_s": 43200},
    )
    rig.pir.pulse(20.0, 0.5)  # inside the warm window after the wake event
    reason = run(rig, 3600.0)
    assert reason == "warm_window_over"
    assert [r["source"] for r in events(rig)] == ["wake", "pir"]
    assert rig.trap.controller.counters["warm_window_hits"] == 1
    ((wake_at, why),) = link.shutdowns
    assert why == "warm_window_over"
    assert wake_at.astimezone(rig.config.tz).isoformat() == "2026-12-01T12:00:00+07:00"


def test_wake_event_latency_counts_from_the_pir_edge_before_boot(tmp_path):
    boot_s = 3.5
    link = FakeLink("pir", wake_time=START - timedelta(seconds=boot_s))
    rig = make_rig(tmp_path, link=link, mode="gated")
    run(rig, 600.0)
    wake = events(rig, "wake")[0]
    assert wake["latency_s"] == pytest.approx(boot_s + 0.5)  # boot + camera start


def test_the_pir_that_woke_the_pi_and_is_still_high_is_one_trigger_not_two(tmp_path):
    link = FakeLink("pir", wake_time=START - timedelta(seconds=3.5))
    rig = make_rig(tmp_path, link=link, mode="gated")
    rig.pir.level = True
    rig.pir.pulse(1.0, 0.0)  # falls at 1 s (a zero-length pulse: rise is a no-op)
    run(rig, 600.0)
    assert [r["source"] for r in events(rig)] == ["wake"]
    assert rig.trap.controller.counters["triggers"] == 1
    assert events(rig)[0]["retriggers"] == 0


def test_pir_that_woke_the_pi_is_one_trigger_on_the_real_clock_too(tmp_path):
    from datetime import UTC, datetime

    from device.clock import RealClock

    clock = RealClock(7 * 3600)
    link = FakeLink("pir", wake_time=datetime.now(UTC))
    rig = make_rig(
        tmp_path,
        link=link,
        clock=clock,
        mode="gated",
        gated={"warm_window_s": 0},
        capture={"hold_off_s": 0, "burst_frames": 1},
    )
    rig.camera.start_s = rig.camera.frame_s = 0.0
    rig.pir.level = True  # still high from the wake when the trap starts listening
    clock.call_later(0.0, lambda: rig.pir.drive(False))  # ... and falls right after
    rig.trap.start()
    assert rig.trap.run(deadline_s=clock.monotonic_s() + 10) == "event_done"
    assert rig.trap.controller.counters["triggers"] == 1
    assert [r["source"] for r in events(rig)] == ["wake"]


def test_rtc_wake_takes_the_timelapse_shot_and_shuts_down_without_warm_window(tmp_path):
    link = FakeLink("rtc", wake_time=START)
    rig = make_rig(tmp_path, link=link, mode="gated", timelapse={"interval_s": 3600})
    assert run(rig, 600.0) == "nothing_to_do"
    assert [r["source"] for r in events(rig)] == ["timelapse"]


def test_stop_during_capture_finishes_the_event_first(tmp_path):
    rig = make_rig(tmp_path, capture={"burst_frames": 5, "burst_interval_s": 1.0})
    rig.pir.pulse(100.0, 0.5)
    rig.clock.call_later(101.0, lambda: rig.trap.post(StopRequested("signal")))
    assert run(rig, 300.0) == "signal"  # the stop's own reason, after the event in flight
    (rec,) = events(rig)
    assert len(rec["media"]) == 5


def test_every_transition_is_a_structured_log_record(tmp_path, caplog):
    rig = make_rig(tmp_path)
    rig.pir.pulse(100.0, 0.5)
    with caplog.at_level(logging.INFO, logger="irbis.controller"):
        run(rig, 200.0)
    path = [
        (r.record["from"], r.record["to"]) for r in caplog.records if r.getMessage() == "transition"
    ]
    assert path == [
        ("starting", "armed"),
        ("armed", "capturing"),
        ("capturing", "triage"),
        ("triage", "storing"),
        ("storing", "hold_off"),
        ("hold_off", "armed"),
    ]


def test_sequence_numbers_continue_across_restarts(tmp_path):
    rig = make_rig(tmp_path)
    rig.pir.pulse(100.0, 0.5)
    run(rig, 200.0)
    rig2 = make_rig(tmp_path)
    rig2.pir.pulse(100.0, 0.5)
    run(rig2, 200.0)
    assert [r["seq"] for r in rig2.records()] == [1, 2]
