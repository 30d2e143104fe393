"""Output folders of the host commands, written whole or not at all.

`building(out)` checks --out before anything is made, yields a fresh sibling folder to build in,
and renames it to `out` when the body finishes. A failure or Ctrl-C removes the sibling and never
touches `out`, so nothing half-made is left and nothing old is lost."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path


class OutFolderError(FileExistsError):
    """--out cannot be used as it is (a file, a symlink, a folder holding something else)."""


def check(out: Path, replaceable: frozenset[str] = frozenset()) -> None:
    """Refuse an `out` that is a file or a symlink, or a folder holding anything but the names in
    `replaceable` (a command's own outputs from an earlier run, which it may replace)."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OutFolderError(f"{out} exists and is not a folder; choose a new --out folder")
    if out.is_dir():
        others = sorted(p.name for p in out.iterdir() if p.name not in replaceable)
        if others:
            shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            raise OutFolderError(
                f"{out} is not empty ({shown}); choose a new or empty --out folder"
            )
    for folder in reversed([out.parent, *out.parent.parents]):
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "a file is in the way", str(folder))


@contextlib.contextmanager
def building(out: Path, replaceable: frozenset[str] = frozenset()) -> Iterator[Path]:
    """A new sibling folder of `out` to build in, renamed to `out` at the end (an earlier run's
    `replaceable` outputs in `out` are replaced as a whole). Raises OutFolderError or OSError
    (named after `out`) before anything is made."""
    check(out, replaceable)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
    except OSError as exc:  # named after --out, not the temporary folder
        raise type(exc)(exc.errno, exc.strerror, str(out)) from None
    try:
        yield tmp
        check(out, replaceable)  # something else appeared there meanwhile: leave it alone
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _move_into_place(tmp: Path, out: Path) -> None:
    if not out.exists():
        os.rename(tmp, out)
        return
    old = out.parent / f".{out.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
    os.rename(out, old)  # holds only replaceable outputs (checked)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def describe(exc: OSError) -> str:
    """An OSError as a sentence: the reason and the file, without a Python repr."""
    if isinstance(exc, OutFolderError):
        return str(exc)
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"
