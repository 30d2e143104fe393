"""The first-use capacity probe: does the card store data everywhere it claims to?

A counterfeit card claims more than it holds. Writes past its real capacity either alias onto
lower addresses (the controller ignores high address bits, so the address wraps modulo a power of
two) or are dropped (reads return zeros, 0xFF or stale data). `probe_capacity` finds this without
filling the card, by writing and reading back a sample of blocks on the raw device:

1. Sample offsets (`sample_offsets`): block-aligned, from the first block at or past 4 MiB
   (`RESERVED_HEAD_BYTES`; partition tables and boot sectors live below, and the probe never
   writes there) to the last whole block of the claimed size, which is always sampled. Three
   quarters (rounded up) are evenly spaced over that range, both ends included; the rest are
   random (`random.Random(seed)`).
2. Read every sample's original content. With `backup`, write the originals to that file and
   fsync it before anything is written to the device.
3. Write a pattern to every sample, highest offset first: a fresh 16-byte nonce from os.urandom
   (a seed fixes where the probe looks, never what it writes), the offset as 8 big-endian bytes,
   then SHAKE-256 of those 24 bytes filling the block. Then `flush()`.
4. Read every sample back, and also every alias candidate: the sample's offset modulo each
   power of two from 1 MiB (`MIN_ALIAS_MODULUS_BYTES`) up to the offset. A sample passes when it
   reads back its own pattern and none of its alias candidates does. It is *aliased* when it
   reads another sample's pattern or its own pattern shows at an alias candidate, and *lost* when
   it reads anything else or fails with OSError. Writing highest first means that when two
   samples share storage, the lower one (the one the storage really belongs to) is written last,
   so it passes and the higher one fails.
5. Write every original back, `flush()`, read each back. A sample that passed or was aliased maps
   onto storage that holds data, so its original must read back, or `ProbeRestoreError` is
   raised and the backup file is kept. A lost sample's address stores nothing (or is a bad
   block), so a mismatch there is only logged. Then the backup file is deleted.

Cost with n samples of b bytes: 2n block writes, 3n block reads plus the alias reads (at most
log2(claimed / 1 MiB) per sample, fewer after removing duplicates), two flushes.

Classification (`classify`), over the sorted samples s_0 < ... < s_{n-1}:
- no sample failed: "ok", verified_bytes = claimed_bytes;
- the failed samples are exactly s_k ... s_{n-1} for some k >= 1 (a clean capacity edge):
  "counterfeit";
- anything else, including every sample failing: "failing" (bad blocks, or no usable storage).
verified_bytes is always the end of the longest all-good prefix of samples: s_{k-1} + b where s_k
is the lowest failed sample, 0 when s_0 failed, claimed_bytes when none failed.

Guarantee: let G be the largest distance between consecutive samples (`max_sample_gap_bytes`
bounds it without drawing the random ones). A card that stores every block below some R and, at
and above R, either does not store (reads do not return what was written) or aliases modulo a
power of two of at least 1 MiB, with R a multiple of the block size and s_0 + b <= R <= s_{n-1},
is reported "counterfeit" with R - G < verified_bytes <= R. An honest card (every block stores
its own data, no errors) is reported "ok". A wrap modulo a number that is not a power of two is
caught only if some sample lands on another sample's alias.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device.hal.interfaces import BlockDevice
from device.storage.probe_backup import (
    ProbeRestoreError,
    _remove_durably,
    _write_backup,
    encode_backup,
    restore_from_backup,
)

__all__ = [
    "BlockDevice",
    "ProbeRestoreError",
    "ProbeResult",
    "encode_backup",
    "probe_capacity",
    "restore_from_backup",
]

log = logging.getLogger("irbis.storage")

METHOD = "raw-sampled"
RESULTS = ("ok", "counterfeit", "failing")
RESERVED_HEAD_BYTES = 4 * 1024 * 1024  # never written: partition tables, FAT boot sectors
MIN_ALIAS_MODULUS_BYTES = 1024 * 1024  # the smallest wrap modulus the alias reads look for
MIN_BLOCK_BYTES = 512
NONCE_BYTES = 16


@dataclass(frozen=True)
class ProbeResult:
    """What the probe found; stored in the card's card.json as the capacity probe result.

    The constructor checks the fields and their consistency (`ok` iff nothing failed, an `ok`
    card verifies its whole claimed size, verified_bytes <= claimed_bytes, failed offsets
    ascending, unique and below claimed_bytes) and raises ValueError naming the bad field.
    """

    claimed_bytes: int  # the size the card reports
    verified_bytes: int  # every sample below this verified (claimed_bytes when all did)
    samples: int  # blocks written and read back
    failed_offsets: tuple[int, ...]  # ascending
    result: str  # "ok", "counterfeit" or "failing"
    method: str = METHOD

    def __post_init__(self) -> None:
        for name in ("claimed_bytes", "verified_bytes", "samples"):
            _check_count(name, getattr(self, name))
        if not isinstance(self.failed_offsets, tuple):
            raise ValueError(f"failed_offsets: expected a tuple, got {self.failed_offsets!r}")
        for offset in self.failed_offsets:
            _check_count("failed_offsets", offset)
        if list(self.failed_offsets) != sorted(set(self.failed_offsets)):
            raise ValueError("failed_offsets: must be ascending without repeats")
        if self.failed_offsets and self.failed_offsets[-1] >= self.claimed_bytes:
            raise ValueError("failed_offsets: an offset is beyond claimed_bytes")
        if len(self.failed_offsets) > self.samples:
            raise ValueError("failed_offsets: more failures than samples")
        if self.result not in RESULTS:
            raise ValueError(f"result: expected one of {RESULTS}, got {self.result!r}")
        if (self.result == "ok") != (not self.failed_offsets):
            raise ValueError(f"result: {self.result!r} with {len(self.failed_offsets)} failures")
        if self.verified_bytes > self.claimed_bytes:
            raise ValueError("verified_bytes: larger than claimed_bytes")
        if self.result == "ok" and self.verified_bytes != self.claimed_bytes:
            raise ValueError("verified_bytes: an 'ok' card verifies its whole claimed size")
        if not isinstance(self.method, str) or not self.method:
            raise ValueError(f"method: expected a non-empty string, got {self.method!r}")

    def to_json(self) -> dict[str, Any]:
        """A plain dict of ints, strings and a list of ints."""
        return {
            "method": self.method,
            "result": self.result,
            "claimed_bytes": self.claimed_bytes,
            "verified_bytes": self.verified_bytes,
            "samples": self.samples,
            "failed_offsets": list(self.failed_offsets),
        }

    @classmethod
    def from_json(cls, d: Any) -> ProbeResult:
        """The result `to_json` gave; keys it does not know are ignored (a newer writer may add
        some). Raises ValueError naming the missing or bad field."""
        if not isinstance(d, dict):
            raise ValueError(f"capacity probe result: expected an object, got {type(d).__name__}")
        for name in ("method", "result", "claimed_bytes", "verified_bytes", "samples"):
            if name not in d:
                raise ValueError(f"{name}: missing")
        failed = d.get("failed_offsets")
        if not isinstance(failed, list):
            raise ValueError(f"failed_offsets: expected a list, got {failed!r}")
        return cls(
            claimed_bytes=d["claimed_bytes"],
            verified_bytes=d["verified_bytes"],
            samples=d["samples"],
            failed_offsets=tuple(failed),
            result=d["result"],
            method=d["method"],
        )


def _check_count(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name}: expected a non-negative integer, got {value!r}")


# -- where to look -------------------------------------------------------------------------------


def _span(size_bytes: int, block_bytes: int) -> tuple[int, int]:
    """(first, last) sample offsets: first whole block at or past RESERVED_HEAD_BYTES, last whole
    block of the claimed size. ValueError for a bad block size or a device too small."""
    if block_bytes < MIN_BLOCK_BYTES or block_bytes & (block_bytes - 1):
        raise ValueError(f"block_bytes must be a power of two >= 512, got {block_bytes}")
    first = -(-RESERVED_HEAD_BYTES // block_bytes) * block_bytes
    last = (size_bytes // block_bytes - 1) * block_bytes
    if last < first:
        raise ValueError(
            f"a device of {size_bytes} bytes is too small to probe: "
            f"it needs a whole block past the first {RESERVED_HEAD_BYTES} bytes"
        )
    return first, last


def _even_count(samples: int) -> int:
    return samples - samples // 4


def sample_offsets(
    size_bytes: int, block_bytes: int, samples: int = 64, seed: int | None = None
) -> tuple[int, ...]:
    """The offsets the probe writes, ascending (see the module docstring). Every block of the
    range when it has no more than `samples` blocks."""
    if samples < 2:
        raise ValueError(f"samples must be at least 2, got {samples}")
    first, last = _span(size_bytes, block_bytes)
    span_blocks = (last - first) // block_bytes
    if span_blocks + 1 <= samples:
        return tuple(range(first, last + block_bytes, block_bytes))
    even = _even_count(samples)
    chosen = {first + i * span_blocks // (even - 1) * block_bytes for i in range(even)}
    rng = random.Random(seed)
    while len(chosen) < samples:
        chosen.add(first + rng.randrange(span_blocks + 1) * block_bytes)
    return tuple(sorted(chosen))


def max_sample_gap_bytes(size_bytes: int, block_bytes: int, samples: int = 64) -> int:
    """An upper bound on the distance between consecutive sample offsets, whatever the seed: the
    spacing of the evenly spaced ones. The edge guarantee is stated in terms of it."""
    first, last = _span(size_bytes, block_bytes)
    span_blocks = (last - first) // block_bytes
    if span_blocks + 1 <= samples:
        return block_bytes
    return -(-span_blocks // (_even_count(samples) - 1)) * block_bytes


def alias_offsets(offset: int, block_bytes: int) -> tuple[int, ...]:
    """Where `offset` lands on a card that wraps modulo W, for each power of two W from
    MIN_ALIAS_MODULUS_BYTES (or the block size, if larger) up to `offset`."""
    modulus = max(MIN_ALIAS_MODULUS_BYTES, block_bytes)
    found = []
    while modulus <= offset:
        found.append(offset % modulus)
        modulus *= 2
    return tuple(found)


def classify(
    offsets: tuple[int, ...], failed: set[int], claimed_bytes: int, block_bytes: int
) -> tuple[str, int]:
    """(result, verified_bytes) for the sample `offsets` of which `failed` failed; see the module
    docstring."""
    if not failed:
        return "ok", claimed_bytes
    ordered = sorted(offsets)
    edge = next(i for i, offset in enumerate(ordered) if offset in failed)
    verified_bytes = ordered[edge - 1] + block_bytes if edge else 0
    if edge and all(offset in failed for offset in ordered[edge:]):
        return "counterfeit", verified_bytes
    return "failing", verified_bytes


# -- the probe -----------------------------------------------------------------------------------


def pattern_for(nonce: bytes, offset: int, block_bytes: int) -> bytes:
    """The block the probe writes at `offset`: nonce, offset (8 bytes big-endian), SHAKE-256."""
    head = nonce + offset.to_bytes(8, "big")
    return head + hashlib.shake_256(head).digest(block_bytes - len(head))


def probe_capacity(
    dev: BlockDevice, samples: int = 64, seed: int | None = None, backup: Path | None = None
) -> ProbeResult:
    """Write, read back and restore `samples` blocks of `dev`; see the module docstring.

    `backup` must be on another medium than `dev`, and must not exist (FileExistsError: a
    previous probe was cut, so run `restore_from_backup` first). Per-sample read and write
    errors count as failed samples; any other Exception while patterns are on the device
    triggers a best-effort restore (the backup is kept unless every original reads back) and is
    re-raised. A BaseException that is not an Exception (a power cut, an interrupt) propagates at
    once, leaving the backup for `restore_from_backup`.
    """
    block = dev.block_bytes
    offsets = sample_offsets(dev.size_bytes, block, samples, seed)
    if backup is not None and (backup.exists() or backup.is_symlink()):
        raise FileExistsError(
            errno.EEXIST,
            "a capacity-probe backup is already there (a probe was cut); "
            "run restore_from_backup before probing again",
            str(backup),
        )
    originals: dict[int, bytes] = {}
    lost: dict[int, str] = {}
    for offset in offsets:
        try:
            data = dev.read_at(offset, block)
        except OSError as exc:
            lost[offset] = f"original unreadable ({exc})"
            continue
        if len(data) != block:
            lost[offset] = f"original read returned {len(data)} of {block} bytes"
            continue
        originals[offset] = data
    if backup is not None:
        _write_backup(backup, dev.size_bytes, block, originals)
    nonce = os.urandom(NONCE_BYTES)
    patterns = {offset: pattern_for(nonce, offset, block) for offset in originals}
    try:
        for offset in sorted(patterns, reverse=True):
            try:
                dev.write_at(offset, patterns[offset])
            except OSError as exc:
                lost[offset] = f"pattern write failed ({exc})"
        dev.flush()
        aliased = _verify(dev, patterns, block, lost)
    except Exception:
        _restore_after_error(dev, originals, backup)
        raise
    _restore(dev, originals, set(originals) - set(lost), backup)
    failed = set(lost) | aliased
    result, verified_bytes = classify(offsets, failed, dev.size_bytes, block)
    probe = ProbeResult(
        claimed_bytes=dev.size_bytes,
        verified_bytes=verified_bytes,
        samples=len(offsets),
        failed_offsets=tuple(sorted(failed)),
        result=result,
    )
    level = logging.INFO if result == "ok" else logging.WARNING
    log.log(
        level,
        "capacity probe: %s; %d of %d samples failed (%d aliased, %d not stored%s); "
        "verified %d of %d claimed bytes",
        result,
        len(failed),
        len(offsets),
        len(aliased),
        len(lost),
        f", first at {min(lost)}: {lost[min(lost)]}" if lost else "",
        verified_bytes,
        dev.size_bytes,
    )
    return probe


def _verify(
    dev: BlockDevice, patterns: dict[int, bytes], block: int, lost: dict[int, str]
) -> set[int]:
    """Read every written sample and its alias candidates once. Adds the lost samples (with why)
    to `lost` and returns the aliased ones."""
    owner = {pattern: offset for offset, pattern in patterns.items()}
    wanted = set(patterns)
    for offset in patterns:
        wanted.update(alias_offsets(offset, block))
    found: dict[int, bytes | None] = {}
    for offset in sorted(wanted):
        try:
            found[offset] = dev.read_at(offset, block)
        except OSError:
            found[offset] = None
    aliased: set[int] = set()
    for offset, pattern in patterns.items():
        if offset in lost:
            continue  # its write failed
        data = found[offset]
        if data == pattern:
            echoes = [a for a in alias_offsets(offset, block) if found[a] == pattern]
            if echoes:
                aliased.add(offset)
                log.debug("probe sample %d: its pattern also reads at %d", offset, echoes[0])
        elif data is not None and data in owner:
            aliased.add(offset)
            log.debug("probe sample %d reads the pattern of sample %d", offset, owner[data])
        else:
            lost[offset] = _describe(data, block)
            log.debug("probe sample %d: %s", offset, lost[offset])
    return aliased


def _describe(data: bytes | None, block: int) -> str:
    if data is None:
        return "read-back failed"
    if len(data) != block:
        return f"read-back returned {len(data)} of {block} bytes"
    if data == bytes(block):
        return "reads zeros"
    if data == b"\xff" * block:
        return "reads 0xff"
    return "reads other data"


def _restore(
    dev: BlockDevice, originals: dict[int, bytes], must_hold: set[int], backup: Path | None
) -> None:
    """Write the originals back, flush, read them back. Raise ProbeRestoreError (keeping the
    backup) if one in `must_hold` differs; only log the others; then delete the backup."""
    bad: list[int] = []
    for offset in sorted(originals):
        try:
            dev.write_at(offset, originals[offset])
        except OSError as exc:
            log.warning("probe restore: writing back block at %d failed: %s", offset, exc)
            bad.append(offset)
    try:
        dev.flush()
    except OSError as exc:
        raise ProbeRestoreError(
            f"capacity probe: flushing the restored originals failed ({exc}); "
            + _where_originals_are(backup),
            tuple(sorted(originals)),
        ) from exc
    for offset in sorted(originals):
        if offset in bad:
            continue
        try:
            same = dev.read_at(offset, len(originals[offset])) == originals[offset]
        except OSError:
            same = False
        if not same:
            bad.append(offset)
    unrestored = tuple(sorted(o for o in bad if o in must_hold))
    if unrestored:
        raise ProbeRestoreError(
            f"capacity probe: {len(unrestored)} blocks that hold data did not read back their "
            f"original content (first at offset {unrestored[0]}); " + _where_originals_are(backup),
            unrestored,
        )
    if bad:
        log.warning(
            "probe restore: %d blocks that store nothing did not read back their originals "
            "(first at offset %d); left as they are",
            len(bad),
            min(bad),
        )
    if backup is not None:
        _remove_durably(backup)


def _restore_after_error(
    dev: BlockDevice, originals: dict[int, bytes], backup: Path | None
) -> None:
    """Best effort after an unexpected error: write every original back; delete the backup only
    if every one reads back. Never raises an Exception (the caller re-raises its own)."""
    try:
        for offset, data in originals.items():
            dev.write_at(offset, data)
        dev.flush()
        intact = all(dev.read_at(o, len(d)) == d for o, d in originals.items())
    except Exception as exc:
        log.error(
            "capacity probe: restore after an error failed: %s; %s",
            exc,
            _where_originals_are(backup),
        )
        return
    if not intact:
        log.error(
            "capacity probe: after an error, some originals did not read back; %s",
            _where_originals_are(backup),
        )
    elif backup is not None:
        try:
            _remove_durably(backup)
        except OSError as exc:
            log.error("capacity probe: could not delete %s after restoring: %s", backup, exc)


def _where_originals_are(backup: Path | None) -> str:
    if backup is None:
        return "no backup file was kept, the originals are lost"
    return f"the originals remain in {backup} (restore_from_backup writes them back)"
