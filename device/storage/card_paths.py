"""Every path a card names goes through here before anything is opened, renamed or deleted.

The card is untrusted input: a journal record, an eviction, a receipt or a folder on it may name
`../../etc/passwd`, an absolute path, or a file reached through a symbolic link that points off
the card, and the trap runs with privileges. `inside()` resolves a card-relative path below its
folder or raises `HostilePath`: it must be a plain relative path (`/`-separated names, none
empty, `.` or `..`; no NUL, backslash or control character), and no component from the folder
down may be a symbolic link (links are never followed, whether they point on or off the card).
`media_path()` also requires card format v1's media shape, `YYYY-MM-DD/<seq>-<frame>.jpg`,
since that is all a record may name. Callers count and report what was refused and touch
nothing for it; the trap keeps running.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

from device.errors import CardError
from device.storage.layout import MEDIA_PATH

MAX_PATH_BYTES = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class HostilePath(CardError, ValueError):
    """A path read from a card that would lead outside its folder, or through a link."""

    def __init__(self, what: str, path: object, why: str) -> None:
        self.what = what
        self.path = path
        self.why = why
        super().__init__(errno.EPERM, f"{what} {_shown(path)} refused: {why}")


def relative_parts(path: object, what: str = "path") -> tuple[str, ...]:
    """The names of a plain relative card path, or HostilePath saying why it is not one."""
    if not isinstance(path, str):
        raise HostilePath(what, path, f"not a string but {type(path).__name__}")
    if not path:
        raise HostilePath(what, path, "empty")
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise HostilePath(what, path, f"longer than {MAX_PATH_BYTES} bytes")
    if _CONTROL.search(path):
        raise HostilePath(what, path, "holds a NUL or control character")
    if "\\" in path:
        raise HostilePath(what, path, "holds a backslash")
    if path.startswith("/"):
        raise HostilePath(what, path, "is absolute")
    parts = tuple(path.split("/"))
    for part in parts:
        if part in ("", ".", ".."):
            raise HostilePath(what, path, f"has a {part or 'empty'!r} component")
    return parts


def inside(root: Path, path: object, what: str = "path") -> Path:
    """`root / path` for a plain relative `path` with no symbolic link on the way down (a
    missing component ends the check: nothing below it exists to follow); else HostilePath."""
    parts = relative_parts(path, what)
    here = root
    for part in parts:
        here = here / part
        try:
            mode = os.lstat(here).st_mode
        except (FileNotFoundError, NotADirectoryError):
            break
        if stat.S_ISLNK(mode):
            raise HostilePath(what, path, f"{part!r} on the card is a symbolic link")
    return root.joinpath(*parts)


def media_path(root: Path, path: object, what: str = "media file") -> Path:
    """A media file a record names, `YYYY-MM-DD/<seq:08d>-<frame>.jpg` inside `root`."""
    relative_parts(path, what)
    if not MEDIA_PATH.fullmatch(str(path)):
        raise HostilePath(what, path, "not a media path of card format v1 (YYYY-MM-DD/NAME.jpg)")
    return inside(root, path, what)


def check_folder(root: Path, below: str, what: str = "folder") -> Path:
    """A folder the card holds (`irbis/<deployment>`, a day folder): inside `root`, no link on
    the way, and if it exists a real directory."""
    folder = inside(root, below, what)
    try:
        mode = os.lstat(folder).st_mode
    except FileNotFoundError:
        return folder
    if not stat.S_ISDIR(mode):
        raise HostilePath(what, below, "is not a folder")
    return folder


class OversizedFile(ValueError):
    """A file on the card larger than anything of ours could be; only its head was read."""


def read_plain(path: Path, max_bytes: int, what: str) -> bytes | None:
    """The bytes of a file the card holds at a fixed place (card.json, a receipt, ...): None
    when it is not there; HostilePath when it is a link or not a plain file; OversizedFile when
    it is larger than `max_bytes` (a card cannot make the trap read gigabytes)."""
    if os.path.islink(path):
        raise HostilePath(what, str(path), "is a symbolic link")
    if not path.exists():
        return None
    if not is_plain_file(path):
        raise HostilePath(what, str(path), "is not a plain file")
    with path.open("rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise OversizedFile(f"{path} is larger than {max_bytes} bytes")
    return data


def is_plain_file(path: Path) -> bool:
    """A regular file (not a link, folder or device) at `path`; False when missing."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _shown(path: object) -> str:
    text = repr(path)
    return text if len(text) <= 120 else text[:117] + "..."
