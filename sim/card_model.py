"""Which bytes and directory entries of the simulated card's tree are durable, and what a power
cut leaves of the rest. `sim.card.SimCardIO` writes the tree through this model; nothing here is
ever fsynced for real.

- Everything under the root when the model starts (or after `forget`) is durable.
- File bytes: a file's length becomes durable when it is fsynced. Only files holding cached
  bytes are tracked, by inode number, so the record follows a file through renames. A create
  that truncates a file with durable bytes keeps those bytes in memory: until the new content
  is synced, a cut brings them back.
- Directory entries: creating a name, renaming, unlinking and mkdir append a change to the
  directory's pending list (a rename inside one directory is one change); syncing the
  directory makes its list durable. Unlinked and renamed-over files are moved to a holding
  folder beside the root (`.<root name>.held-<random>`, made by the model when it first needs
  it) and deleted once no pending change can bring them back.
- `cut(rng)`: each directory with pending changes keeps a random prefix of them, in order
  (`rng.randint(0, n)` changes). Then each file with cached bytes is cut to its durable length,
  except that a file with no durable bytes keeps a random prefix of its bytes (empty, torn or
  whole) and the file written last keeps a random prefix of its cached bytes; a kept prefix
  past the durable bytes ends, `GARBAGE_CHANCE` of the time, in junk (random bytes or zeros).
  `rng` is a `random.Random`, drawn from in sorted path order, so the same rng state and the
  same operations give the same tree, byte for byte.

Renames are modelled for files, not directories; a rename across directories is a change in
each, reaching the card independently. Changes made behind the model's back (plain `os`
calls) are not seen; files vanishing that way are skipped at a cut.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

GARBAGE_CHANCE = 0.3
_Change = tuple[str, int | None, int | None]  # (entry name, inode before, inode after)
_Op = tuple[_Change, ...]  # the changes one operation made in one directory


@dataclass(frozen=True)
class FileCut:
    """What a cut did to one file holding cached bytes (paths relative to the card root)."""

    path: str
    durable_bytes: int
    cached_bytes: int  # its length just before the cut
    kept_bytes: int  # its length after
    garbage_bytes: int  # how many of the kept bytes past the durable ones are junk


@dataclass
class CutReport:
    """What a power cut did: directory changes that did and did not reach the card, files cut
    or torn, and entries that should have come back but whose file could not be found."""

    step: int | None = None  # the step an armed cut fired at (None: a direct power_cut)
    applied: list[str] = field(default_factory=list)  # e.g. "+d/.a.tmp", "-d/.a.tmp ~d/a"
    dropped: list[str] = field(default_factory=list)
    files: list[FileCut] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)


@dataclass
class _File:
    """A file holding cached bytes: where it is, its durable length, and the durable content
    a truncating create replaced (None if there was none)."""

    path: Path
    durable_bytes: int
    head: bytes | None = None


class DurableTree:
    """The durability model over the tree at `root` (an absolute path); it performs the writes,
    renames and deletions itself so that it can keep what a cut may bring back."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # made at the first hold, with a name no one else has (mkdtemp): only our own folder
        # is ever emptied or removed, never one that happens to be there
        self._held_dir: Path | None = None
        self.forget()

    @property
    def held_dir(self) -> Path:
        if self._held_dir is None:
            made = tempfile.mkdtemp(prefix=f".{self.root.name}.held-", dir=self.root.parent)
            self._held_dir = Path(made)
        return self._held_dir

    def forget(self) -> None:
        """Treat everything in the tree as durable (held files are gone for good)."""
        if self._held_dir is not None:
            shutil.rmtree(self._held_dir, ignore_errors=True)
            self._held_dir = None
        self._dirs: dict[Path, list[_Op]] = {}
        self._files: dict[int, _File] = {}
        self._held: set[int] = set()
        self._last_ino: int | None = None

    # -- operations (paths absolute) --------------------------------------------------------
    def write(self, path: Path, data: bytes, old: os.stat_result | None, truncate: bool) -> int:
        """Create/truncate (`truncate`) or append to `path`, cached; returns its inode."""
        if old is not None and truncate:
            f = self._files.get(old.st_ino)
            if f is None and old.st_size:
                self._files[old.st_ino] = _File(path, 0, path.read_bytes())
            elif f is not None and f.head is None and f.durable_bytes:
                f.head, f.durable_bytes = path.read_bytes()[: f.durable_bytes], 0
        flags = os.O_CREAT | os.O_TRUNC if truncate else os.O_APPEND
        fd = os.open(path, os.O_WRONLY | flags, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        if old is None:
            ino = os.lstat(path).st_ino
            self._change(path.parent, (path.name, None, ino))
            self._files[ino] = _File(path, 0)
        else:
            ino = old.st_ino
            self._files.setdefault(ino, _File(path, 0 if truncate else old.st_size))
        self._last_ino = ino
        return ino

    def file_synced(self, ino: int) -> None:
        self._files.pop(ino, None)

    def truncate(self, path: Path, size_bytes: int, old: os.stat_result) -> None:
        """Cut `path` to `size_bytes`, durably (the real call fsyncs)."""
        os.truncate(path, size_bytes)
        self._files.pop(old.st_ino, None)

    def dir_synced(self, directory: Path) -> None:
        if self._dirs.pop(directory, None) and self._held:
            wanted = {i for ops in self._dirs.values() for op in ops for c in op for i in c[1:]}
            for ino in self._held - wanted:
                (self.held_dir / str(ino)).unlink(missing_ok=True)
                self._files.pop(ino, None)
            self._held &= wanted

    def replace(
        self, src: Path, dst: Path, moved: os.stat_result, old: os.stat_result | None
    ) -> None:
        if old is not None and old.st_ino != moved.st_ino:
            self._hold(dst, old.st_ino)
        os.replace(src, dst)
        gone: _Change = (src.name, moved.st_ino, None)
        came: _Change = (dst.name, old.st_ino if old else None, moved.st_ino)
        if src.parent == dst.parent:
            self._change(src.parent, gone, came)
        else:
            self._change(src.parent, gone)
            self._change(dst.parent, came)
        if moved.st_ino in self._files:
            self._files[moved.st_ino].path = dst

    def unlink(self, path: Path, old: os.stat_result) -> None:
        self._hold(path, old.st_ino)
        self._change(path.parent, (path.name, old.st_ino, None))

    def mkdir(self, path: Path) -> None:
        os.mkdir(path)
        self._change(path.parent, (path.name, None, os.lstat(path).st_ino))

    def _change(self, directory: Path, *changes: _Change) -> None:
        self._dirs.setdefault(directory, []).append(changes)

    def _hold(self, path: Path, ino: int) -> None:
        """Move a file (or, during a cut, a directory) out of the tree, keeping it by inode."""
        held = self.held_dir / str(ino)
        os.replace(path, held)
        self._held.add(ino)
        if ino in self._files:
            self._files[ino].path = held

    # -- the cut ----------------------------------------------------------------------------
    def cut(self, rng: random.Random) -> CutReport:
        """Turn the tree into what the card shows after losing power; then all is durable."""
        report = CutReport()
        targets: dict[Path, int | None] = {}  # entry -> the inode it names after the cut
        for directory in sorted(self._dirs):
            ops = self._dirs[directory]
            kept = rng.randint(0, len(ops))
            report.applied += [self._describe(directory, op) for op in ops[:kept]]
            report.dropped += [self._describe(directory, op) for op in ops[kept:]]
            for op in reversed(ops[kept:]):
                for name, before, _after in op:
                    targets[directory / name] = before
        for path, want in sorted(targets.items()):  # take out what should not be there
            now = _lstat(path)
            if now is not None and now.st_ino != want:
                self._hold(path, now.st_ino)
        placed: dict[int, Path] = {}
        for path, want in sorted(targets.items()):  # bring back what should
            if want is None or not path.parent.is_dir() or _lstat(path) is not None:
                continue
            src = self._locate(want, placed.get(want))
            if src is None:
                report.lost.append(self._rel(path))
                continue
            if self._held_dir is not None and src.parent == self._held_dir:
                os.replace(src, path)
                self._held.discard(want)
            else:
                os.link(src, path)  # a cross-directory rename that reached both ends
            placed[want] = path
            if want in self._files:
                self._files[want].path = path
        for ino, f in sorted(self._files.items(), key=lambda item: str(item[1].path)):
            now = _lstat(f.path)
            if now is not None and now.st_ino == ino and _inside(f.path, self.root):
                cut = self._cut_file(f, now.st_size, ino == self._last_ino, rng)
                if cut is not None:
                    report.files.append(cut)
        self.forget()
        return report

    def _locate(self, ino: int, placed: Path | None) -> Path | None:
        """Where the file with inode `ino` is now: held, where this cut `placed` it, at a name a
        pending change gave it, or (cross-directory renames) anywhere held or in the tree."""
        f = self._files.get(ino)
        likely = [self._held_dir / str(ino)] if self._held_dir is not None else []
        likely += [p for p in (f and f.path, placed) if p]
        likely += [
            d / c[0] for d, ops in self._dirs.items() for op in ops for c in op if c[2] == ino
        ]
        held = _files_under(self._held_dir) if self._held_dir is not None else iter(())
        for path in itertools.chain(likely, held, _files_under(self.root)):
            now = _lstat(path)
            if now is not None and now.st_ino == ino and not stat.S_ISDIR(now.st_mode):
                return path
        return None

    def _cut_file(self, f: _File, size: int, last: bool, rng: random.Random) -> FileCut | None:
        rel = self._rel(f.path)
        if f.head is not None:
            f.path.write_bytes(f.head)
            return FileCut(rel, len(f.head), size, len(f.head), 0)
        durable = min(f.durable_bytes, size)
        if size == durable:
            return None
        keep = durable + rng.randint(0, size - durable) if last or not durable else durable
        garbage = 0
        if keep > durable and rng.random() < GARBAGE_CHANCE:
            garbage = rng.randint(1, keep - durable)
        with open(f.path, "r+b") as fh:
            fh.truncate(keep)
            if garbage:
                fh.seek(keep - garbage)
                fh.write(rng.randbytes(garbage) if rng.random() < 0.5 else bytes(garbage))
        return FileCut(rel, durable, size, keep, garbage)

    def _rel(self, path: Path) -> str:
        return os.path.relpath(path, self.root)

    def _describe(self, directory: Path, op: _Op) -> str:
        signs = {(True, False): "+", (False, True): "-"}
        return " ".join(
            signs.get((b is None, a is None), "~") + self._rel(directory / name)
            for name, b, a in op
        )


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _inside(path: Path, root: Path) -> bool:
    return str(path).startswith(str(root) + os.sep)


def _files_under(root: Path) -> Iterator[Path]:
    for directory, _dirs, files in os.walk(root):
        for name in files:
            yield Path(directory) / name
