"""Storage figures on this machine's disk: commit time per event with real fsyncs, and recovery
time on a card holding 100,000 committed media.

The 100,000-media card is built once under runs/bench-card-100k/ (real files, a real v1
journal; written without fsyncs to save time) and reused by later runs.
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from pathlib import Path

from device.hal.cardio import OS_IO, CardIO
from device.storage import layout
from device.storage.event_store import EventStore, Media
from device.storage.index import EvictionIndex
from device.storage.journal import scan

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs"
FRAMES_PER_EVENT = 4
BIG_CARD_MEDIA = 100_000
BIG_CARD_STAMP = "v1-100000-4"


class NoSyncIO(CardIO):
    """Builds the big card fast: the same files, no fsyncs (the build is not what is timed)."""

    def create(self, path: Path, data: bytes, sync: bool) -> None:
        super().create(path, data, sync=False)

    def append(self, path: Path, data: bytes, sync: bool) -> None:
        super().append(path, data, sync=False)

    def sync_dir(self, directory: Path) -> None:
        pass


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def commit_times(events: int = 150, frame_bytes: int = 400_000) -> None:
    folder = RUNS / "bench-commit"
    shutil.rmtree(folder, ignore_errors=True)
    store = EventStore(folder / "dep", OS_IO)
    data = os.urandom(frame_bytes)
    times_ms = []
    for seq in range(1, events + 1):
        media = [Media(i, data[i:] + data[:i], {}) for i in range(1, FRAMES_PER_EVENT + 1)]
        record = {
            "seq": seq,
            "source": "pir",
            "status": "ok",
            "trigger_time": f"2026-12-{1 + seq // 50:02d}T02:00:00.000+07:00",
        }
        t0 = time.perf_counter()
        store.commit(record, media)
        times_ms.append((time.perf_counter() - t0) * 1e3)
    shutil.rmtree(folder, ignore_errors=True)
    print(
        f"  commit, {FRAMES_PER_EVENT} x {frame_bytes / 1e3:.0f} kB per event, real fsyncs "
        f"({events} events): median {statistics.median(times_ms):.1f} ms, "
        f"p95 {_percentile(times_ms, 0.95):.1f} ms, max {max(times_ms):.1f} ms"
    )


def big_card() -> Path:
    folder = RUNS / "bench-card-100k"
    root = folder / "irbis" / "dep"
    if (folder / "stamp").exists() and (folder / "stamp").read_text() == BIG_CARD_STAMP:
        return root
    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    store = EventStore(root, NoSyncIO())
    payload = os.urandom(2048)
    events = BIG_CARD_MEDIA // FRAMES_PER_EVENT
    for seq in range(1, events + 1):
        day = 1 + (seq - 1) * 365 // events
        month, mday = divmod(day - 1, 28)
        media = [
            Media(i, payload[i:] + seq.to_bytes(4, "big"), {"lux": 1.0, "ir": False})
            for i in range(1, FRAMES_PER_EVENT + 1)
        ]
        verdict = {"decision": "keep", "score": (seq % 100) / 100, "reasons": ["motion"]}
        store.commit(
            {
                "seq": seq,
                "source": "pir",
                "status": "ok",
                "verdict": verdict,
                "trigger_time": f"2027-{1 + month % 12:02d}-{1 + mday:02d}T02:00:00.000+07:00",
            },
            media,
        )
    (folder / "stamp").write_text(BIG_CARD_STAMP)
    print(f"  (built the 100,000-media card in {time.perf_counter() - t0:.0f} s; reused next time)")
    return root


def recovery_times(repeats: int = 5) -> None:
    root = big_card()
    journal_mb = (root / layout.JOURNAL_FILE).stat().st_size / 1e6
    start_s = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        store = EventStore(root, OS_IO)
        start_s.append(time.perf_counter() - t0)
    index_s = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        index = EvictionIndex(0.5, ring=False)
        for record in scan(root / layout.JOURNAL_FILE).records:
            index.add(record)
        index_s.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(1000):
        if index.pop() is None:
            break
    pop_us = (time.perf_counter() - t0) / 1000 * 1e6
    print(
        f"  card with {BIG_CARD_MEDIA:,} committed media ({journal_mb:.0f} MB journal), "
        f"next seq {store.next_seq()}:"
    )
    print(
        f"    recovery at the trap's start (temps, tail, last event's hashes): "
        f"median {statistics.median(start_s) * 1e3:.1f} ms, max {max(start_s) * 1e3:.1f} ms"
    )
    print(
        f"    full rebuild (every record's CRC and chain, eviction index): "
        f"median {statistics.median(index_s):.2f} s, max {max(index_s):.2f} s"
    )
    print(f"    choosing the next eviction from the index: {pop_us:.1f} us")


def main() -> None:
    commit_times()
    recovery_times()


if __name__ == "__main__":
    main()
