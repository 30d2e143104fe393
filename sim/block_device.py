"""A simulated raw card for the capacity probe: honest, counterfeit, or with bad blocks.

`SimBlockDevice` is a sparse in-memory model: a dict of physical block index -> bytes. Logical
block i maps to physical block i below `real_bytes`; at and above it:

- mode "wrap": to the block at `offset % real_bytes` (a controller that ignores high address
  bits does this with a power-of-two `real_bytes`);
- mode "drop": to nothing; writes there are discarded, reads return zeros.

A physical block never written reads as zeros, or, with `fill_seed`, as pseudo-random bytes
derived from the seed and its index (so a test can tell whether its original content came back).
Blocks in `bad_blocks` (physical indexes) ignore writes: they keep returning their old content,
so they read back different data than was written.

Nothing is cached: every write is durable at once, and `flush` only counts. `arm_cut(n)` makes
the write after the next n raise `sim.card.PowerCut` (not applied), and the device stays off,
every call raising PowerCut, until `power_on()`.

Counters for the probe's cost: `reads`, `writes`, `flushes`, `bytes_read`, `bytes_written`, and
`written_offsets` (the logical offset of every write, in order).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

from sim.card import PowerCut

MODES = ("wrap", "drop")


class SimBlockDevice:
    """A `device.storage.probe.BlockDevice` in memory; see the module docstring."""

    def __init__(
        self,
        claimed_bytes: int,
        real_bytes: int | None = None,
        mode: str = "wrap",
        block_bytes: int = 4096,
        bad_blocks: Iterable[int] = (),
        *,
        fill_seed: int | None = None,
    ) -> None:
        real = claimed_bytes if real_bytes is None else real_bytes
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if block_bytes <= 0 or claimed_bytes < block_bytes:
            raise ValueError(f"need 0 < block_bytes <= claimed_bytes, got {block_bytes}")
        if not 0 < real <= claimed_bytes or real % block_bytes:
            raise ValueError(
                f"real_bytes must be a positive multiple of {block_bytes} up to the claimed "
                f"{claimed_bytes}, got {real}"
            )
        self.size_bytes = claimed_bytes
        self.block_bytes = block_bytes
        self.real_bytes = real
        self.mode = mode
        self.bad_blocks = frozenset(bad_blocks)
        self.fill_seed = fill_seed
        self.reads = 0
        self.writes = 0
        self.flushes = 0
        self.bytes_read = 0
        self.bytes_written = 0
        self.written_offsets: list[int] = []
        self._blocks: dict[int, bytes] = {}
        self._writes_before_cut: int | None = None
        self._off = False

    # -- the BlockDevice calls -------------------------------------------------------------------

    def read_at(self, offset: int, length: int) -> bytes:
        self._check_power()
        out = bytearray()
        for physical, start, end in self._pieces(offset, length):
            out += (self.stored(physical) if physical is not None else self._zeros)[start:end]
        self.reads += 1
        self.bytes_read += length
        return bytes(out)

    def write_at(self, offset: int, data: bytes) -> None:
        self._check_power()
        pieces = list(self._pieces(offset, len(data)))  # range check before the cut point
        if self._writes_before_cut is not None:
            if self._writes_before_cut == 0:
                self._off = True
                raise PowerCut(self.writes, None)
            self._writes_before_cut -= 1
        taken = 0
        for physical, start, end in pieces:
            piece = data[taken : taken + end - start]
            taken += end - start
            if physical is None or physical in self.bad_blocks:
                continue
            old = self.stored(physical)
            self._blocks[physical] = old[:start] + piece + old[end:]
        self.writes += 1
        self.bytes_written += len(data)
        self.written_offsets.append(offset)

    def flush(self) -> None:
        self._check_power()
        self.flushes += 1

    # -- for tests -------------------------------------------------------------------------------

    def physical_block(self, offset: int) -> int | None:
        """The physical block the logical `offset` lands on (None: beyond real, mode "drop")."""
        if offset < self.real_bytes:
            return offset // self.block_bytes
        if self.mode == "drop":
            return None
        return (offset % self.real_bytes) // self.block_bytes

    def stored(self, physical: int) -> bytes:
        """What physical block `physical` holds now."""
        return self._blocks.get(physical) or self.initial(physical)

    def initial(self, physical: int) -> bytes:
        """What physical block `physical` held before anything was written."""
        if self.fill_seed is None:
            return self._zeros
        key = f"{self.fill_seed}:{physical}".encode()
        return hashlib.shake_256(key).digest(self.block_bytes)

    def changed_blocks(self) -> list[int]:
        """Physical blocks whose content differs from what they held at the start."""
        return sorted(i for i, data in self._blocks.items() if data != self.initial(i))

    def arm_cut(self, writes: int) -> None:
        """Let `writes` more writes through; the one after raises PowerCut and the device is off."""
        self._writes_before_cut = writes

    def power_on(self) -> None:
        """After a cut: the device answers again (what was written before the cut stays)."""
        self._off = False
        self._writes_before_cut = None

    # -- inside ----------------------------------------------------------------------------------

    @property
    def _zeros(self) -> bytes:
        return bytes(self.block_bytes)

    def _check_power(self) -> None:
        if self._off:
            raise PowerCut(self.writes, None)

    def _pieces(self, offset: int, length: int) -> Iterator[tuple[int | None, int, int]]:
        """(physical block, start, end within it) for each block [offset, offset+length) touches;
        ValueError if that range is not inside the claimed size."""
        if offset < 0 or length < 0 or offset + length > self.size_bytes:
            raise ValueError(
                f"range {offset}+{length} is outside the device's {self.size_bytes} bytes"
            )
        block = self.block_bytes
        position, end = offset, offset + length
        while position < end:
            index, start = divmod(position, block)
            stop = min(block, start + end - position)
            yield self.physical_block(index * block), start, stop
            position += stop - start
