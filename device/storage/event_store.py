"""Commits events to one deployment folder (on the card, or in the trap's internal buffer).

An event is *committed* when, in this order, each media file has been written to a temporary
name, fsynced, renamed to its final name and its folder fsynced, and then the event's journal
record has been appended and fsynced. Only then is it reported saved. Opening the store runs
recovery (device/storage/recovery.py). See docs/card-format.md.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device.hal.cardio import CardIO
from device.storage import layout
from device.storage.atomic import make_dirs_durable, write_atomic
from device.storage.card_paths import media_path
from device.storage.highwater import Mark
from device.storage.recovery import recover

log = logging.getLogger("irbis.storage")


@dataclass(frozen=True)
class Media:
    """One file of an event: `frame` 1-99, or layout.THUMB for its thumbnail."""

    frame: int | str
    data: bytes
    meta: dict[str, Any]

    @property
    def role(self) -> str:
        return "thumb" if self.frame == layout.THUMB else "frame"


class EventStore:
    """One deployment folder: recovery at opening, then commits and evictions."""

    def __init__(
        self, root: Path, io: CardIO, now: str | None = None, marks: tuple[Mark, ...] = ()
    ) -> None:
        self.root = root
        self.io = io
        self.journal, self.recovery = recover(root, io, now=now, marks=marks)
        self._days = set(self.recovery.day_folders)

    def next_seq(self) -> int:
        """One past the highest sequence number journaled, seen on media in the newest folders
        or vouched for by a high-water mark, so numbers are never reused (media committed just
        before a cut count too, and so do events a shortened journal lost)."""
        r = self.recovery
        return max(self.journal.last_seq, r.highest_media_seq, r.highest_mark_seq) + 1

    def commit(self, record: dict[str, Any], media: list[Media]) -> dict[str, Any]:
        """Write the media, then the journal record; returns the record as journaled."""
        seq = int(record["seq"])
        if seq <= self.journal.last_seq:
            raise ValueError(
                f"event {seq} is not after the last journaled event {self.journal.last_seq}"
            )
        day = record["trigger_time"][:10]
        if not layout.DAY_DIR.match(day):
            raise ValueError(f"trigger_time {record['trigger_time']!r} does not start with a date")
        if day not in self._days:
            make_dirs_durable(self.io, self.root / day, self.root)
            self._days.add(day)
        names = [layout.media_path(day, seq, item.frame) for item in media]
        for rel in names:  # never over a file the card already holds; checked before writing
            if os.path.lexists(self.root / rel):
                raise FileExistsError(errno.EEXIST, f"event {seq}: {rel} is already on the card")
        entries = []
        for item, rel in zip(media, names, strict=True):
            write_atomic(self.io, self.root / rel, item.data)
            entries.append(
                {
                    **item.meta,
                    "file": rel,
                    "role": item.role,
                    "sha256": hashlib.sha256(item.data).hexdigest(),
                    "bytes": len(item.data),
                }
            )
        return self.journal.append({**record, "kind": "event", "media": entries})

    def evict(self, files: list[str], reason: str, **fields: Any) -> int:
        """Journal the eviction, then delete the files; returns the bytes freed. A cut between
        the two leaves files that recovery deletes; the reverse order could lose a file the
        journal still calls committed. A path that is not a media path inside this folder is
        refused (HostilePath) before anything is journaled or deleted."""
        paths = {rel: media_path(self.root, rel, "evicted file") for rel in files}  # before all
        sizes = {}
        for rel, path in paths.items():
            try:
                sizes[rel] = path.lstat().st_size
            except FileNotFoundError:
                sizes[rel] = 0
        self.journal.append(
            {
                "kind": "evict",
                "reason": reason,
                "files": files,
                "bytes": sum(sizes.values()),
                **fields,
            }
        )
        folders = set()
        for rel, path in paths.items():
            if sizes[rel]:
                self.io.unlink(path)
                folders.add(path.parent)
        for folder in sorted(folders):
            self.io.sync_dir(folder)
        return sum(sizes.values())

    def note(self, record: dict[str, Any]) -> dict[str, Any]:
        """Append a record that is not an event (open, status, ...)."""
        return self.journal.append(record)
