"""The event store on a real filesystem: the commit protocol, recovery after cuts and kills,
sequence numbers never reused, and evictions journaled before files go."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from device.errors import CardError
from device.hal import cardio
from device.storage import atomic, layout
from device.storage.card_meta import check_card_path
from device.storage.event_store import EventStore, Media
from device.storage.journal import Journal, scan

ROOT = Path(__file__).resolve().parents[1]


def media(n: int, seed: int = 0, size: int = 5000) -> list[Media]:
    rng = np.random.default_rng(seed)
    return [
        Media(i, b"\xff\xd8" + rng.bytes(size) + b"\xff\xd9", {"lux": 1.0}) for i in range(1, n + 1)
    ]


def record(seq: int, day: str = "2026-12-01") -> dict:
    return {
        "seq": seq,
        "source": "pir",
        "trigger_time": f"{day}T02:00:00.000+07:00",
        "status": "ok",
    }


def committed(root: Path) -> dict[str, str]:
    """file -> sha256 of every media the journal calls committed (listed, not evicted)."""
    out: dict[str, str] = {}
    for r in scan(root / layout.JOURNAL_FILE).records:
        if r["kind"] == "event":
            out.update({m["file"]: m["sha256"] for m in r["media"]})
        elif r["kind"] == "evict":
            for f in r["files"]:
                out.pop(f, None)
    return out


def assert_sound(root: Path) -> None:
    result = scan(root / layout.JOURNAL_FILE)
    assert result.problems == [], result.problems
    for rel, sha in committed(root).items():
        assert hashlib.sha256((root / rel).read_bytes()).hexdigest() == sha, rel
    assert not [p for p in root.rglob("*") if atomic.is_temp_name(p.name)]


def test_write_atomic_leaves_the_whole_file_and_no_temp(tmp_path):
    target = tmp_path / "a.jpg"
    atomic.write_atomic(cardio.OS_IO, target, b"x" * 100_000)
    assert target.read_bytes() == b"x" * 100_000
    assert [p.name for p in tmp_path.iterdir()] == ["a.jpg"]


def test_write_atomic_failing_midway_leaves_neither_temp_nor_final(tmp_path, monkeypatch):
    real_write = os.write
    writes: list[int] = []

    def short_write_then_io_error(fd: int, data) -> int:
        if writes:
            raise OSError(5, "Input/output error")
        writes.append(1)
        return real_write(fd, data[:10])

    monkeypatch.setattr(cardio.os, "write", short_write_then_io_error)
    with pytest.raises(OSError, match="Input/output"):
        atomic.write_atomic(cardio.OS_IO, tmp_path / "b.jpg", b"y" * 1000)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_commit_order_is_media_synced_renamed_dir_synced_then_journal(tmp_path):
    calls: list[tuple[str, str]] = []

    class Recording(cardio.CardIO):
        def create(self, path, data, sync):
            calls.append(("create+sync" if sync else "create", path.name))
            super().create(path, data, sync)

        def replace(self, src, dst):
            calls.append(("rename", dst.name))
            super().replace(src, dst)

        def sync_dir(self, directory):
            calls.append(("sync_dir", directory.name))
            super().sync_dir(directory)

        def append(self, path, data, sync):
            calls.append(("append+sync" if sync else "append", path.name))
            super().append(path, data, sync)

    store = EventStore(tmp_path / "dep", Recording())
    calls.clear()
    store.commit(record(1), media(1))
    assert calls == [
        ("sync_dir", "dep"),  # the new day folder's entry
        ("create+sync", ".00000001-01.jpg.tmp"),
        ("rename", "00000001-01.jpg"),
        ("sync_dir", "2026-12-01"),
        ("append+sync", "journal.jsonl"),
    ]


def test_commit_journals_each_media_with_hash_size_and_meta(tmp_path):
    store = EventStore(tmp_path / "dep", cardio.OS_IO)
    items = media(3)
    done = store.commit(record(1), items)
    assert done["kind"] == "event" and done["rec"] == 1 and done["v"] == 1
    (line,) = [r for r in scan(store.journal.path).records if r["kind"] == "event"]
    assert [m["file"] for m in line["media"]] == [
        f"2026-12-01/00000001-0{i}.jpg" for i in (1, 2, 3)
    ]
    for m, item in zip(line["media"], items, strict=True):
        assert m["sha256"] == hashlib.sha256(item.data).hexdigest()
        assert m["bytes"] == len(item.data) and m["lux"] == 1.0 and m["role"] == "frame"
    store.commit(record(2), [Media("t", b"thumb", {})])
    assert (store.root / "2026-12-01" / "00000002-t.jpg").read_bytes() == b"thumb"


def test_commit_refuses_a_sequence_number_that_does_not_grow(tmp_path):
    store = EventStore(tmp_path / "dep", cardio.OS_IO)
    store.commit(record(5), media(1))
    with pytest.raises(ValueError, match="not after"):
        store.commit(record(5), media(1))


def test_recovery_removes_temps_cuts_the_tail_and_never_reuses_a_number(tmp_path, caplog):
    root = tmp_path / "dep"
    store = EventStore(root, cardio.OS_IO)
    store.commit(record(1), media(1))
    day = root / "2026-12-01"
    (day / "00000002-01.jpg").write_bytes(b"media renamed into place, journal line lost")
    (day / ".00000003-01.jpg.tmp").write_bytes(b"half")
    with store.journal.path.open("ab") as f:
        f.write(b'{"kind":"event","seq":3,"med')
    again = EventStore(root, cardio.OS_IO, now="2026-12-02T08:00:00.000+07:00")
    assert again.next_seq() == 3  # 2 is on the card already: never reused
    assert again.recovery.removed_temp == ["2026-12-01/.00000003-01.jpg.tmp"]
    assert again.recovery.cut_bytes == len(b'{"kind":"event","seq":3,"med')
    assert any(r.getMessage() == "journal tail cut" for r in caplog.records)
    records = scan(again.journal.path).records
    assert [r["kind"] for r in records] == ["event", "event", "recovery"]  # all journaled
    adopted = records[1]  # the cut commit's media were whole: adopted, not left unjournaled
    assert (adopted["seq"], adopted["status"], adopted["time_source"]) == (
        2,
        "recovered",
        "day_folder",
    )
    assert adopted["trigger_time"] == "2026-12-01T00:00:00.000+07:00"
    assert adopted["media"] == [
        {
            "file": "2026-12-01/00000002-01.jpg",
            "role": "frame",
            "sha256": hashlib.sha256(b"media renamed into place, journal line lost").hexdigest(),
            "bytes": 43,
        }
    ]
    assert records[2]["adopted"] == ["2026-12-01/00000002-01.jpg"]
    assert_sound(root)


def test_recovery_reports_damaged_recent_media_once(tmp_path):
    root = tmp_path / "dep"
    store = EventStore(root, cardio.OS_IO)
    store.commit(record(1), media(2))
    (root / "2026-12-01" / "00000001-02.jpg").write_bytes(b"flipped")
    (root / "2026-12-01" / "00000001-01.jpg").unlink()
    again = EventStore(root, cardio.OS_IO)
    assert again.recovery.damaged == [
        {"file": "2026-12-01/00000001-01.jpg", "found": "missing"},
        {"file": "2026-12-01/00000001-02.jpg", "found": "hash_mismatch"},
    ]
    third = EventStore(root, cardio.OS_IO)
    assert third.recovery.damaged == []  # already journaled, not repeated on every start


def test_eviction_is_journaled_before_the_files_go_and_finished_after_a_cut(tmp_path):
    root = tmp_path / "dep"
    store = EventStore(root, cardio.OS_IO)
    store.commit(record(1), media(2))
    files = ["2026-12-01/00000001-01.jpg", "2026-12-01/00000001-02.jpg"]

    class CutBeforeUnlink(cardio.CardIO):
        def unlink(self, path):
            raise KeyboardInterrupt  # stands in for a power cut

    store.io = CutBeforeUnlink()
    with pytest.raises(KeyboardInterrupt):
        store.evict(files, "empty_verdict")
    assert (root / files[0]).exists()  # journal says evicted, file still there
    again = EventStore(root, cardio.OS_IO)
    assert again.recovery.finished_evictions == files
    assert not (root / files[0]).exists() and not (root / files[1]).exists()
    assert committed(root) == {}
    assert_sound(root)


def test_a_journal_that_is_not_ours_is_refused_and_left_alone(tmp_path):
    root = tmp_path / "dep"
    root.mkdir()
    foreign = b'{"some": "other log"}\n{"line": 2}\n'
    (root / "journal.jsonl").write_bytes(foreign)
    with pytest.raises(CardError, match="no sound v1 record"):
        EventStore(root, cardio.OS_IO)
    assert (root / "journal.jsonl").read_bytes() == foreign


def test_card_checks_name_what_is_wrong(tmp_path):
    with pytest.raises(CardError, match="does not exist"):
        check_card_path(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(CardError, match="not a directory"):
        check_card_path(tmp_path / "file")
    with pytest.raises(OSError):  # a CardError is an OSError too
        check_card_path(tmp_path / "nope")


def test_journal_reopened_after_a_whole_record_without_its_newline(tmp_path):
    path = tmp_path / "j.jsonl"
    j = Journal(path, cardio.OS_IO)
    j.append({"kind": "event", "seq": 1})
    path.write_bytes(path.read_bytes()[:-1])  # the newline never reached the card
    j2 = Journal(path, cardio.OS_IO)
    assert j2.cut_bytes == 0 and j2.last_seq == 1
    j2.append({"kind": "event", "seq": 2})
    assert [r["seq"] for r in scan(path).records] == [1, 2] and scan(path).problems == []


WRITER = """
import os, sys
from pathlib import Path
from device.hal.cardio import OS_IO
from device.storage.event_store import EventStore, Media
store = EventStore(Path(sys.argv[1]), OS_IO)
rnd = __import__("random").Random(int(sys.argv[2]))
seq = store.next_seq()
while True:
    items = [Media(i, os.urandom(rnd.randint(1000, 150000)), {}) for i in (1, 2, 3)]
    day = "2026-12-%02d" % (1 + seq // 40)
    store.commit({"seq": seq, "source": "pir", "status": "ok",
                  "trigger_time": day + "T02:00:00.000+07:00"}, items)
    if seq % 5 == 0:  # evict the oldest event now and then: kills land inside evictions too
        old = [r for r in __import__("device.storage.journal", fromlist=["scan"]).scan(
            store.journal.path).records if r["kind"] == "event" and r["media"]]
        if old:
            store.evict([m["file"] for m in old[0]["media"]], "low_score")
    print(seq, flush=True)
    seq += 1
"""


KILLS = 50


def test_sigkill_while_writing_never_loses_or_corrupts_committed_media(tmp_path):
    """Real SIGKILLs at random moments of a child committing events with real fsyncs; after
    each, recovery runs and every media the journal calls committed is intact."""
    rng = np.random.default_rng(11)
    root = tmp_path / "dep"
    reported: list[int] = []
    for kill in range(KILLS):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), str(kill)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert proc.stdout is not None
        reported.append(int(proc.stdout.readline()))  # at least one event committed
        time.sleep(float(rng.uniform(0.0, 0.03)))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        reported += [int(x) for x in out.split()]
        store = EventStore(root, cardio.OS_IO)  # the trap's start: recovery
        seqs = [r["seq"] for r in scan(store.journal.path).records if r["kind"] == "event"]
        assert seqs == sorted(set(seqs)), "sequence numbers only grow"
        assert set(reported) <= set(seqs), "every event reported saved is in the journal"
        assert store.next_seq() > max(seqs)
        assert_sound(root)
    print(f"\n{KILLS} SIGKILLs, {len(reported)} events reported saved, all intact")
    assert len(reported) >= KILLS
