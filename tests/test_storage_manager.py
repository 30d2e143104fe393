"""The trap's storage on real folders: first use, card swaps and the internal buffer, cards that
are not ours, I/O errors, and each rotation rule when the card fills."""

from __future__ import annotations

import errno
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from device.config import validate
from device.hal import cardio
from device.storage.event_store import Media
from device.storage.journal import scan
from device.storage.manager import Storage
from device.storage.receipts import write_receipt
from sim.clock import VirtualClock

START = datetime(2026, 12, 1, tzinfo=UTC)
MB = 1_000_000


class DirCard:
    """A card that is a folder; free space is its capacity minus what the folder holds."""

    def __init__(self, path: Path, capacity_bytes: int = 10**9, identity: str = "cid:1") -> None:
        self.mount_path = path
        self.capacity = capacity_bytes
        self.ident = identity
        self.inserted = True
        path.mkdir(parents=True, exist_ok=True)

    def present(self) -> bool:
        return self.inserted

    def identity(self) -> str:
        return self.ident

    def block_device(self) -> None:
        return None

    def capacity_bytes(self) -> int:
        return self.capacity

    def free_bytes(self) -> int:
        used = sum(p.stat().st_size for p in self.mount_path.rglob("*") if p.is_file())
        return self.capacity - used


def make(tmp_path: Path, card: DirCard | None = None, io=cardio.OS_IO, **storage) -> Storage:
    cfg = validate(
        {
            "backend": "sim",
            "deployment_id": "dep1",
            "device_id": "trap-7",
            "site": {
                "latitude_deg": 49.7312,
                "longitude_deg": 89.2871,
                "coarsen_location_deg": 0.1,
            },
            "storage": {
                "card_path": str(tmp_path / "card"),
                "data_path": str(tmp_path / "data"),
                **storage,
            },
        }
    )
    (tmp_path / "data").mkdir(exist_ok=True)
    s = Storage(cfg, VirtualClock(START, 0), card or DirCard(tmp_path / "card"), io, cardio.OS_IO)
    s.open()
    return s


def event(seq: int, decision: str = "keep", score: float | None = 0.9, empty: bool = False):
    verdict = {"decision": decision, "score": score, "reasons": []}
    if empty:
        verdict["empty"] = True
    return {
        "seq": seq,
        "source": "pir",
        "trigger_time": "2026-12-01T03:00:00.000+07:00",
        "status": "ok",
        "verdict": verdict,
    }


def frames(n: int = 2, size: int = 100_000) -> list[Media]:
    return [Media(i, os.urandom(size), {}) for i in range(1, n + 1)]


def journal(tmp_path: Path) -> list[dict]:
    return scan(tmp_path / "card" / "irbis" / "dep1" / "journal.jsonl").records


def test_first_use_writes_card_json_deployment_json_and_an_open_record(tmp_path):
    s = make(tmp_path)
    assert s.state == "card"
    card = json.loads((tmp_path / "card" / "card.json").read_text())
    assert card["format"] == "irbis-card" and card["version"] == 1
    assert card["hardware_id"] == "cid:1" and card["claimed_bytes"] == 10**9
    assert card["capacity_probe"]["result"] == "skipped"
    dep = json.loads((tmp_path / "card" / "irbis" / "dep1" / "deployment.json").read_text())
    assert dep["device_id"] == "trap-7" and dep["firmware"]
    assert dep["location"] == {"latitude_deg": 49.7, "longitude_deg": 89.2, "coarsened_to_deg": 0.1}
    assert dep["config"]["site"]["latitude_deg"] == 49.7  # the snapshot does not leak the site
    (opening,) = journal(tmp_path)
    assert opening["kind"] == "open" and opening["card_id"] == card["card_id"]
    before = (tmp_path / "card" / "card.json").read_bytes()
    make(tmp_path)  # a second start rewrites nothing
    assert (tmp_path / "card" / "card.json").read_bytes() == before
    assert len(journal(tmp_path)) == 1


def test_removed_card_buffers_events_and_the_next_card_gets_them_in_order(tmp_path):
    card = DirCard(tmp_path / "card")
    s = make(tmp_path, card)
    s.commit(event(s.next_seq()), frames())
    card.inserted = False  # a ranger pulls the card
    assert s.can_capture() is None  # the buffer has room
    s.commit(event(2), frames())
    s.commit(event(3), frames())
    assert s.state == "no_card"
    status = json.loads((tmp_path / "data" / "irbis" / "status.json").read_text())
    assert status["state"] == "no_card"
    # a new, empty card goes in while the trap is off; the next start moves the buffer
    new = DirCard(tmp_path / "card2", identity="cid:2")
    s2 = make(tmp_path, new)
    assert s2.state == "card"
    records = scan(tmp_path / "card2" / "irbis" / "dep1" / "journal.jsonl").records
    moved = [r for r in records if r["kind"] == "event"]
    assert [r["seq"] for r in moved] == [2, 3] and all(r["buffered"] for r in moved)
    for r in moved:
        for m in r["media"]:
            assert (tmp_path / "card2" / "irbis" / "dep1" / m["file"]).stat().st_size == m["bytes"]
    assert not (tmp_path / "data" / "irbis" / "buffer" / "dep1").exists()
    assert s2.next_seq() > 3  # the deployment goes on with the same sequence
    assert records[0]["kind"] == "open" and records[0]["after_seq"] >= 1


def test_a_new_card_never_reuses_numbers_used_on_the_old_one(tmp_path):
    s = make(tmp_path, DirCard(tmp_path / "card"))
    for _ in range(3):
        s.commit(event(s.next_seq()), frames(1))
    used = 3
    s2 = make(tmp_path, DirCard(tmp_path / "card2", identity="cid:2"))
    assert s2.next_seq() > used


def test_read_only_card_at_start_writes_nothing_there_and_buffers(tmp_path, read_only_dir):
    card = DirCard(read_only_dir)
    s = make(tmp_path, card)
    assert s.state == "card_read_only" and "read-only" in s.reason
    s.commit(event(s.next_seq()), frames(1))
    assert list(read_only_dir.iterdir()) == []
    buffered = scan(tmp_path / "data" / "irbis" / "buffer" / "dep1" / "journal.jsonl").records
    assert [r["seq"] for r in buffered if r["kind"] == "event"] == [1]


@pytest.mark.parametrize(
    "name, content, why",
    [
        ("card.json", b"{not json", "not JSON"),
        ("card.json", b'{"format": "other-app", "version": 1}', "format 'other-app'"),
        ("card.json", b'{"format": "irbis-card", "version": 7}', "version 7"),
        ("irbis/dep1/deployment.json", None, "device_id 'trap-9'"),
        ("irbis/dep1/journal.jsonl", b'{"seq": 1, "v": 0}\n{"seq": 2}\n', "no sound v1 record"),
    ],
)
def test_a_card_that_is_not_ours_is_left_untouched(tmp_path, name, content, why):
    root = tmp_path / "card"
    if content is None:
        content = json.dumps(
            {
                "format": "irbis-deployment",
                "version": 1,
                "deployment_id": "dep1",
                "device_id": "trap-9",
            }
        ).encode()
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(content)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    s = make(tmp_path, DirCard(root))
    assert s.state == "card_foreign" and why in s.reason
    s.commit(event(s.next_seq()), frames(1))  # the trap goes on, into its buffer
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert after == before


class FailingIO(cardio.CardIO):
    def __init__(self) -> None:
        self.failing = False
        self.attempts = 0

    def create(self, path, data, sync):
        if self.failing:
            self.attempts += 1
            raise OSError(errno.EIO, "Input/output error")
        super().create(path, data, sync)


def test_io_errors_are_retried_then_the_card_is_set_aside_without_losing_the_event(tmp_path):
    io = FailingIO()
    s = make(tmp_path, io=io)
    s.commit(event(1), frames(1))
    io.failing = True
    s.commit(event(2), frames(1))
    assert io.attempts == 2 and s.state == "card_io_errors"
    buffered = scan(tmp_path / "data" / "irbis" / "buffer" / "dep1" / "journal.jsonl").records
    assert [r["seq"] for r in buffered if r["kind"] == "event"] == [2]
    s.commit(event(3), frames(1))  # no more attempts on a card set aside this boot
    assert io.attempts == 2


# -- rotation ---------------------------------------------------------------------------------
def full_card(tmp_path: Path, **storage) -> tuple[Storage, DirCard]:
    """A 6 MB card with a 1 MB floor and a 1 MB reserve."""
    card = DirCard(tmp_path / "card", capacity_bytes=6 * MB)
    s = make(tmp_path, card, free_floor_mb=1, reserve_mb=1, **storage)
    return s, card


def evictions(tmp_path: Path) -> list[tuple[str, int]]:
    return [(r["reason"], r["seq"]) for r in journal(tmp_path) if r["kind"] == "evict"]


def fill(s: Storage, verdicts: list[tuple[str, float | None]], size: int = 300_000) -> None:
    """Commit one event per verdict as the trap stores it: two frames, and a thumbnail too
    when triage judged it of low value (device/storage/verdict_media.py)."""
    for decision, score in verdicts:
        low = decision != "keep" or (score is not None and score < 0.5)
        thumb = [Media("t", os.urandom(size // 20), {"thumb_of": 1})] if low else []
        s.commit(event(s.next_seq(), decision, score), frames(2, size) + thumb)


def test_rotation_demotes_low_value_events_to_thumbnails_first_and_never_animals(tmp_path):
    s, _ = full_card(tmp_path)
    fill(s, [("keep", 0.9), ("keep", 0.2), ("thumbnail", 0.1), ("discard", 0.0), ("keep", 0.3)])
    assert evictions(tmp_path) == []
    fill(s, [("keep", 0.95)] * 5)  # 3 MB more: the card must make room
    order = evictions(tmp_path)
    # lowest score first, then the oldest: frames go and each event keeps its thumbnail
    assert order[:4] == [("demoted", 4), ("demoted", 3), ("demoted", 2), ("demoted", 5)]
    demotions = [r for r in journal(tmp_path) if r["kind"] == "evict"][:4]
    assert all(f.endswith(("-01.jpg", "-02.jpg")) for r in demotions for f in r["files"])
    thumbs_taken = {seq for reason, seq in order if reason == "thumbnail"}
    day = tmp_path / "card" / "irbis" / "dep1" / "2026-12-01"
    for seq in {2, 3, 4, 5} - thumbs_taken:  # a demoted event is still its thumbnail
        assert (day / f"{seq:08d}-t.jpg").exists()
    evicted = {seq for _, seq in order}
    assert evicted.isdisjoint({1, 6, 7, 8, 9, 10})  # animals never


def test_rotation_takes_thumbnails_only_after_every_low_value_frame(tmp_path):
    s, _ = full_card(tmp_path)
    fill(s, [("discard", 0.05), ("thumbnail", 0.3), ("keep", 0.9)], size=600_000)
    fill(s, [("keep", 0.95)] * 4, size=600_000)
    order = evictions(tmp_path)
    reasons = [reason for reason, _ in order]
    assert "thumbnail" in reasons
    assert reasons == sorted(reasons, key=["demoted", "thumbnail"].index)  # frames, then thumbs
    assert {seq for _, seq in order} <= {1, 2}  # the animals stay whole


def test_full_of_animals_stops_capture_cleanly_and_still_journals_triggers(tmp_path):
    s, _card = full_card(tmp_path)
    fill(s, [("keep", 0.9)] * 8)
    assert s.can_capture() == "card_full" and s.state == "card_full"
    done = s.commit(event(s.next_seq(), "keep", None), [])  # what the trap stores: no media
    assert done["media"] == []
    assert [r["kind"] for r in journal(tmp_path)][-2:] == ["status", "event"]
    assert (
        json.loads((tmp_path / "data" / "irbis" / "status.json").read_text())["state"]
        == "card_full"
    )
    assert evictions(tmp_path) == []


def test_ring_mode_evicts_animals_oldest_first(tmp_path):
    s, _ = full_card(tmp_path, ring=True)
    fill(s, [("keep", 0.9)] * 8)
    order = evictions(tmp_path)
    assert order and all(reason == "ring" for reason, _ in order)
    assert [seq for _, seq in order] == list(range(1, len(order) + 1))


def test_media_verified_as_copied_go_first(tmp_path):
    s, _ = full_card(tmp_path)
    fill(s, [("keep", 0.2), ("keep", 0.9), ("keep", 0.9)])
    events = [r for r in journal(tmp_path) if r["kind"] == "event"]
    copied = {m["file"]: m["sha256"] for m in events[1]["media"]}  # event 2, an animal
    bad_copy = {m["file"]: "0" * 64 for m in events[2]["media"]}  # hash does not match
    write_receipt(
        tmp_path / "card" / "irbis" / "dep1",
        "dep1",
        s.card_id or "",
        "base-station",
        datetime(2027, 1, 1, tzinfo=UTC),
        "/archive",
        {**copied, **bad_copy},
        cardio.OS_IO,
    )
    s2 = make(
        tmp_path, DirCard(tmp_path / "card", capacity_bytes=6 * MB), free_floor_mb=1, reserve_mb=1
    )
    fill(s2, [("keep", 0.9)] * 4)
    order = evictions(tmp_path)
    assert order[0] == ("offloaded", 2)
    assert 3 not in {seq for _, seq in order}  # a receipt with the wrong hash vouches for nothing


def test_a_counterfeit_card_is_caught_at_first_use_and_its_free_space_capped(tmp_path):
    from sim.block_device import SimBlockDevice

    class FakeCapacityCard(DirCard):
        def block_device(self):
            return SimBlockDevice(8 * 2**30, 1 * 2**30, "wrap")  # claims 8 GiB, holds 1 GiB

    card = FakeCapacityCard(tmp_path / "card", capacity_bytes=8 * 2**30)
    s = make(tmp_path, card)
    probe = json.loads((tmp_path / "card" / "card.json").read_text())["capacity_probe"]
    assert probe["result"] == "counterfeit"
    assert 0.8 * 2**30 < probe["verified_bytes"] <= 2**30
    assert s.free_bytes() <= card.free_bytes() - 7 * 2**30  # what it does not hold is not room
    assert not list((tmp_path / "data" / "irbis").glob("probe-backup-*"))  # restored, removed


def test_another_deployments_folder_on_the_card_is_left_alone(tmp_path):
    other = tmp_path / "card" / "irbis" / "last-season" / "2025-11-30"
    other.mkdir(parents=True)
    (other / "00000001-01.jpg").write_bytes(b"last season's leopard")
    s = make(tmp_path)
    assert s.state == "card"
    s.commit(event(s.next_seq()), frames(1))
    assert (other / "00000001-01.jpg").read_bytes() == b"last season's leopard"
    assert [r["kind"] for r in journal(tmp_path)] == ["open", "event"]


def test_garbage_lines_inside_the_journal_are_kept_and_the_trap_goes_on(tmp_path):
    s = make(tmp_path)
    s.commit(event(s.next_seq()), frames(1))
    path = tmp_path / "card" / "irbis" / "dep1" / "journal.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    damaged = lines[0] + b"\x00\x00garbage from a bad sector\n" + b"".join(lines[1:])
    path.write_bytes(damaged)
    s2 = make(tmp_path)
    assert s2.state == "card"
    s2.commit(event(s2.next_seq()), frames(1))
    assert path.read_bytes().startswith(damaged)  # nothing before the tail rewritten
    assert [r["seq"] for r in journal(tmp_path) if r["kind"] == "event"] == [1, 2]
