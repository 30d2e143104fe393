"""The card's journal: one JSON line per event, appended and fsynced after the event's media.

This is the pre-v1 journal of the trap's core; the storage issue adds the CRC and hash chain.
Opening cuts a torn last line (a power cut mid-append) so new records never follow garbage.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from device.storage.atomic import FSYNC, Sync

log = logging.getLogger("irbis.storage")

JOURNAL_VERSION = 0
TAIL_BYTES = 64 * 1024


class Journal:
    """Append-only JSON-lines file."""

    def __init__(self, path: Path, sync: Sync = FSYNC) -> None:
        self.path = path
        self.sync = sync
        self.cut_bytes = self._cut_torn_tail()

    def _cut_torn_tail(self) -> int:
        if not self.path.exists():
            self.path.touch()
            self.sync.directory(self.path.parent)
            return 0
        size = self.path.stat().st_size
        if size == 0:
            return 0
        with self.path.open("rb+") as f:
            f.seek(max(0, size - TAIL_BYTES))
            tail = f.read()
            if tail.endswith(b"\n"):
                return 0
            last_newline = tail.rfind(b"\n")
            if last_newline < 0 and size > TAIL_BYTES:
                return 0  # a single line longer than the tail window: leave it to card check
            keep = size - len(tail) + last_newline + 1  # 0 when the only line is torn
            f.truncate(keep)
            f.flush()
            self.sync.file(f.fileno())
        cut = size - keep
        log.warning("journal tail cut", extra={"record": {"path": str(self.path), "bytes": cut}})
        return cut

    def append(self, record: dict[str, Any]) -> None:
        line = (
            json.dumps({"v": JOURNAL_VERSION, **record}, separators=(",", ":"), sort_keys=True)
            + "\n"
        )
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, line.encode("utf-8"))
            self.sync.file(fd)
        finally:
            os.close(fd)

    def last_seq(self) -> int:
        """The sequence number of the last readable record (0 when empty). Reads only the tail:
        records are appended in sequence order."""
        size = self.path.stat().st_size
        with self.path.open("rb") as f:
            f.seek(max(0, size - TAIL_BYTES))
            lines = f.read().split(b"\n")
        for raw in reversed(lines):
            try:
                return int(json.loads(raw)["seq"])
            except (ValueError, KeyError, TypeError):
                continue
        return 0

    def records(self) -> list[dict[str, Any]]:
        """Every parsable record (host tools and tests)."""
        return read_records(self.path)


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every parsable record of a journal file, read-only (opening a Journal cuts a torn tail,
    which a host tool must not do); a missing file has none."""
    if not path.exists():
        return []
    out = []
    with path.open("rb") as f:
        for raw in f:
            try:
                out.append(json.loads(raw))
            except ValueError:
                continue
    return out
