"""The removable card: which physical card it is, and how much room is left on it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from device.errors import CardError

if TYPE_CHECKING:
    from device.hal.pi.block import RawBlockDevice

_T = TypeVar("_T")
_SD_IDENTITY_FILES = ("cid", "serial")  # in /sys/block/mmcblkN/device/, best first


class SdCard:
    """The card mounted at config["storage.card_path"], read through /sys and statvfs.

    identity() prefers the SD card's CID (burnt in at the factory, survives reformatting) and falls
    back to the filesystem id when the path is not on an mmcblk device (a USB reader, a test dir).
    """

    def __init__(self, mount_path: Path, sys_root: Path = Path("/sys")) -> None:
        self._mount_path = Path(mount_path)
        self._sys_root = Path(sys_root)

    @property
    def mount_path(self) -> Path:
        return self._mount_path

    def present(self) -> bool:
        """A card is mounted at the path: a mount point, not an empty folder on the system
        disk (writing there would fill the system partition)."""
        return os.path.ismount(self._mount_path)

    def identity(self) -> str:
        """'cid:<hex>' or 'serial:<hex>' for an SD card, else 'fsid:<hex>' or 'dev:<maj>:<min>'."""
        st_dev = self._call(os.stat).st_dev
        disk = self._block_disk(st_dev)
        if disk is not None and disk.startswith("mmcblk"):
            for source in _SD_IDENTITY_FILES:
                value = _read_id(self._sys_root / "block" / disk / "device" / source)
                if value:
                    return f"{source}:{value}"
        fsid = self._call(os.statvfs).f_fsid
        if fsid:
            return f"fsid:{fsid:x}"
        return f"dev:{os.major(st_dev)}:{os.minor(st_dev)}"

    def free_bytes(self) -> int:
        st = self._call(os.statvfs)
        return st.f_bavail * st.f_frsize

    def capacity_bytes(self) -> int:
        st = self._call(os.statvfs)
        return st.f_blocks * st.f_frsize

    def block_device(self) -> RawBlockDevice | None:
        """The whole SD card holding the mount (/dev/mmcblkN) opened raw for the capacity probe,
        or None when the mount is not on an mmcblk device. Opening needs root or the disk group;
        a failure is a CardError."""
        disk = self._block_disk(self._call(os.stat).st_dev)
        if disk is None or not disk.startswith("mmcblk"):
            return None
        from device.hal.pi.block import RawBlockDevice  # only when asked: raw I/O is rare

        path = Path("/dev") / disk
        try:
            return RawBlockDevice(path)
        except OSError as exc:
            raise CardError(
                exc.errno, f"cannot open {path} for the capacity probe: {exc.strerror}"
            ) from exc

    def _call(self, fn: Callable[[Path], _T]) -> _T:
        """`fn(mount_path)` (os.stat, os.statvfs), with a vanished or failing card as CardError."""
        try:
            return fn(self._mount_path)
        except OSError as exc:
            raise CardError(
                exc.errno, f"card at {self._mount_path} is not readable: {exc.strerror}"
            ) from exc

    def _block_disk(self, st_dev: int) -> str | None:
        """The whole-disk name (mmcblk0 for mmcblk0p1) holding `st_dev`, from /sys/dev/block."""
        link = self._sys_root / "dev" / "block" / f"{os.major(st_dev)}:{os.minor(st_dev)}"
        try:
            device_dir = link.resolve(strict=True)
        except OSError:
            return None  # not a block device (tmpfs, overlay) or no /sys
        if (device_dir / "partition").is_file():
            return device_dir.parent.name
        return device_dir.name


def _read_id(path: Path) -> str | None:
    try:
        value = path.read_text().strip().lower()
    except OSError:
        return None
    return value.removeprefix("0x") or None
