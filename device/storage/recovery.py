"""Recovery after a power cut, run by the trap at every start (and by `irbis card check --repair`).

It removes temporary files, cuts a torn journal tail (logging what it cut), finishes an eviction
a cut interrupted, checks the hashes of the most recent committed media, and adopts the media of
an event whose commit a cut interrupted after its files were in place (they are whole: each was
fsynced before its rename). It never deletes a committed media, never rewrites a sound journal
record, and never follows or touches a path the card names outside its folder
(device/storage/card_paths.py): such records are refused and reported.

Lost history is reported, never hidden: when the journal ends before (or differs at) a
high-water mark (device/storage/highwater.py), or media of more than one event lie beyond its
last event, a `lost` record says what is missing before those media are adopted (so they are
kept, checked and counted), and nothing is cut to make the journal look whole.

The trap's start reads only the journal's tail and the newest day folders; `thorough` (host
repair) walks every day folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from device.hal.cardio import CardIO
from device.storage import layout
from device.storage.atomic import is_temp_name, make_dirs_durable
from device.storage.card_paths import HostilePath, media_path
from device.storage.highwater import Mark, broken_marks
from device.storage.journal import Journal, Tail

log = logging.getLogger("irbis.storage")

NEWEST_DAYS_CHECKED = 2  # besides the last event's day and later
MAX_ADOPTED_BYTES = 64 * 1024 * 1024  # a media file larger than this is not ours to adopt
_OFFSET = re.compile(r"[+-]\d{2}:\d{2}$")
_CUT_WHY = (
    "a power cut interrupted this event's commit after its media were in place; its record "
    "was lost, so its time is the day folder's date"
)
_LOST_WHY = (
    "its record was lost with the journal's history (see the lost record before it); its "
    "media were on the card, so its time is the day folder's date"
)


@dataclass
class Recovery:
    """What recovery found and did in one deployment folder."""

    removed_temp: list[str] = field(default_factory=list)
    cut_bytes: int = 0
    finished_evictions: list[str] = field(default_factory=list)
    verified_media: int = 0
    damaged: list[dict[str, str]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)  # hostile paths, untouched
    adopted: list[str] = field(default_factory=list)  # media of a cut commit, now journaled
    lost: dict[str, Any] | None = None  # the `lost` record, when history is missing
    highest_media_seq: int = 0  # the highest seq among media in the folders looked at
    highest_mark_seq: int = 0  # the highest seq a high-water mark says was journaled
    day_folders: list[str] = field(default_factory=list)  # every day folder, sorted

    @property
    def eventful(self) -> bool:
        return bool(
            self.removed_temp
            or self.cut_bytes
            or self.finished_evictions
            or self.damaged
            or self.refused
            or self.adopted
        )

    def to_record(self) -> dict[str, Any]:
        return {
            "kind": "recovery",
            "cut_bytes": self.cut_bytes,
            "removed_temp": self.removed_temp,
            "finished_evictions": self.finished_evictions,
            "damaged": self.damaged,
            "refused": self.refused,
            "adopted": self.adopted,
            "verified_media": self.verified_media,
        }

    def refuse(self, rec: int | None, exc: HostilePath) -> None:
        """Note a hostile path (counted, logged, journaled); nothing is done for it."""
        entry = {"rec": rec, "what": exc.what, "path": repr(exc.path)[:200], "why": exc.why}
        self.refused.append(entry)
        log.error("card path refused", extra={"record": entry})


def day_dirs(root: Path) -> list[str]:
    """The day folders: real folders only (a link named like one is never entered)."""
    with os.scandir(root) as entries:
        return sorted(
            e.name
            for e in entries
            if layout.DAY_DIR.match(e.name) and e.is_dir(follow_symlinks=False)
        )


def recover(
    root: Path,
    io: CardIO,
    thorough: bool = False,
    now: str | None = None,
    marks: tuple[Mark, ...] = (),
) -> tuple[Journal, Recovery]:
    """Make the deployment folder `root` consistent; returns its opened journal and the report.

    Creates `root` (and its parents, durably) when missing. `marks` are the journal's known
    high-water marks. When recovery did something, its `recovery` record (stamped `now`, when
    given) is appended to the journal, and a `lost` record when history is missing.
    """
    report = Recovery()
    make_dirs_durable(io, root, Path(root.anchor))
    days = report.day_folders = day_dirs(root)
    journal = Journal(root / layout.JOURNAL_FILE, io)
    report.cut_bytes = journal.cut_bytes
    report.highest_mark_seq = max((m.seq for m in marks), default=0)
    tail = journal.tail
    # Media of an event whose record a cut lost can only be in folders written after the last
    # journaled event: its day and later ones (and, should the clock have gone back, the
    # newest folders). With no event journaled, every folder.
    looked_at = set(days[-NEWEST_DAYS_CHECKED:])
    last_day = str(tail.last_event.get("trigger_time", ""))[:10] if tail.last_event else ""
    looked_at.update(d for d in days if thorough or d >= last_day)
    beyond: dict[int, list[str]] = defaultdict(list)  # seq -> media past the last event
    for dirname in [".", *sorted(d for d in looked_at if d in days)]:
        _list_folder(root, dirname, io, journal.last_seq, report, beyond)
    _finish_eviction(root, io, tail, report)
    _verify_last_event(root, io, tail, report)
    broken = broken_marks(journal, list(marks))
    stamp = {"time": now} if now else {}
    cut_commit = len(beyond) == 1 and not broken and min(beyond) > report.highest_mark_seq
    if (broken or beyond) and not cut_commit:
        report.lost = _lost_record(journal, broken, beyond)
        log.error("journal history lost", extra={"record": report.lost})
        if not _said_before(tail, report.lost):
            journal.append({**report.lost, **stamp})
    for seq in sorted(beyond):  # whole files: journaled so they are kept and checked
        _adopt(root, io, journal, seq, beyond[seq], now, report, lost=not cut_commit)
    if report.removed_temp:
        log.warning("temporary files removed", extra={"record": {"files": report.removed_temp}})
    if report.eventful:
        journal.append({**report.to_record(), **stamp})
    return journal, report


def _said_before(tail: Tail, lost: dict[str, Any]) -> bool:
    """The journal's last record already reports this same loss (a second start, or a second
    repair, with nothing new): it is not journaled twice."""
    last = tail.record or {}
    same = ("marks", "unjournaled_events", "unjournaled_media", "unjournaled_seqs")
    return last.get("kind") == "lost" and all(last.get(k) == lost[k] for k in same)


def _list_folder(
    root: Path,
    dirname: str,
    io: CardIO,
    last_seq: int,
    report: Recovery,
    beyond: dict[int, list[str]],
) -> None:
    """One listing per folder: temporaries go, media names tell the highest seq on the card."""
    directory = root / dirname
    temps = []
    with os.scandir(directory) as entries:  # the file type comes with the listing (d_type)
        for entry in entries:
            name = entry.name
            parsed = layout.parse_media_name(name) if dirname != "." else None
            if parsed:
                report.highest_media_seq = max(report.highest_media_seq, parsed[0])
                if parsed[0] > last_seq and entry.is_file(follow_symlinks=False):
                    beyond[parsed[0]].append(f"{dirname}/{name}")
            elif is_temp_name(name) and entry.is_file(follow_symlinks=False):
                temps.append(name)
    for name in temps:
        io.unlink(directory / name)
    temps = [name if dirname == "." else f"{dirname}/{name}" for name in temps]
    if temps:
        io.sync_dir(directory)
        report.removed_temp += temps


def _finish_eviction(root: Path, io: CardIO, tail: Tail, report: Recovery) -> None:
    """A cut between an eviction's record and its deletions leaves files the journal gave up."""
    record = tail.record
    if record is None or record.get("kind") != "evict":
        return
    files = record.get("files")
    for rel in files if isinstance(files, list) else []:
        try:
            path = media_path(root, rel, "evicted file")
        except HostilePath as exc:
            report.refuse(record.get("rec"), exc)
            continue
        if path.is_file():
            io.unlink(path)
            io.sync_dir(path.parent)
            report.finished_evictions.append(rel)


def _verify_last_event(root: Path, io: CardIO, tail: Tail, report: Recovery) -> None:
    """Hash the newest event's media: the ones a cut could have caught in the card's cache."""
    event = tail.last_event
    if event is None:
        return
    record = tail.record or {}
    evicted = set(record.get("files") or []) if record.get("kind") == "evict" else set()
    already = {d.get("file") for d in record.get("damaged") or [] if isinstance(d, dict)}
    media = event.get("media")
    for entry in media if isinstance(media, list) else []:
        rel = entry.get("file") if isinstance(entry, dict) else entry
        try:
            path = media_path(root, rel, "media file")
        except HostilePath as exc:
            report.refuse(event.get("rec"), exc)
            continue
        if rel in evicted:
            continue
        try:
            data = io.read(path)
        except FileNotFoundError:
            found = "missing"
        else:
            report.verified_media += 1
            if hashlib.sha256(data).hexdigest() == entry.get("sha256"):
                continue
            found = "hash_mismatch"
        if rel not in already:
            report.damaged.append({"file": rel, "found": found})
            log.error("committed media damaged", extra={"record": {"file": rel, "found": found}})


def _adopt(
    root: Path,
    io: CardIO,
    journal: Journal,
    seq: int,
    files: list[str],
    now: str | None,
    report: Recovery,
    lost: bool,
) -> None:
    """Journal the media of an event whose record is gone: the one event a cut caught between
    its renames and its record, or (`lost`) events a lost journal no longer holds, after the
    `lost` record that says so. Each file is whole (fsynced before its rename).

    Its trigger time is lost with the record: the record carries the day folder's date at
    local midnight and says so (`time_source` "day_folder"). Files too large to be ours stay
    unjournaled (and `irbis card check` reports them)."""
    media = []
    for rel in sorted(files):
        path = root / rel
        if path.stat().st_size > MAX_ADOPTED_BYTES:
            log.error("media too large to adopt", extra={"record": {"file": rel}})
            continue
        data = io.read(path)
        thumb = rel.endswith(f"-{layout.THUMB}.jpg")
        media.append(
            {
                "file": rel,
                "role": "thumb" if thumb else "frame",
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
            }
        )
    if not media:
        return
    offset = _OFFSET.search(now or "")
    day = files[0][:10]
    journal.append(
        {
            "kind": "event",
            "seq": seq,
            "source": "unknown",
            "status": "recovered",
            "error": _LOST_WHY if lost else _CUT_WHY,
            "trigger_time": f"{day}T00:00:00.000{offset.group(0) if offset else '+00:00'}",
            "time_source": "day_folder",
            "latency_s": None,
            "retriggers": 0,
            "held_off_triggers": 0,
            "wake_reason": None,
            "ir": False,
            "frames": sum(1 for m in media if m["role"] == "frame"),
            "verdict": {
                "decision": "keep",
                "score": None,
                "reasons": ["recovered_after_lost_history" if lost else "recovered_after_cut"],
                "best_frame": None,
                "audit": False,
                "measures": {},
            },
            "media": media,
        }
    )
    report.adopted += [m["file"] for m in media]
    log.warning("media without a record adopted", extra={"record": {"seq": seq, "files": files}})


def _lost_record(
    journal: Journal, broken: list[dict[str, Any]], beyond: dict[int, list[str]]
) -> dict[str, Any]:
    """What the journal no longer holds: the marks it fails and the media past its end."""
    lost_records = max((m["rec"] - journal.last_rec for m in broken), default=0)
    return {
        "kind": "lost",
        "journal_rec": journal.last_rec,
        "journal_seq": journal.last_seq,
        "lost_records": max(0, lost_records),
        "marks": broken,
        "unjournaled_events": len(beyond),
        "unjournaled_media": sum(len(f) for f in beyond.values()),
        "unjournaled_seqs": [min(beyond), max(beyond)] if beyond else [],
    }
