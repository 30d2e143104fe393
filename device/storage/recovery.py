"""Recovery after a power cut, run by the trap at every start (and by `irbis card check --repair`).

It removes temporary files, cuts a torn journal tail (logging what it cut), finishes an eviction
a cut interrupted, and checks the hashes of the most recent committed media. It never deletes a
committed media and never rewrites a sound journal record. The trap's start reads only the
journal's tail and the newest day folders; `thorough` (host repair) walks every day folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from device.hal.cardio import CardIO
from device.storage import layout
from device.storage.atomic import is_temp_name, make_dirs_durable
from device.storage.journal import Journal, Tail

log = logging.getLogger("irbis.storage")

NEWEST_DAYS_CHECKED = 2  # besides the last event's day and later


@dataclass
class Recovery:
    """What recovery found and did in one deployment folder."""

    removed_temp: list[str] = field(default_factory=list)
    cut_bytes: int = 0
    finished_evictions: list[str] = field(default_factory=list)
    verified_media: int = 0
    damaged: list[dict[str, str]] = field(default_factory=list)
    highest_media_seq: int = 0  # the highest seq among media in the folders looked at
    day_folders: list[str] = field(default_factory=list)  # every day folder, sorted

    @property
    def eventful(self) -> bool:
        return bool(self.removed_temp or self.cut_bytes or self.finished_evictions or self.damaged)

    def to_record(self) -> dict[str, Any]:
        return {
            "kind": "recovery",
            "cut_bytes": self.cut_bytes,
            "removed_temp": self.removed_temp,
            "finished_evictions": self.finished_evictions,
            "damaged": self.damaged,
            "verified_media": self.verified_media,
        }


def day_dirs(root: Path) -> list[str]:
    with os.scandir(root) as entries:
        return sorted(e.name for e in entries if layout.DAY_DIR.match(e.name) and e.is_dir())


def recover(
    root: Path, io: CardIO, thorough: bool = False, now: str | None = None
) -> tuple[Journal, Recovery]:
    """Make the deployment folder `root` consistent; returns its opened journal and the report.

    Creates `root` (and its parents, durably) when missing. When recovery did something, its
    `recovery` record (stamped `now`, when given) is appended to the journal.
    """
    report = Recovery()
    make_dirs_durable(io, root, Path(root.anchor))
    days = report.day_folders = day_dirs(root)
    journal = Journal(root / layout.JOURNAL_FILE, io)
    report.cut_bytes = journal.cut_bytes
    tail = journal.tail
    # Media of an event whose record a cut lost can only be in folders written after the last
    # journaled event: its day and later ones (and, should the clock have gone back, the
    # newest folders). With no event journaled, every folder.
    looked_at = set(days[-NEWEST_DAYS_CHECKED:])
    last_day = tail.last_event["trigger_time"][:10] if tail.last_event else ""
    looked_at.update(d for d in days if thorough or d >= last_day)
    for dirname in [".", *sorted(d for d in looked_at if d in days)]:
        directory = root / dirname
        temps = []
        for name in os.listdir(directory):  # one listing per folder: temps and media names
            parsed = layout.parse_media_name(name)
            if parsed:
                report.highest_media_seq = max(report.highest_media_seq, parsed[0])
            elif is_temp_name(name) and (directory / name).is_file():
                io.unlink(directory / name)
                temps.append(name)
        if temps:
            io.sync_dir(directory)
            report.removed_temp += temps
    _finish_eviction(root, io, tail, report)
    _verify_last_event(root, io, tail, report)
    if report.removed_temp:
        log.warning("temporary files removed", extra={"record": {"files": report.removed_temp}})
    if report.eventful:
        journal.append({**report.to_record(), **({"time": now} if now else {})})
    return journal, report


def _finish_eviction(root: Path, io: CardIO, tail: Tail, report: Recovery) -> None:
    """A cut between an eviction's record and its deletions leaves files the journal gave up."""
    if tail.record is None or tail.record.get("kind") != "evict":
        return
    for rel in tail.record.get("files", []):
        path = root / rel
        if path.exists():
            io.unlink(path)
            io.sync_dir(path.parent)
            report.finished_evictions.append(rel)


def _verify_last_event(root: Path, io: CardIO, tail: Tail, report: Recovery) -> None:
    """Hash the newest event's media: the ones a cut could have caught in the card's cache."""
    event = tail.last_event
    if event is None:
        return
    evicted = set(tail.record.get("files", [])) if tail.record.get("kind") == "evict" else set()
    already = {d["file"] for d in tail.record.get("damaged", [])} if tail.record else set()
    for media in event.get("media", []):
        rel = media["file"]
        if rel in evicted:
            continue
        try:
            data = io.read(root / rel)
        except FileNotFoundError:
            found = "missing"
        else:
            report.verified_media += 1
            if hashlib.sha256(data).hexdigest() == media["sha256"]:
                continue
            found = "hash_mismatch"
        if rel not in already:
            report.damaged.append({"file": rel, "found": found})
            log.error("committed media damaged", extra={"record": {"file": rel, "found": found}})
