"""The simulated card: `CardIO` over a real directory tree that knows which of its bytes and
directory entries are durable (`sim.card_model.DurableTree`; nothing is fsynced for real, so the
simulator stays fast), and that can lose power, fill up, fail, be pulled out, or write slowly.

- `power_cut(rng)` turns the tree into what the card shows after losing power (the rules are in
  `sim.card_model`): pending directory changes keep a random prefix, cached bytes are dropped,
  the last-written file may keep a torn part. The card then stays unpowered: every operation,
  reads included, raises `PowerCut` until `reset_after_cut()` (the reboot), after which all
  that is there is durable.
- `arm_cut(n, rng)`: the n-th primitive step from now (1 = the next) does not complete; the
  card applies `power_cut(rng)` itself and raises `PowerCut` (carrying the `CutReport`). The
  steps: the data write of each `create`/`append` (a cut there leaves a random prefix of the
  data written, drawn from `rng`), its fsync when `sync`, and each `truncate`, `sync_dir`,
  `replace`, `unlink` and `mkdir`. `read` is no step. `ops_done` counts the steps taken, so a
  test can count the steps of a protocol and then cut at each of them.
- Faults, checked before a step (a refused operation changes nothing and is no step): a pulled
  card (`remove()`) raises OSError(EIO, "card removed"), EIO being what a filesystem returns
  once its block device is gone; from virtual time `io_errors_from_s` on, every operation
  raises OSError(EIO); a write that would take the used bytes past `capacity_bytes` raises
  OSError(ENOSPC) before writing anything. With `write_bytes_per_s`, each data write advances
  the virtual clock by its size over that rate (timers falling due fire on the way).

`PowerCut` is a BaseException so the firmware's `except Exception`/`except OSError` does not
swallow it; code that still runs after it (a `finally`, an `except BaseException`) meets an
unpowered card, except where it calls `os` directly: that escapes the model.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import shutil
import stat
from pathlib import Path

from device.hal.cardio import CardIO
from sim.card_model import CutReport, DurableTree, FileCut
from sim.clock import VirtualClock

__all__ = ["CutReport", "FileCut", "PowerCut", "SimCardIO"]


class PowerCut(BaseException):
    """The power went off at step `step` (None: an operation on an unpowered card)."""

    def __init__(self, step: int | None, report: CutReport | None) -> None:
        super().__init__(f"simulated power cut at step {step}")
        self.step = step
        self.report = report


class SimCardIO(CardIO):
    """`CardIO` over the tree at `root` that models durability and injects faults."""

    def __init__(
        self,
        root: Path,
        *,
        clock: VirtualClock | None = None,
        capacity_bytes: int | None = None,
        io_errors_from_s: float | None = None,
        write_bytes_per_s: float | None = None,
        absent_ok: bool = False,
    ) -> None:
        """`absent_ok`: a `root` that is not a directory is an empty slot (`present` False)
        until `insert`, instead of a FileNotFoundError."""
        if clock is None and (io_errors_from_s is not None or write_bytes_per_s is not None):
            raise ValueError("io_errors_from_s and write_bytes_per_s need a clock")
        self.clock = clock
        self.capacity_bytes = capacity_bytes
        self.io_errors_from_s = io_errors_from_s
        self.write_bytes_per_s = write_bytes_per_s
        self.ops_done = 0
        self.present = True
        self.powered = True
        self.last_cut: CutReport | None = None
        self._cut_at: int | None = None
        self._cut_rng = random.Random(0)
        if absent_ok and not Path(root).is_dir():
            self.root = Path(os.path.abspath(root))
            self.tree = DurableTree(self.root)
            self._used_bytes = 0
            self.present = False
            return
        self._attach(root)

    def _attach(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root))
        if not self.root.is_dir():
            raise FileNotFoundError(errno.ENOENT, "card root is not a directory", str(root))
        self.tree = DurableTree(self.root)
        self._used_bytes = _tree_bytes(self.root)

    # -- the card as a whole --------------------------------------------------------------
    def used_bytes(self) -> int:
        """Bytes in the files of the tree (a running total, seeded by one walk)."""
        return self._used_bytes

    def free_bytes(self) -> int:
        """`capacity_bytes` less the used bytes; the host disk's free space when unlimited."""
        if self.capacity_bytes is None:
            return shutil.disk_usage(self.root).free
        return max(0, self.capacity_bytes - self._used_bytes)

    def remove(self, rng: random.Random | None = None) -> CutReport | None:
        """Pull the card: every operation then raises OSError(EIO). With `rng` the card loses
        its cached bytes as in `power_cut` (the report is returned); without, the tree stays
        as written, as if everything had reached the card before the pull."""
        report = self.tree.cut(rng) if rng is not None else None
        self.tree.forget()
        self.present = False
        return report

    def insert(self, root: Path) -> None:
        """Put a card in: `root` is its tree, all of it durable. Capacity and write speed stay
        (the same kind of card); `io_errors_from_s` is cleared (a sound card)."""
        self._attach(root)
        self.present = True
        self.io_errors_from_s = None

    def arm_cut(self, after_ops: int, rng: random.Random) -> None:
        """Make the `after_ops`-th primitive step from now (1 = the next) cut the power."""
        if after_ops < 1:
            raise ValueError(f"after_ops must be at least 1, got {after_ops}")
        self._cut_at, self._cut_rng = self.ops_done + after_ops, rng

    def power_cut(self, rng: random.Random) -> CutReport:
        """Apply a power cut to the tree now; the card stays unpowered until
        `reset_after_cut()`. Deterministic for a given `rng` state and history."""
        report = self.tree.cut(rng)
        self.powered = False
        self._cut_at = None
        self.last_cut = report
        return report

    def reset_after_cut(self) -> None:
        """The reboot: power back, the tree as it is now all durable, used bytes recounted."""
        self.tree.forget()
        self.powered = True
        self._used_bytes = _tree_bytes(self.root)

    # -- CardIO -----------------------------------------------------------------------------
    def create(self, path: Path, data: bytes, sync: bool) -> None:
        path = self._ready(path)
        old = _lstat(path)
        self._need(len(data) - (old.st_size if old else 0), path)
        self._write(path, data, old, truncate=True, sync=sync)

    def append(self, path: Path, data: bytes, sync: bool) -> None:
        path = self._ready(path)
        old = os.lstat(path)  # FileNotFoundError, as O_APPEND without O_CREAT
        self._need(len(data), path)
        self._write(path, data, old, truncate=False, sync=sync)

    def truncate(self, path: Path, size_bytes: int) -> None:
        path = self._ready(path)
        old = os.lstat(path)
        self._need(size_bytes - old.st_size, path)
        self._step()
        self.tree.truncate(path, size_bytes, old)
        self._used_bytes += size_bytes - old.st_size

    def sync_dir(self, directory: Path) -> None:
        directory = self._ready(directory)
        if not directory.is_dir():
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(directory))
        self._step()
        self.tree.dir_synced(directory)

    def replace(self, src: Path, dst: Path) -> None:
        src, dst = self._ready(src), self._ready(dst)
        moved = os.lstat(src)  # FileNotFoundError, as os.replace
        old = _lstat(dst)
        if old is not None and stat.S_ISDIR(old.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(dst))
        self._step()
        self.tree.replace(src, dst, moved, old)
        if old is not None and old.st_ino != moved.st_ino:
            self._used_bytes -= old.st_size

    def unlink(self, path: Path) -> None:
        path = self._ready(path)
        old = os.lstat(path)
        if stat.S_ISDIR(old.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        self._step()
        self.tree.unlink(path, old)
        self._used_bytes -= old.st_size

    def mkdir(self, path: Path) -> None:
        path = self._ready(path)
        self._step()
        self.tree.mkdir(path)

    def read(self, path: Path) -> bytes:
        """Read a whole file; faults apply, but a read is never a cut point."""
        with open(self._ready(path), "rb") as f:
            return f.read()

    # -- steps and faults -------------------------------------------------------------------
    def _ready(self, path: Path) -> Path:
        """`path` made absolute, once the card is known to be powered, present and sound."""
        if not self.powered:
            raise PowerCut(None, self.last_cut)
        if not self.present:
            raise OSError(errno.EIO, "card removed (simulated)", str(path))
        failing_from_s = self.io_errors_from_s
        if failing_from_s is not None and self.clock and self.clock.monotonic_s() >= failing_from_s:
            raise OSError(errno.EIO, "I/O error (simulated failing card)", str(path))
        return Path(os.path.abspath(path))

    def _need(self, extra_bytes: int, path: Path) -> None:
        capacity = self.capacity_bytes
        if capacity is not None and extra_bytes > 0 and self._used_bytes + extra_bytes > capacity:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    def _cut_due(self) -> bool:
        return self._cut_at is not None and self.ops_done + 1 >= self._cut_at

    def _step(self) -> None:
        """Take one primitive step, or cut the power if this is the armed one."""
        if self._cut_due():
            self._cut()
        self.ops_done += 1

    def _cut(self) -> None:
        self.ops_done += 1
        report = self.power_cut(self._cut_rng)
        report.step = self.ops_done
        raise PowerCut(self.ops_done, report)

    def _write(
        self, path: Path, data: bytes, old: os.stat_result | None, truncate: bool, sync: bool
    ) -> None:
        """The data write (one step; a cut there writes a random prefix), then the fsync."""
        cut = self._cut_due()
        if cut:
            data = data[: self._cut_rng.randint(0, len(data))]
        ino = self.tree.write(path, data, old, truncate)
        self._used_bytes += len(data) - (old.st_size if old is not None and truncate else 0)
        if cut:
            self._cut()
        self.ops_done += 1
        if self.write_bytes_per_s and self.clock is not None:
            self.clock.advance(len(data) / self.write_bytes_per_s)
        if sync:
            self._step()
            self.tree.file_synced(ino)


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _tree_bytes(root: Path) -> int:
    total = 0
    for directory, _dirs, files in os.walk(root):
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total
