"""The probe's backup file: the original content of every block the capacity probe overwrites,
kept on the internal partition until a verified restore, so a power cut mid-probe loses
nothing (see device/storage/probe.py and docs/capacity-probe.md)."""

from __future__ import annotations

import errno
import logging
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from device.errors import CardError
from device.hal.interfaces import BlockDevice

log = logging.getLogger("irbis.storage")


class ProbeRestoreError(CardError):
    """Some sampled blocks did not read back their original content after the probe.

    `offsets` lists them. The originals remain in the backup file when there was one.
    """

    def __init__(self, message: str, offsets: tuple[int, ...]) -> None:
        super().__init__(errno.EIO, message)
        self.offsets = offsets


# -- the backup file -----------------------------------------------------------------------------
#
# header: magic "IRBISPRB", version u16, block_bytes u32, claimed_bytes u64, CRC-32 u32 of those
# record: offset u64, length u32, the original bytes, CRC-32 u32 of offset+length+bytes
# end:    offset 2**64-1, length = number of records, CRC-32 u32 of those 12 bytes
# All big-endian. The file is fsynced (and its directory) before any pattern is written, so a
# file without its end marker means the probe was cut before it wrote anything.

_BACKUP_MAGIC = b"IRBISPRB"
_BACKUP_VERSION = 1
_HEADER = struct.Struct(">8sHIQ")
_RECORD = struct.Struct(">QI")
_CRC = struct.Struct(">I")
_END_OFFSET = 2**64 - 1
_MAX_RECORD_BYTES = 1 << 24


def encode_backup(claimed_bytes: int, block_bytes: int, originals: dict[int, bytes]) -> bytes:
    """The backup file's bytes for `originals` (offset -> content)."""
    parts = [_sealed(_HEADER.pack(_BACKUP_MAGIC, _BACKUP_VERSION, block_bytes, claimed_bytes))]
    for offset in sorted(originals):
        parts.append(_sealed(_RECORD.pack(offset, len(originals[offset])) + originals[offset]))
    parts.append(_sealed(_RECORD.pack(_END_OFFSET, len(originals))))
    return b"".join(parts)


def _sealed(body: bytes) -> bytes:
    return body + _CRC.pack(zlib.crc32(body))


@dataclass(frozen=True)
class _Backup:
    block_bytes: int | None  # None: the header itself was cut
    claimed_bytes: int | None
    records: tuple[tuple[int, bytes], ...]
    complete: bool


def _decode_backup(raw: bytes) -> _Backup:
    """Parse a backup file; ValueError (the reason) if it is not one, or is corrupt."""
    head_bytes = _HEADER.size + _CRC.size
    if len(raw) < head_bytes:
        if raw[: len(_BACKUP_MAGIC)] != _BACKUP_MAGIC[: len(raw)]:
            raise ValueError("not a capacity-probe backup (bad magic)")
        return _Backup(None, None, (), complete=False)
    magic, version, block_bytes, claimed_bytes = _HEADER.unpack_from(raw)
    if magic != _BACKUP_MAGIC:
        raise ValueError("not a capacity-probe backup (bad magic)")
    if _CRC.unpack_from(raw, _HEADER.size)[0] != zlib.crc32(raw[: _HEADER.size]):
        raise ValueError("header CRC mismatch")
    if version != _BACKUP_VERSION:
        raise ValueError(f"unknown version {version}")
    records: list[tuple[int, bytes]] = []
    pos = head_bytes
    while len(raw) - pos >= _RECORD.size:
        offset, length = _RECORD.unpack_from(raw, pos)
        if offset == _END_OFFSET:
            end = pos + _RECORD.size + _CRC.size
            if end > len(raw):
                break  # cut inside the end marker
            _check_crc(raw, pos, end, f"end marker at byte {pos}")
            if length != len(records):
                raise ValueError(f"end marker counts {length} records, the file has {len(records)}")
            if end != len(raw):
                raise ValueError(f"{len(raw) - end} bytes after the end marker")
            return _Backup(block_bytes, claimed_bytes, tuple(records), complete=True)
        if not 0 < length <= _MAX_RECORD_BYTES or offset + length > claimed_bytes:
            raise ValueError(f"record at byte {pos}: offset {offset} length {length} out of range")
        end = pos + _RECORD.size + length + _CRC.size
        if end > len(raw):
            break  # cut inside this record
        _check_crc(raw, pos, end, f"record at byte {pos}")
        records.append((offset, raw[pos + _RECORD.size : end - _CRC.size]))
        pos = end
    return _Backup(block_bytes, claimed_bytes, tuple(records), complete=False)


def _check_crc(raw: bytes, start: int, end: int, what: str) -> None:
    if _CRC.unpack_from(raw, end - _CRC.size)[0] != zlib.crc32(raw[start : end - _CRC.size]):
        raise ValueError(f"{what}: CRC mismatch")


def _write_backup(
    path: Path, claimed_bytes: int, block_bytes: int, originals: dict[int, bytes]
) -> None:
    """Create `path` (it must not exist) holding the originals; fsync it and its directory. On
    failure remove what was written and re-raise: no pattern has been written yet."""
    data = encode_backup(claimed_bytes, block_bytes, originals)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    _fsync_dir(path.parent)


def _remove_durably(path: Path) -> None:
    path.unlink()
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def restore_from_backup(dev: BlockDevice, backup: Path) -> int:
    """Write back every original recorded in `backup` (left by a probe that was cut), flush,
    delete the file; return how many blocks were written.

    A file cut while it was being written (no end marker) is restored as far as its complete
    records go, with a warning on "irbis.storage": the probe writes no pattern before the file is
    complete, so those blocks still hold their originals and writing them again is harmless. A
    file that is not a backup, is corrupt, or was made for a device of another size or block size
    raises ValueError and is left in place, with nothing written; no file at all raises
    FileNotFoundError. A failed write raises ProbeRestoreError after trying every record, and the
    file is kept. Read-back mismatches after the flush are logged (on a counterfeit, a recorded
    address beyond the real capacity may store nothing) and do not keep the file.
    """
    try:
        parsed = _decode_backup(backup.read_bytes())
        if parsed.block_bytes is not None and (
            parsed.claimed_bytes != dev.size_bytes or parsed.block_bytes != dev.block_bytes
        ):
            raise ValueError(
                f"made for a device of {parsed.claimed_bytes} bytes in {parsed.block_bytes}-byte "
                f"blocks, this one has {dev.size_bytes} bytes in {dev.block_bytes}-byte blocks"
            )
    except ValueError as exc:
        raise ValueError(
            f"capacity-probe backup {backup} is unusable: {exc}; left in place"
        ) from None
    if not parsed.complete:
        log.warning(
            "capacity-probe backup %s is truncated (cut while it was written, before any test "
            "pattern was): restoring its %d complete records",
            backup,
            len(parsed.records),
        )
    failed: list[int] = []
    for offset, data in parsed.records:
        try:
            dev.write_at(offset, data)
        except OSError as exc:
            log.warning("probe backup restore: writing block at %d failed: %s", offset, exc)
            failed.append(offset)
    dev.flush()
    if failed:
        raise ProbeRestoreError(
            f"restoring from {backup}: {len(failed)} blocks could not be written "
            f"(first at offset {failed[0]}); the backup is kept",
            tuple(failed),
        )
    differ = [o for o, d in parsed.records if _read_or_none(dev, o, len(d)) != d]
    if differ:
        log.warning(
            "probe backup restore: %d blocks do not read back their originals (first at offset "
            "%d); on a counterfeit these addresses store nothing",
            len(differ),
            differ[0],
        )
    _remove_durably(backup)
    log.info("capacity probe: restored %d blocks from %s", len(parsed.records), backup)
    return len(parsed.records)


def _read_or_none(dev: BlockDevice, offset: int, length: int) -> bytes | None:
    try:
        return dev.read_at(offset, length)
    except OSError:
        return None
