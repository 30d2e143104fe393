"""The filesystem seam: every write, sync, rename, delete and verification read on the card (or
on the Pi's own data partition) goes through a `CardIO`.

On the Pi and in host tools it is plain `os` calls (`OS_IO`); the simulator substitutes a card
that knows which bytes are durable and which are still cached, so a power cut can drop or tear
what was not synced, and that can fail with I/O errors, fill up, be pulled out, or write slowly.
Nothing takes `OS_IO` by default: whoever opens the hardware (device/hal backends) or a host
tool names it, so a test or the simulator can never reach the real disk by omission.
"""

from __future__ import annotations

import os
from pathlib import Path

_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class CardIO:
    """Filesystem operations through `os`, each a point where a power cut may land.

    Opens never follow a symbolic link in the last component (O_NOFOLLOW): a link on a card
    could point anywhere on the Pi. Links in the folders above are refused by the storage's
    path checks (device/storage/card_paths.py).
    """

    def create(self, path: Path, data: bytes, sync: bool) -> None:
        """Create (or truncate) `path` holding `data`; fsync it when `sync`."""
        _write_file(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, data, sync)

    def append(self, path: Path, data: bytes, sync: bool) -> None:
        """Append `data` to an existing `path`; fsync it when `sync`."""
        _write_file(path, os.O_WRONLY | os.O_APPEND, data, sync)

    def truncate(self, path: Path, size_bytes: int) -> None:
        """Cut `path` to `size_bytes` and fsync it."""
        fd = os.open(path, os.O_WRONLY | _O_NOFOLLOW)
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
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            return f.read()


OS_IO = CardIO()


def _write_file(path: Path, flags: int, data: bytes, sync: bool) -> None:
    """Open `path` with `flags`, write all of `data`, fsync when `sync`, close."""
    fd = os.open(path, flags | _O_NOFOLLOW, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
