"""The card as a raw block device (/dev/mmcblk0 on a Pi), for the capacity probe.

Opened O_RDWR | O_DIRECT | O_SYNC, so reads and writes bypass the page cache and each write has
reached the device when it returns. Where O_DIRECT is refused with EINVAL (tmpfs, some regular
files), it is opened without it and `direct` is False; `flush` then drops the cached pages so the
next reads still come from the medium. O_DIRECT needs buffers, offsets and lengths aligned to the
device's logical sector size: buffers come from an anonymous mmap (page-aligned), and offsets and
lengths must be multiples of `sector_bytes` (ValueError otherwise).

Size: ioctl BLKGETSIZE64 for a block device, st_size for a regular file (the tests use one).
Nothing imports this module at import time; `SdCard.block_device` imports it when asked.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import stat
import struct
from pathlib import Path
from types import TracebackType

_O_DIRECT = getattr(os, "O_DIRECT", 0)
_IOC_READ = 2


def _ior(kind: int, number: int, size: int) -> int:
    """Linux _IOR(kind, number, size) as on arm and x86 (the Pi and the test host)."""
    return (_IOC_READ << 30) | (size << 16) | (kind << 8) | number


# <linux/fs.h>: BLKGETSIZE64 is _IOR(0x12, 114, size_t) (the kernel writes a u64 whatever
# size_t is, but the request number encodes sizeof(size_t)); BLKSSZGET is _IO(0x12, 104), an int.
BLKGETSIZE64 = _ior(0x12, 114, struct.calcsize("N"))
BLKSSZGET = (0x12 << 8) | 104
DEFAULT_BLOCK_BYTES = 4096
FILE_SECTOR_BYTES = 512


class RawBlockDevice:
    """`device.storage.probe.BlockDevice` on a block device or a regular file.

    `size_bytes` defaults to the whole device; a smaller value limits the probe to a prefix (a
    larger one is a ValueError). `block_bytes` is the probe's unit (4096).
    """

    def __init__(
        self,
        path: Path,
        size_bytes: int | None = None,
        block_bytes: int = DEFAULT_BLOCK_BYTES,
    ) -> None:
        self.path = Path(path)
        self.direct = bool(_O_DIRECT)
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_SYNC | _O_DIRECT)
        except OSError as exc:
            if exc.errno != errno.EINVAL or not _O_DIRECT:
                raise
            self.direct = False
            self._fd = os.open(self.path, os.O_RDWR | os.O_SYNC)
        self._buffer: mmap.mmap | None = None
        try:
            st = os.fstat(self._fd)
            if stat.S_ISBLK(st.st_mode):
                device_bytes = _ioctl_u64(self._fd, BLKGETSIZE64)
                self.sector_bytes = _ioctl_int(self._fd, BLKSSZGET)
            elif stat.S_ISREG(st.st_mode):
                device_bytes = st.st_size
                self.sector_bytes = FILE_SECTOR_BYTES
            else:
                raise ValueError(f"{self.path} is neither a block device nor a regular file")
            if size_bytes is not None and not 0 < size_bytes <= device_bytes:
                raise ValueError(
                    f"size_bytes {size_bytes} is not within {self.path}'s {device_bytes}"
                )
            if block_bytes % self.sector_bytes:
                raise ValueError(
                    f"block_bytes {block_bytes} is not a multiple of the "
                    f"{self.sector_bytes}-byte sector"
                )
        except BaseException:
            os.close(self._fd)
            raise
        self.size_bytes = device_bytes if size_bytes is None else size_bytes
        self.block_bytes = block_bytes

    def read_at(self, offset: int, length: int) -> bytes:
        """`length` bytes from `offset`; OSError(EIO) if the device returns fewer."""
        self._check_range(offset, length)
        buffer = self._buffer_of(length)
        with memoryview(buffer) as view:
            done = 0
            while done < length:
                got = os.preadv(self._fd, [view[done:length]], offset + done)
                if got == 0:
                    raise OSError(errno.EIO, f"short read at {offset + done} on {self.path}")
                done += got
            return bytes(view[:length])

    def write_at(self, offset: int, data: bytes) -> None:
        """Write all of `data` at `offset` (O_SYNC: on the device when this returns)."""
        length = len(data)
        self._check_range(offset, length)
        buffer = self._buffer_of(length)
        with memoryview(buffer) as view:
            view[:length] = data
            done = 0
            while done < length:
                put = os.pwritev(self._fd, [view[done:length]], offset + done)
                if put == 0:
                    raise OSError(errno.EIO, f"short write at {offset + done} on {self.path}")
                done += put

    def flush(self) -> None:
        """fsync (for a block device the kernel also flushes the card's write cache), then drop
        the page cache's copy of the device so the next reads come from the medium."""
        os.fsync(self._fd)
        os.posix_fadvise(self._fd, 0, 0, os.POSIX_FADV_DONTNEED)

    def close(self) -> None:
        if self._fd < 0:
            return
        if self._buffer is not None:
            self._buffer.close()
            self._buffer = None
        os.close(self._fd)
        self._fd = -1

    def __enter__(self) -> RawBlockDevice:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _check_range(self, offset: int, length: int) -> None:
        if self._fd < 0:
            raise ValueError(f"{self.path} is closed")
        if offset % self.sector_bytes or length % self.sector_bytes:
            raise ValueError(
                f"offset {offset} and length {length} must be multiples of {self.sector_bytes}"
            )
        if offset < 0 or length <= 0 or offset + length > self.size_bytes:
            raise ValueError(f"range {offset}+{length} is outside {self.size_bytes} bytes")

    def _buffer_of(self, length: int) -> mmap.mmap:
        """A page-aligned buffer of at least `length` bytes, reused between calls."""
        if self._buffer is None or len(self._buffer) < length:
            if self._buffer is not None:
                self._buffer.close()
            self._buffer = mmap.mmap(-1, -(-length // mmap.PAGESIZE) * mmap.PAGESIZE)
        return self._buffer


def _ioctl_u64(fd: int, request: int) -> int:
    return struct.unpack("=Q", fcntl.ioctl(fd, request, bytes(8)))[0]


def _ioctl_int(fd: int, request: int) -> int:
    return struct.unpack("=i", fcntl.ioctl(fd, request, bytes(4)))[0]
