"""Crash-safe file writes: temporary name, fsync, rename, fsync the directory.

A reader (or a trap restarting after a power cut) sees either no file or the whole file, never
a partial one under the final name. Temporary names start with '.' and end with '.tmp' so
recovery can find and remove them.
"""

from __future__ import annotations

import os
from pathlib import Path

TMP_SUFFIX = ".tmp"


def temp_name(final: Path) -> Path:
    return final.with_name("." + final.name + TMP_SUFFIX)


def is_temp(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(TMP_SUFFIX)


class Sync:
    """How data reaches the medium: fsync on a real card. The simulator substitutes its own
    model of the card (what is durable and what is still cached) through this one seam."""

    def file(self, fd: int) -> None:
        os.fsync(fd)

    def directory(self, directory: Path) -> None:
        """Make a rename or a new entry in `directory` durable."""
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


FSYNC = Sync()


def write_atomic(final: Path, data: bytes, sync: Sync = FSYNC) -> None:
    """Write `data` to `final` so that it is durable and never visible half-written."""
    tmp = temp_name(final)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        sync.file(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, final)
    sync.directory(final.parent)


def make_dirs_durable(directory: Path, root: Path, sync: Sync = FSYNC) -> None:
    """Create `directory` (below `root`) and fsync each parent whose entries changed."""
    missing = []
    d = directory
    while not d.exists() and d != root and d != d.parent:
        missing.append(d)
        d = d.parent
    for d in reversed(missing):
        d.mkdir(exist_ok=True)
        sync.directory(d.parent)


def remove_temp_files(directory: Path) -> list[Path]:
    """Delete leftover temporary files directly in `directory` (after a cut mid-write)."""
    removed = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.endswith(TMP_SUFFIX) and entry.name.startswith(".") and entry.is_file():
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed
