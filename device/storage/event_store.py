"""Commits events to the card: media first (atomic writes), then the journal record.

Layout (pre-v1; the storage issue versions it in docs/card-format.md):

    <card>/irbis/<deployment_id>/journal.jsonl
    <card>/irbis/<deployment_id>/<YYYY-MM-DD>/<seq:08d>-<frame:02d>.jpg   (local date of trigger)

An event is *committed* when its journal line is fsynced; only then is it reported saved.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from device.capture import Burst
from device.errors import CardError
from device.storage.atomic import (
    FSYNC,
    Sync,
    make_dirs_durable,
    remove_temp_files,
    write_atomic,
)
from device.storage.journal import Journal

MEDIA_NAME = re.compile(r"^(\d{8})-(\d{2})\.jpg$")
DAY_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check_card_path(path: Path) -> None:
    """Refuse a card path that is missing, not a directory or read-only, saying which.

    Read-only is read from the mount's flags (a card's write-protect switch makes the kernel
    mount it read-only) and from permissions; no probe file is written, since in gated mode the
    trap starts on every wake and each probe would be two more metadata writes on the card.
    """
    if not path.exists():
        raise CardError(f"card path {path} does not exist (is the card mounted?)")
    if not path.is_dir():
        raise CardError(f"card path {path} is not a directory")
    if os.statvfs(path).f_flag & os.ST_RDONLY:
        raise CardError(
            f"card path {path} is not writable (mounted read-only); "
            "is the card's write-protect switch on?"
        )
    if not os.access(path, os.W_OK | os.X_OK):
        raise CardError(f"card path {path} is not writable (permissions)")


class EventStore:
    """The trap's view of one deployment's folder on the card."""

    def __init__(self, card_root: Path, deployment_id: str, sync: Sync = FSYNC) -> None:
        check_card_path(card_root)
        self.sync = sync
        self.root = card_root / "irbis" / deployment_id
        make_dirs_durable(self.root, card_root, sync)
        self.removed_temp = remove_temp_files(self.root)
        with os.scandir(self.root) as entries:
            self._day_dirs = sorted(e.name for e in entries if DAY_DIR.match(e.name) and e.is_dir())
        for day in self._day_dirs[-1:]:
            self.removed_temp += remove_temp_files(self.root / day)
        self.journal = Journal(self.root / "journal.jsonl", sync)

    def next_seq(self) -> int:
        """One past the highest sequence number in the journal or the newest day's media, so
        numbers are never reused (media committed just before a cut count too)."""
        highest = self.journal.last_seq()
        for day in self._day_dirs[-1:]:
            for name in os.listdir(self.root / day):
                m = MEDIA_NAME.match(name)
                if m:
                    highest = max(highest, int(m.group(1)))
        return highest + 1

    def commit(
        self, record: dict[str, Any], burst: Burst | None, frame_times: list[str] | None = None
    ) -> int:
        """Write the media, then the journal line. Returns the number of media written."""
        day = record["trigger_time"][:10]
        day_dir = self.root / day
        if day not in self._day_dirs:
            make_dirs_durable(day_dir, self.root, self.sync)
            self._day_dirs.append(day)
            self._day_dirs.sort()
        media = []
        for index, frame in enumerate(burst.frames if burst else [], start=1):
            name = f"{record['seq']:08d}-{index:02d}.jpg"
            data = frame.image_jpeg
            write_atomic(day_dir / name, data, self.sync)
            m = frame.meta
            media.append(
                {
                    "file": f"{day}/{name}",
                    "time": frame_times[index - 1] if frame_times else None,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "bytes": len(data),
                    "exposure_us": m.exposure_us,
                    "analogue_gain": round(m.analogue_gain, 3),
                    "lux": round(m.lux, 3),
                    "ir": m.ir_on,
                }
            )
        self.journal.append({**record, "kind": "event", "media": media})
        return len(media)
