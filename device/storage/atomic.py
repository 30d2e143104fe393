"""Crash-safe writes over the filesystem seam (device/hal/cardio.py): temporary name, fsync,
rename, fsync the directory. A reader (or a trap restarting after a cut) then sees either no
file or the whole file, never a partial one under the final name. Temporary names start with
'.' and end with '.tmp' so recovery can find and remove them.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from device.hal.cardio import CardIO

TMP_SUFFIX = ".tmp"


def temp_name(final: Path) -> Path:
    return final.with_name("." + final.name + TMP_SUFFIX)


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and name.endswith(TMP_SUFFIX)


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
