"""Triage in the loop: the trap passes every burst through triage, storage acts on the decision,
the journal record carries the verdict, and the background bank outlives a reboot.

Decisions are forced with a stand-in for `Triage.observe` (the engine's tuning is not what is
tested here); the bank tests use the real engine's time-lapse path.
"""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from device.capture import Burst
from device.config import validate
from device.event_triage import EventTriage, settings_from_config
from device.hal.cardio import OS_IO, CardIO
from device.hal.interfaces import Frame, FrameMeta
from device.power.manager import PowerManager
from device.storage import layout
from device.storage.index import is_low_value
from device.storage.thumbnail import THUMB_WIDTH_PX
from device.storage.verdict_media import media_for_verdict
from device.triage import BackgroundBank, Triage, TriageSettings, Verdict
from sim.clock import VirtualClock
from tests.fakes import START, FakeLink, make_rig


def with_triage(rig, tmp_path: Path, **triage: object):
    """The rig's trap with the real EventTriage (its config's [triage], plus `triage`)."""
    cfg = rig.config.with_values(**{f"triage__{k}": v for k, v in triage.items()})
    rig.trap.triage = EventTriage(cfg, tmp_path / "data", OS_IO)
    return rig.trap.triage


def force(monkeypatch, verdict: Verdict) -> list[dict]:
    """Make every burst's verdict `verdict`; returns the calls triage received."""
    calls: list[dict] = []

    def observe(self, frames, *, ir_on, time_s, timelapse=False, event_seq=0):
        calls.append({"frames": frames, "ir_on": ir_on, "time_s": time_s, "timelapse": timelapse})
        calls[-1]["event_seq"] = event_seq
        return verdict

    monkeypatch.setattr(Triage, "observe", observe)
    return calls


def one_event(rig, frames: int = 3) -> dict:
    rig.pir.pulse(100.0, high_s=1.0)
    rig.trap.start()
    rig.trap.run(deadline_s=200.0)
    (rec,) = rig.records()
    assert rec["frames"] == frames
    return rec


def card_jpegs(rig) -> list[str]:
    return sorted(p.name for p in (rig.card / "irbis" / "test").rglob("*.jpg"))


def jpeg_of(width: int, height: int) -> bytes:
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def frame(jpeg: bytes, lores: np.ndarray | None, t_s: float = 1.0) -> Frame:
    return Frame(jpeg, lores, FrameMeta(t_s, 20000, 2.0, 100.0))  # type: ignore[arg-type]


# -- storage acts on the decision -----------------------------------------------------------------


def test_a_discarded_event_keeps_every_frame_and_a_thumbnail_the_verdict_its_value(
    tmp_path, monkeypatch
):
    rig = make_rig(tmp_path)  # triage.discard_at_capture is off by default
    with_triage(rig, tmp_path)
    force(monkeypatch, Verdict("discard", 0.04, ("no_change_against_background",), 2))
    rec = one_event(rig)
    assert card_jpegs(rig) == [
        "00000001-01.jpg",
        "00000001-02.jpg",
        "00000001-03.jpg",
        "00000001-t.jpg",
    ]
    assert [m["role"] for m in rec["media"]] == ["frame"] * 3 + ["thumb"]
    assert rec["media"][-1]["thumb_of"] == 2
    assert rec["verdict"]["decision"] == "discard" and rec["verdict"]["score"] == 0.04
    assert is_low_value(rec["verdict"], 0.5)  # what eviction takes first when the card fills
    assert rig.trap.controller.counters["media_stored"] == 4


def test_with_discard_at_capture_a_discarded_event_commits_no_media_but_journals_the_verdict(
    tmp_path, monkeypatch, caplog
):
    rig = make_rig(tmp_path, triage={"discard_at_capture": True})
    with_triage(rig, tmp_path)
    measures = {"x": 1.0, "triage_ms": 4.25}
    calls = force(
        monkeypatch,
        Verdict("discard", 0.04, ("no_change_against_background",), 2, measures=measures),
    )
    with caplog.at_level(logging.INFO, logger="irbis.triage"):
        rec = one_event(rig)
    assert rec["media"] == [] and card_jpegs(rig) == []
    v = rec["verdict"]
    assert v["decision"] == "discard" and v["score"] == 0.04
    assert v["reasons"] == ["no_change_against_background"]
    assert v["best_frame"] == 2 and v["audit"] is False
    # the processor's timing is logged, not journaled: the same frames give the same card
    assert v["measures"] == {"x": 1.0}
    (line,) = [r for r in caplog.records if r.getMessage() == "triage"]
    assert line.record["triage_ms"] == 4.25 and line.record["decision"] == "discard"  # type: ignore[attr-defined]
    assert rec["status"] == "ok"
    # triage saw the burst's three low-resolution frames, as a motion event
    (call,) = calls
    assert len(call["frames"]) == 3 and all(f.shape == (24, 32) for f in call["frames"])
    assert call["timelapse"] is False and call["event_seq"] == rec["seq"]
    assert rig.trap.controller.counters["media_stored"] == 0
    assert rig.trap.controller.counters["events_stored"] == 1


def test_with_discard_at_capture_an_audited_discard_stores_exactly_one_thumbnail(
    tmp_path, monkeypatch
):
    rig = make_rig(tmp_path, triage={"discard_at_capture": True})
    with_triage(rig, tmp_path)
    force(monkeypatch, Verdict("discard", 0.1, ("empty",), best_frame=3, audit=True))
    rec = one_event(rig)
    assert card_jpegs(rig) == ["00000001-t.jpg"]
    (m,) = rec["media"]
    assert m["role"] == "thumb" and m["file"].endswith("00000001-t.jpg")
    assert m["thumb_of"] == 3
    # the fake camera's JPEG does not decode: the thumbnail is the frame's lores array
    assert m["thumb_from"] == "lores"
    assert m["exposure_us"] == 20000 and "time" in m  # the frame's own meta
    with Image.open(rig.card / "irbis" / "test" / m["file"]) as img:
        assert img.format == "JPEG" and img.size == (32, 24)
    assert rec["verdict"]["audit"] is True


def test_with_discard_at_capture_a_thumbnail_decision_stores_one_thumbnail_and_no_frames(
    tmp_path, monkeypatch
):
    rig = make_rig(tmp_path, triage={"discard_at_capture": True})
    with_triage(rig, tmp_path)
    force(monkeypatch, Verdict("thumbnail", 0.3, ("weak_evidence",), best_frame=2))
    rec = one_event(rig)
    assert card_jpegs(rig) == ["00000001-t.jpg"]
    assert [(m["role"], m["thumb_of"]) for m in rec["media"]] == [("thumb", 2)]
    assert is_low_value(rec["verdict"], 0.5)


def test_keep_stores_every_frame(tmp_path, monkeypatch):
    rig = make_rig(tmp_path)
    with_triage(rig, tmp_path)
    force(monkeypatch, Verdict("keep", 0.9, ("animal",), best_frame=1))
    rec = one_event(rig)
    assert card_jpegs(rig) == ["00000001-01.jpg", "00000001-02.jpg", "00000001-03.jpg"]
    assert [m["role"] for m in rec["media"]] == ["frame"] * 3
    assert rec["verdict"]["decision"] == "keep" and rec["verdict"]["score"] == 0.9
    assert not is_low_value(rec["verdict"], 0.5)  # an animal: never evicted outside ring mode


def test_a_trap_without_triage_keeps_everything_and_says_so(tmp_path):
    rig = make_rig(tmp_path)
    rec = one_event(rig)
    assert len(rec["media"]) == 3
    assert rec["verdict"]["decision"] == "keep"
    assert rec["verdict"]["reasons"] == ["triage_not_configured"]


def test_the_hook_gets_the_source_the_number_and_wall_time(tmp_path):
    link = FakeLink("rtc")
    rig = make_rig(tmp_path, link=link, mode="gated", timelapse={"interval_s": 3600})
    seen: list[tuple] = []

    def hook(burst: Burst, source: str, seq: int, time_utc_s: float) -> dict:
        seen.append((len(burst.frames), source, seq, time_utc_s))
        return {"decision": "keep", "score": None, "reasons": ["test"]}

    rig.trap.triage = hook
    rig.trap.start()
    rig.trap.run(deadline_s=600)
    (rec,) = rig.records()
    assert seen == [(1, "timelapse", rec["seq"], pytest.approx(rig.clock.now_utc().timestamp()))]


# -- the thumbnail ---------------------------------------------------------------------------------


def test_a_thumbnail_is_the_best_frames_jpeg_scaled_to_320_wide():
    frames = [frame(jpeg_of(64, 48), None), frame(jpeg_of(1280, 720), None)]
    metas = [{"lux": 1.0}, {"lux": 2.0}]
    chosen = media_for_verdict({"decision": "thumbnail", "best_frame": 2}, frames, metas, 0.5, True)
    (m,) = chosen.media
    assert chosen.thumbnail_error is None
    assert m.frame == layout.THUMB and m.meta == {"lux": 2.0, "thumb_of": 2, "thumb_from": "main"}
    with Image.open(io.BytesIO(m.data)) as img:
        assert img.size == (THUMB_WIDTH_PX, 180)
        red = np.asarray(img.convert("RGB"))[90, :, 0].astype(int)
    assert red[0] < 30 and red[-1] > 220  # the frame's gradient, not a blank


def test_no_best_frame_means_the_first_and_a_small_frame_is_not_scaled_up():
    frames = [frame(jpeg_of(200, 100), None), frame(b"junk", None)]
    chosen = media_for_verdict({"decision": "discard", "audit": True}, frames, [{}, {}], 0.5, True)
    (m,) = chosen.media
    assert m.meta["thumb_of"] == 1
    with Image.open(io.BytesIO(m.data)) as img:
        assert img.size == (200, 100)


def test_a_thumbnail_that_cannot_be_made_stores_nothing_and_says_why(tmp_path, monkeypatch):
    frames = [frame(b"\xff\xd8 not a jpeg", None)]
    chosen = media_for_verdict({"decision": "thumbnail", "best_frame": 1}, frames, [{}], 0.5, True)
    assert chosen.media == []
    assert "frame 1" in chosen.thumbnail_error and "lores" in chosen.thumbnail_error
    # in the loop: the event is journaled without media, the error in its record
    rig = make_rig(tmp_path, triage={"discard_at_capture": True})
    with_triage(rig, tmp_path)
    force(monkeypatch, Verdict("thumbnail", 0.3, ("weak_evidence",), best_frame=1))
    real_capture = rig.camera.capture_frame

    def no_lores(ir_on: bool) -> Frame:
        f = real_capture(ir_on)
        return Frame(f.encoded, None, f.meta)  # type: ignore[arg-type]

    rig.camera.capture_frame = no_lores  # type: ignore[method-assign]
    rec = one_event(rig)
    assert rec["media"] == [] and "thumbnail of frame 1" in rec["thumbnail_error"]


def test_discard_without_audit_and_an_unknown_decision():
    frames = [frame(jpeg_of(64, 48), None)]
    assert media_for_verdict({"decision": "discard"}, frames, [{}], 0.5, True).media == []
    kept = media_for_verdict({}, frames, [{"lux": 1.0}], 0.5).media  # not judged: keep
    assert [(m.frame, m.meta) for m in kept] == [(1, {"lux": 1.0})]


def test_by_default_only_low_value_events_get_a_thumbnail_and_every_event_its_frames():
    frames = [frame(jpeg_of(64, 48), None), frame(jpeg_of(64, 48), None)]
    for verdict, thumb in [
        ({"decision": "discard", "score": 0.0}, True),
        ({"decision": "thumbnail", "score": 0.3}, True),
        ({"decision": "keep", "score": 0.4}, True),  # under storage.low_score_below
        ({"decision": "keep", "score": 0.9}, False),
        ({"decision": "keep", "score": None}, False),  # not judged: never of low value
    ]:
        chosen = media_for_verdict(verdict, frames, [{}, {}], 0.5)
        assert [m.frame for m in chosen.media] == [1, 2, *(["t"] if thumb else [])], verdict


# -- the background bank across boots --------------------------------------------------------------


def lores_burst(seed: int, frames: int = 1) -> Burst:
    """A burst of textured, well-exposed low-resolution frames."""
    rng = np.random.default_rng(seed)
    return Burst(
        [frame(b"", rng.integers(40, 200, (24, 32), dtype=np.uint8), t) for t in range(frames)]
    )


def test_a_timelapse_shot_feeds_the_bank_and_a_reboot_loads_it(tmp_path):
    link = FakeLink("rtc")
    rig = make_rig(tmp_path, link=link, mode="gated", timelapse={"interval_s": 3600})
    with_triage(rig, tmp_path)
    view = np.random.default_rng(5).integers(40, 200, (24, 32), dtype=np.uint8)  # the slope
    real_capture = rig.camera.capture_frame

    def the_view(ir_on: bool) -> Frame:
        f = real_capture(ir_on)
        return Frame(f.encoded, view, f.meta)

    rig.camera.capture_frame = the_view  # type: ignore[method-assign]
    rig.trap.start()
    assert rig.trap.run(deadline_s=600) == "nothing_to_do"  # the shot, then back to sleep
    (rec,) = rig.records()
    assert rec["source"] == "timelapse" and rec["verdict"]["decision"] == "keep"
    bank_file = tmp_path / "data" / "irbis" / "background.npz"
    assert bank_file.is_file()
    # the next boot: a new EventTriage, nothing in memory but what is on the data partition
    reborn = EventTriage(rig.config, tmp_path / "data", OS_IO)
    bank = reborn._engine().bank
    assert len(bank) == 1
    model = bank.model((24, 32), ir_on=False, level=float(view.mean()))
    assert model is not None and np.array_equal(model.median, view.astype(np.float32))


def test_the_bank_grows_across_reboots_and_is_saved_only_when_changed(tmp_path, monkeypatch):
    class Counting(CardIO):
        def __init__(self) -> None:
            self.creates: list[str] = []

        def create(self, path: Path, data: bytes, sync: bool) -> None:
            self.creates.append(path.name)
            super().create(path, data, sync)

    cfg = validate({"triage": {"background_frames": 3}})
    data = tmp_path / "data"
    data.mkdir()  # the data partition exists (the trap refuses to start otherwise)
    io_ = Counting()
    EventTriage(cfg, data, io_)(lores_burst(1), "timelapse", 1, 1_000.0)
    bank_file = data / "irbis" / "background.npz"
    saved = bank_file.read_bytes()
    assert io_.creates == [".background.npz.tmp"]  # written atomically
    second = EventTriage(cfg, data, io_)
    second(lores_burst(2), "timelapse", 2, 2_000.0)
    assert len(io_.creates) == 2 and bank_file.read_bytes() != saved
    # a burst that does not change the bank writes nothing
    force(monkeypatch, Verdict("keep", 0.9, ("animal",)))
    second(lores_burst(3), "pir", 3, 3_000.0)
    assert len(io_.creates) == 2
    third = EventTriage(cfg, data, io_)
    assert len(third._engine().bank) == 2 and third._engine().bank.dirty is False


def test_a_corrupt_bank_file_means_an_empty_bank_and_triage_still_runs(tmp_path, caplog):
    bank_file = tmp_path / "data" / "irbis" / "background.npz"
    bank_file.parent.mkdir(parents=True)
    bank_file.write_bytes(b"PK\x03\x04 this is not an npz")
    triage = EventTriage(validate({}), tmp_path / "data", OS_IO)
    with caplog.at_level(logging.WARNING, logger="irbis.triage"):
        record = triage(lores_burst(3), "timelapse", 7, 3_000.0)
    assert record["decision"] == "keep" and "triage_error" not in record["reasons"]
    assert "background bank not loaded; starting empty" in caplog.text
    # the bank started empty, learned the shot, and replaced the corrupt file
    assert len(triage._engine().bank) == 1
    assert len(BackgroundBank.from_bytes(bank_file.read_bytes())) == 1


def test_a_bank_that_cannot_be_saved_is_logged_and_the_verdict_stands(tmp_path, caplog):
    class Failing(CardIO):
        def create(self, path: Path, data: bytes, sync: bool) -> None:
            raise OSError(28, "No space left on device")

    triage = EventTriage(validate({}), tmp_path / "data", Failing())
    with caplog.at_level(logging.ERROR, logger="irbis.triage"):
        record = triage(lores_burst(4), "timelapse", 8, 4_000.0)
    assert record["decision"] == "keep" and record["reasons"] == ["timelapse"]
    assert "background bank not saved" in caplog.text
    assert triage._engine().bank.dirty  # tried again after the next burst
    assert not (tmp_path / "data" / "irbis" / "background.npz").exists()


# -- triage that cannot judge ----------------------------------------------------------------------


def test_a_triage_exception_keeps_the_burst_with_the_error(tmp_path, monkeypatch, caplog):
    def broken(self, frames, **kwargs):
        raise FloatingPointError("overflow in the noise estimate")

    monkeypatch.setattr(Triage, "observe", broken)
    rig = make_rig(tmp_path)
    with_triage(rig, tmp_path)
    with caplog.at_level(logging.ERROR, logger="irbis.triage"):
        rec = one_event(rig)
    v = rec["verdict"]
    assert v["decision"] == "keep" and v["reasons"] == ["triage_error"] and v["score"] is None
    assert v["error"] == "FloatingPointError: overflow in the noise estimate"
    assert len(rec["media"]) == 3  # kept whole
    assert "triage failed; burst kept" in caplog.text


def test_triage_disabled_keeps_everything_and_imports_nothing(tmp_path, monkeypatch):
    rig = make_rig(tmp_path)
    with_triage(rig, tmp_path, enabled=False)
    for name in [m for m in sys.modules if m.startswith("device.triage")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "device.triage", None)  # an import would raise
    rec = one_event(rig)
    assert rec["verdict"]["reasons"] == ["triage_disabled"]
    assert rec["verdict"]["decision"] == "keep" and len(rec["media"]) == 3
    assert not (tmp_path / "data" / "irbis" / "background.npz").exists()


def test_a_burst_without_frames_is_kept_with_no_frames(tmp_path):
    record = EventTriage(validate({}), tmp_path, OS_IO)(Burst(), "pir", 3, 0.0)
    assert record["decision"] == "keep" and record["reasons"] == ["no_frames"]


def test_settings_come_from_the_config():
    cfg = validate(
        {
            "triage": {
                "keep_from": 0.6,
                "discard_below": 0.1,
                "audit_share": 0.2,
                "masks": [[0, 0, 1, 0.25]],
                "background_frames": 5,
            }
        }
    )
    assert settings_from_config(cfg) == TriageSettings(
        enabled=True,
        keep_from=0.6,
        discard_below=0.1,
        audit_share=0.2,
        masks=((0.0, 0.0, 1.0, 0.25),),
        background_frames=5,
    )


def test_a_discarded_burst_still_books_its_camera_time(tmp_path):
    """The power gauge books the frames taken, not the media triage let reach the card."""
    cfg = validate({"mode": "always-on"})
    socs = []
    for record in (
        {"source": "pir", "frames": 3, "media": []},  # discarded
        {"source": "pir", "media": [{}, {}, {}]},  # an older record: its media are its frames
    ):
        data = tmp_path / str(len(socs))
        data.mkdir()
        power = PowerManager(cfg, VirtualClock(START), data, OS_IO)
        before = power.gauge.soc
        power.event_stored(record)
        socs.append(before - power.gauge.soc)
    assert socs[0] > 0 and socs[0] == pytest.approx(socs[1])
