"""The one seam between the storage code and a filesystem: every write, sync, rename and delete
on the card (or on the internal buffer) goes through a `CardIO`.

On the Pi it is plain `os` calls. The simulator substitutes a card that knows which bytes are
durable and which are still cached, so a power cut can drop or tear what was not synced, and
that can fail with I/O errors, fill up, be pulled out, or write slowly.

Crash-safe writes are built from these calls: temporary name, fsync, rename, fsync the directory.
A reader (or a trap restarting after a cut) then sees either no file or the whole file, never a
partial one under the final name. Temporary names start with '.' and end with '.tmp' so recovery
can find and remove them.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

TMP_SUFFIX = ".tmp"
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


def temp_name(final: Path) -> Path:
    return final.with_name("." + final.name + TMP_SUFFIX)


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and name.endswith(TMP_SUFFIX)


class CardIO:
    """Filesystem writes through `os`, each a point where a power cut may land."""

    def create(self, path: Path, data: bytes, sync: bool) -> None:
        """Create (or truncate) `path` holding `data`; fsync it when `sync`."""
        _write_file(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, data, sync)

    def append(self, path: Path, data: bytes, sync: bool) -> None:
        """Append `data` to an existing `path`; fsync it when `sync`."""
        _write_file(path, os.O_WRONLY | os.O_APPEND, data, sync)

    def truncate(self, path: Path, size_bytes: int) -> None:
        """Cut `path` to `size_bytes` and fsync it."""
        fd = os.open(path, os.O_WRONLY)
        try:
            os.ftruncate(fd, size_bytes)
            os.fsync(fd)
        finally:
            os.close(fd)

    def sync_dir(self, directory: Path) -> None:
        """Make renames, new entries and deletions in `directory` durable."""
        fd = os.open(directory, os.O_RDONLY | _O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def replace(self, src: Path, dst: Path) -> None:
        os.replace(src, dst)

    def unlink(self, path: Path) -> None:
        os.unlink(path)

    def mkdir(self, path: Path) -> None:
        os.mkdir(path)

    def rmdir(self, path: Path) -> None:
        os.rmdir(path)

    def read(self, path: Path) -> bytes:
        """Read a whole file (verification reads go through here so faults reach them too)."""
        with open(path, "rb") as f:
            return f.read()


OS_IO = CardIO()


def _write_file(path: Path, flags: int, data: bytes, sync: bool) -> None:
    """Open `path` with `flags`, write all of `data`, fsync when `sync`, close."""
    fd = os.open(path, flags, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(io: CardIO, final: Path, data: bytes) -> None:
    """Write `data` to `final` so that it is durable and never visible half-written."""
    tmp = temp_name(final)
    try:
        io.create(tmp, data, sync=True)
    except Exception:
        # never created, or the card is gone: then recovery removes it at the next start
        with contextlib.suppress(OSError):
            io.unlink(tmp)
        raise
    io.replace(tmp, final)
    io.sync_dir(final.parent)


def make_dirs_durable(io: CardIO, directory: Path, root: Path) -> None:
    """Create `directory` (below `root`) and fsync each parent whose entries changed."""
    missing = []
    d = directory
    while not d.exists() and d != root and d != d.parent:
        missing.append(d)
        d = d.parent
    for d in reversed(missing):
        io.mkdir(d)
        io.sync_dir(d.parent)
