"""Safe writes from day one: atomic media, a journal that survives a torn tail, sequence
numbers never reused, and real SIGKILLs of a process writing events."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from device.capture import Burst
from device.errors import CardError
from device.hal.interfaces import Frame, FrameMeta
from device.storage import atomic
from device.storage.event_store import EventStore, check_card_path
from device.storage.journal import Journal

ROOT = Path(__file__).resolve().parents[1]


def burst(n: int, seed: int = 0) -> Burst:
    rng = np.random.default_rng(seed)
    frames = [
        Frame(
            b"\xff\xd8" + rng.bytes(5000) + b"\xff\xd9",
            np.zeros((24, 32), np.uint8),
            FrameMeta(float(i), 20000, 2.0, 100.0),
        )
        for i in range(n)
    ]
    return Burst(frames)


def record(seq: int) -> dict:
    return {
        "seq": seq,
        "source": "pir",
        "trigger_time": "2026-12-01T02:00:00.000+07:00",
        "status": "ok",
    }


def test_write_atomic_leaves_the_whole_file_and_no_temp(tmp_path):
    target = tmp_path / "a.jpg"
    atomic.write_atomic(target, b"x" * 100_000)
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

    monkeypatch.setattr(atomic.os, "write", short_write_then_io_error)
    with pytest.raises(OSError, match="Input/output"):
        atomic.write_atomic(tmp_path / "b.jpg", b"y" * 1000)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_sync_seam_is_called_for_file_then_directory(tmp_path):
    order = []

    class Recording(atomic.Sync):
        def file(self, fd):
            order.append("file")

        def directory(self, directory):
            order.append(("dir", Path(directory).name))

    atomic.write_atomic(tmp_path / "c.jpg", b"z", Recording())
    assert order == ["file", ("dir", tmp_path.name)]


def test_commit_writes_media_then_a_journal_line_with_their_hashes(tmp_path):
    store = EventStore(tmp_path, "dep")
    b = burst(3)
    assert store.commit(record(1), b) == 3
    (line,) = store.journal.records()
    assert line["seq"] == 1 and line["kind"] == "event" and line["v"] == 0
    for media, frame in zip(line["media"], b.frames, strict=True):
        data = (tmp_path / "irbis" / "dep" / media["file"]).read_bytes()
        assert data == frame.image_jpeg
        assert media["sha256"] == hashlib.sha256(data).hexdigest()
    assert line["media"][0]["file"] == "2026-12-01/00000001-01.jpg"


def test_torn_journal_tail_is_cut_logged_and_appends_continue(tmp_path, caplog):
    path = tmp_path / "journal.jsonl"
    j = Journal(path)
    j.append({"seq": 1})
    j.append({"seq": 2})
    with path.open("ab") as f:
        f.write(b'{"seq": 3, "kind": "ev')  # a power cut mid-append
    j2 = Journal(path)
    assert j2.cut_bytes == len(b'{"seq": 3, "kind": "ev')
    assert any(r.getMessage() == "journal tail cut" for r in caplog.records)
    assert j2.last_seq() == 2
    j2.append({"seq": 3})
    assert [r["seq"] for r in j2.records()] == [1, 2, 3]


def test_sequence_continues_past_media_whose_journal_line_was_lost(tmp_path):
    store = EventStore(tmp_path, "dep")
    store.commit(record(1), burst(1))
    day = tmp_path / "irbis" / "dep" / "2026-12-01"
    (day / "00000002-01.jpg").write_bytes(b"committed media, journal line lost in a cut")
    (day / ".00000003-01.jpg.tmp").write_bytes(b"half")
    again = EventStore(tmp_path, "dep")
    assert again.next_seq() == 3  # 2 is taken by the media on the card: never reused
    assert not (day / ".00000003-01.jpg.tmp").exists()
    assert [p.name for p in again.removed_temp] == [".00000003-01.jpg.tmp"]


def test_card_checks_name_what_is_wrong(tmp_path):
    with pytest.raises(CardError, match="does not exist"):
        check_card_path(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(CardError, match="not a directory"):
        check_card_path(tmp_path / "file")
    with pytest.raises(OSError):  # a CardError is an OSError too
        check_card_path(tmp_path / "nope")


WRITER = """
import sys, numpy as np
from pathlib import Path
from device.capture import Burst
from device.hal.interfaces import Frame, FrameMeta
from device.storage.event_store import EventStore
store = EventStore(Path(sys.argv[1]), "dep")
rng = np.random.default_rng(int(sys.argv[2]))
seq = store.next_seq()
while True:
    frames = [Frame(rng.bytes(int(rng.integers(1000, 200000))), np.zeros((2, 2), np.uint8),
                    FrameMeta(0.0, 1, 1.0, 1.0)) for _ in range(3)]
    store.commit({"seq": seq, "source": "pir", "status": "ok",
                  "trigger_time": "2026-12-01T02:00:00.000+07:00"}, Burst(frames))
    print(seq, flush=True)
    seq += 1
"""


def test_sigkill_while_writing_never_loses_or_corrupts_committed_media(tmp_path):
    """Real SIGKILLs at random moments of a child committing events with real fsyncs; after
    each, the trap's start-up clean-up runs and every journalled media is intact."""
    rng = np.random.default_rng(11)
    reported: list[int] = []
    for kill in range(12):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), str(kill)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert proc.stdout is not None
        reported.append(int(proc.stdout.readline()))  # at least one event committed
        time.sleep(float(rng.uniform(0.0, 0.05)))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        reported += [int(x) for x in out.split()]
        store = EventStore(tmp_path, "dep")  # start-up: temp files removed, torn tail cut
        records = store.journal.records()
        seqs = [r["seq"] for r in records]
        assert seqs == sorted(set(seqs)), "sequence numbers only grow"
        assert set(reported) <= set(seqs), "every event reported saved is in the journal"
        for r in records:
            for m in r["media"]:
                data = (store.root / m["file"]).read_bytes()
                assert hashlib.sha256(data).hexdigest() == m["sha256"]
        assert not list(store.root.rglob("*.tmp"))
    assert len(reported) >= 12
    lines = (tmp_path / "irbis" / "dep" / "journal.jsonl").read_text().splitlines()
    assert all(json.loads(line) for line in lines)
