"""Storage figures on this machine's disk: commit time per event with real fsyncs, and a trap's
start on a card holding 100,000 committed media.

The 100,000-media card is built once under runs/bench-card-100k/ (real files, a real v1
journal; written without fsyncs to save time; one event a day-folder's worth at a time, dates
rising as on a real card) and reused by later runs.

- commit: 150 events of 4 x 400 kB frames, each timed (a distribution: `--runs` does not
  change it);
- the trap's start: `Storage.open()` as device/main.py runs it, each run a fresh process
  (bench/storage_start.py) whose imports are timed apart, with the card's journal and newest
  files dropped from the page cache first (posix_fadvise; the folders' entries stay cached);
- the eviction index the trap builds once per boot when the card needs room (every record's
  CRC and chain, then the index), and choosing the next eviction from it.

5 runs each by default (`--runs N`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import stats
from bench.storage_start import FolderCard
from device.clock import RealClock
from device.config import TrapConfig, validate
from device.hal.cardio import OS_IO, CardIO
from device.storage import layout
from device.storage.event_store import EventStore, Media
from device.storage.manager import Storage

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs"
FRAMES_PER_EVENT = 4
BIG_CARD_MEDIA = 100_000
# v2: dates rise with the sequence (v1's wrapped into January after day 336, so the last event
# was dated before most folders and recovery listed all of them: a card no trap writes)
BIG_CARD_STAMP = "v2-100000-4"
BIG_CARD_DAYS = 365
DEFAULT_RUNS = 5
POPS_PER_RUN = 1000


class NoSyncIO(CardIO):
    """Builds the big card fast: the same files, no fsyncs (the build is not what is timed)."""

    def create(self, path: Path, data: bytes, sync: bool) -> None:
        super().create(path, data, sync=False)

    def append(self, path: Path, data: bytes, sync: bool) -> None:
        super().append(path, data, sync=False)

    def sync_dir(self, directory: Path) -> None:
        pass


def commit_times(events: int = 150, frame_bytes: int = 400_000) -> None:
    folder = RUNS / "bench-commit"
    shutil.rmtree(folder, ignore_errors=True)
    store = EventStore(folder / "dep", OS_IO)
    data = os.urandom(frame_bytes)
    timings = stats.Timings()
    for seq in range(1, events + 1):
        media = [Media(i, data[i:] + data[:i], {}) for i in range(1, FRAMES_PER_EVENT + 1)]
        record = {
            "seq": seq,
            "source": "pir",
            "status": "ok",
            "trigger_time": f"2026-12-{1 + seq // 50:02d}T02:00:00.000+07:00",
        }
        with timings.measure():
            store.commit(record, media)
    shutil.rmtree(folder, ignore_errors=True)
    print(
        f"  commit of one event, {FRAMES_PER_EVENT} x {frame_bytes / 1e3:.0f} kB, real fsyncs, "
        f"{events} events:"
    )
    print(f"    {timings.line(tails=True)}")


def big_card() -> Path:
    """The card folder (its root: card.json goes there at the first start)."""
    folder = RUNS / "bench-card-100k"
    card = folder / "card"
    if (folder / "stamp").exists() and (folder / "stamp").read_text() == BIG_CARD_STAMP:
        return card
    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    store = EventStore(layout.deployment_dir(card, "dep"), NoSyncIO())
    payload = os.urandom(2048)
    events = BIG_CARD_MEDIA // FRAMES_PER_EVENT
    first_day = dt.date(2027, 1, 1)
    for seq in range(1, events + 1):
        day = first_day + dt.timedelta(days=(seq - 1) * BIG_CARD_DAYS // events)
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
                "trigger_time": f"{day.isoformat()}T02:00:00.000+07:00",
            },
            media,
        )
    (folder / "stamp").write_text(BIG_CARD_STAMP)
    print(f"  (built the 100,000-media card in {time.perf_counter() - t0:.0f} s; reused next time)")
    return card


def _config(card: Path, data: Path) -> TrapConfig:
    return validate(
        {
            "backend": "sim",
            "deployment_id": "dep",
            "storage": {"card_path": str(card), "data_path": str(data), "probe_samples": 0},
        }
    )


def _drop_cached(card: Path) -> bool:
    """Drop the page cache of the files a start reads (the card's documents, the journal, the
    two newest day folders' media); False where posix_fadvise is missing."""
    if not hasattr(os, "posix_fadvise"):
        return False
    dep = layout.deployment_dir(card, "dep")
    days = sorted(p for p in dep.iterdir() if layout.DAY_DIR.match(p.name))[-2:]
    files = [card / layout.CARD_FILE, dep / layout.DEPLOYMENT_FILE, dep / layout.JOURNAL_FILE]
    files += [f for d in days for f in d.iterdir()]
    for path in files:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            os.fsync(fd)  # dirty pages are not dropped
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return True


def trap_starts(card: Path, data: Path, runs: int) -> None:
    """`Storage.open()` as at a trap's start, each in a fresh process."""
    command = [sys.executable, "-m", "bench.storage_start", str(card), str(data)]
    subprocess.run(command, check=True, capture_output=True)  # first start: card.json etc.
    imports, opens, seconds, processes = (stats.Timings() for _ in range(4))
    dropped = False
    for _ in range(runs):
        dropped = _drop_cached(card)
        cpu0, wall0 = stats.children_cpu_s(), time.perf_counter()
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        processes.add(time.perf_counter() - wall0, stats.children_cpu_s() - cpu0)
        figures = json.loads(done.stdout)
        imports.add(figures["import_wall"], figures["import_cpu"])
        opens.add(figures["open_wall"], figures["open_cpu"])
        seconds.add(figures["second_open_wall"], figures["second_open_cpu"])
    cache = "its files dropped from the page cache first" if dropped else "page cache as it is"
    print(f"    the trap's start, a fresh process per run ({cache}):")
    print(f"      Storage.open() (card checks, recovery): {opens.line()}")
    print(f"      the storage's imports before it:       {imports.line()}")
    print(f"      the whole process, start to exit:      {processes.line()}")
    print(f"      a second open in that process (warm; not a trap's start): {seconds.line()}")


def index_times(card: Path, data: Path, runs: int) -> None:
    """The eviction index a boot builds when the card needs room, and picking from it."""
    config = _config(card, data)
    builds, pops = stats.Timings(), stats.Timings()
    index = None
    for _ in range(runs):
        storage = Storage(config, RealClock(), FolderCard(card), OS_IO, OS_IO)
        storage.open()
        with builds.measure():
            index = storage._eviction_index()  # what _make_room builds at a boot's first need
    assert index is not None
    for _ in range(runs):
        with pops.measure():
            for _ in range(POPS_PER_RUN):
                if index.pop() is None:
                    break
    print("    eviction index (every record's CRC and chain, then the index), in-process:")
    print(f"      {builds.line('s')}")
    us_per_pop = stats.Timings()
    for wall, cpu in zip(pops.wall, pops.cpu, strict=True):
        us_per_pop.add(wall / POPS_PER_RUN, cpu / POPS_PER_RUN)
    print(f"    choosing the next eviction, per pop ({POPS_PER_RUN} pops a run): ", end="")
    print(us_per_pop.line("us"))


def main() -> None:
    runs = stats.run_count(DEFAULT_RUNS)
    commit_times()
    card = big_card()
    data = card.parent / "data"
    data.mkdir(exist_ok=True)
    journal = layout.deployment_dir(card, "dep") / layout.JOURNAL_FILE
    print(
        f"  card with {BIG_CARD_MEDIA:,} committed media ({journal.stat().st_size / 1e6:.0f} MB "
        f"journal, {BIG_CARD_DAYS} day folders):"
    )
    trap_starts(card, data, runs)
    index_times(card, data, runs)


if __name__ == "__main__":
    stats.suite(main)
