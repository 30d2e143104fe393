"""The journal, card format v1: one JSON line per record, each sealed with a CRC and chained to
the record before it by that record's SHA-256, so any edit, loss or reordering shows.

A line is the record's JSON (keys sorted, no spaces, ASCII only) with two members added: `rec`,
its number in this journal (1, 2, 3, ... with no gaps) and `prev`, the hex SHA-256 of the
previous line's bytes (64 zeros for the first), and then, as the last member, `crc`: the CRC-32
of the line's bytes with the `,"crc":"........"` member removed, as 8 hex digits. See
docs/card-format.md.

`Journal` appends for the trap: opening it finds the last sound record, cuts a torn tail after it
(logging what it cut) and continues the chain. `scan` reads a whole journal for recovery and host
tools and reports every problem it meets without changing anything.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from device.errors import CardError
from device.hal.cardio import CardIO
from device.storage.card_paths import HostilePath

log = logging.getLogger("irbis.storage")

JOURNAL_VERSION = 1
GENESIS_HASH = "0" * 64
TAIL_BYTES = 64 * 1024
_CRC_PREFIX = b',"crc":"'
_CRC_MEMBER_BYTES = len(_CRC_PREFIX) + 8 + 1  # ,"crc":"xxxxxxxx"  (the closing brace stays)
RESERVED_KEYS = ("v", "rec", "prev", "crc")
_HEX8 = re.compile(rb"[0-9a-f]{8}")


class JournalLineError(ValueError):
    """A line that is not a sound v1 record; `reason` is a short machine-readable word."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def encode(record: dict[str, Any], rec: int, prev_hash: str) -> bytes:
    """The line (without its newline) for `record` as number `rec` after `prev_hash`."""
    clash = [k for k in RESERVED_KEYS if k in record]
    if clash:
        raise ValueError(f"journal record uses reserved keys {clash}")
    body = json.dumps(
        {**record, "v": JOURNAL_VERSION, "rec": rec, "prev": prev_hash},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    ).encode("ascii")
    crc = zlib.crc32(body)
    return body[:-1] + b'%s%08x"}' % (_CRC_PREFIX, crc)


def decode(line: bytes) -> dict[str, Any]:
    """The record of one line (without its newline); raises JournalLineError saying why not."""
    if not line.endswith(b'"}') or line[-_CRC_MEMBER_BYTES - 1 : -10] != _CRC_PREFIX:
        raise JournalLineError("no_crc", "line does not end with the crc member")
    body = line[: -_CRC_MEMBER_BYTES - 1] + b"}"
    if not _HEX8.fullmatch(line[-10:-2]):
        raise JournalLineError("no_crc", "crc is not 8 lowercase hex digits")
    crc = int(line[-10:-2], 16)
    if zlib.crc32(body) != crc:
        raise JournalLineError("bad_crc", f"stored {crc:08x}, computed {zlib.crc32(body):08x}")
    try:
        record = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise JournalLineError("bad_json", str(exc)[:200]) from None
    if not isinstance(record, dict):
        raise JournalLineError("not_an_object")
    if type(record.get("v")) is not int or record["v"] != JOURNAL_VERSION:
        raise JournalLineError("bad_version", f"v={record.get('v')!r}")
    rec, prev = record.get("rec"), record.get("prev")
    if type(rec) is not int or rec < 1 or not isinstance(prev, str) or len(prev) != 64:
        raise JournalLineError("bad_header", f"rec={rec!r} prev={prev!r}")
    if record.get("kind") == "event" and type(record.get("seq")) is not int:
        raise JournalLineError("bad_header", f"event without an integer seq: {record.get('seq')!r}")
    return record


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


@dataclass(frozen=True)
class Problem:
    """Something wrong at `line_no` (1-based) / byte `offset` of a journal."""

    line_no: int
    offset: int
    reason: str
    detail: str = ""


@dataclass
class JournalScan:
    """Everything `scan` found: the sound records in order, and every problem."""

    records: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    last_hash: str = GENESIS_HASH
    last_rec: int = 0
    size_bytes: int = 0
    torn_tail_bytes: int = 0  # bytes after the last sound record that hold no record


def scan(path: Path) -> JournalScan:
    """Read a whole journal, read-only: check each line's CRC, the chain and the numbering."""
    out = JournalScan()
    if not path.exists():
        return out
    with _open_plain(path) as f:
        data = f.read()
    out.size_bytes = len(data)
    offset, end_of_last_good = 0, 0
    lines = data.split(b"\n")
    for line_no, line in enumerate(lines, start=1):
        start, offset = offset, offset + len(line) + 1
        if not line and line_no == len(lines):
            continue  # after the last newline
        try:
            record = decode(line)
        except JournalLineError as exc:
            out.problems.append(Problem(line_no, start, exc.reason, str(exc)))
            continue
        if record["prev"] != out.last_hash:
            out.problems.append(Problem(line_no, start, "chain_break", "prev does not match"))
        if record["rec"] != out.last_rec + 1:
            out.problems.append(
                Problem(line_no, start, "rec_gap", f"rec {record['rec']} after {out.last_rec}")
            )
        out.records.append(record)
        out.last_hash, out.last_rec = line_hash(line), record["rec"]
        end_of_last_good = min(offset, len(data))
    out.torn_tail_bytes = len(data) - end_of_last_good
    if out.torn_tail_bytes:
        # the tail problems were counted line by line above; say once that they form a tail
        out.problems = [p for p in out.problems if p.offset < end_of_last_good]
        out.problems.append(Problem(0, end_of_last_good, "torn_tail", f"{out.torn_tail_bytes} B"))
    return out


@dataclass(frozen=True)
class Tail:
    """The last sound record of a journal and where it ends."""

    record: dict[str, Any] | None
    hash: str
    end_bytes: int  # offset just past the record's line (and its newline, if written)
    has_newline: bool
    last_event: dict[str, Any] | None  # the newest `event` record

    @property
    def last_seq(self) -> int:
        """The newest event's sequence number (events are journaled in sequence order)."""
        return int(self.last_event["seq"]) if self.last_event else 0


def read_tail(path: Path, window_bytes: int = TAIL_BYTES) -> Tail:
    """Find the last sound record reading only the end of the file (widening as needed)."""
    with _open_plain(path) as f:
        size = os.fstat(f.fileno()).st_size
        window = min(size, window_bytes)
        while True:
            f.seek(size - window)
            data = f.read(window)
            found = _last_sound(data, size - window, whole=window == size)
            if found is not None or window == size:
                break
            window = min(size, window * 4)
    if found is None:
        return Tail(None, GENESIS_HASH, 0, True, None)
    record, line, end, has_newline, last_event = found
    if last_event is None and size > window:  # no event in the window: look further back
        events = [r for r in scan(path).records if r.get("kind") == "event"]
        last_event = events[-1] if events else None
    return Tail(record, line_hash(line), end, has_newline, last_event)


def _last_sound(
    data: bytes, base: int, whole: bool
) -> tuple[dict[str, Any], bytes, int, bool, dict[str, Any] | None] | None:
    lines = data.split(b"\n")
    starts = []
    pos = 0
    for line in lines:
        starts.append(pos)
        pos += len(line) + 1
    first = 0 if whole else 1  # a window not at the file's start begins mid-line
    found = None
    last_event = None
    for i in range(len(lines) - 1, first - 1, -1):
        try:
            record = decode(lines[i])
        except JournalLineError:
            continue
        if found is None:
            has_newline = i < len(lines) - 1
            end = base + starts[i] + len(lines[i]) + (1 if has_newline else 0)
            found = (record, lines[i], end, has_newline)
        if record.get("kind") == "event":
            last_event = record
            break
    if found is None:
        return None
    return (*found, last_event)


def hash_at(path: Path, rec: int, window_bytes: int = TAIL_BYTES) -> str | None:
    """The hash of the sound line numbered `rec`, reading back from the end in widening windows
    (a high-water mark is checked against the journal at every start, usually near its end);
    None when no sound line has that number."""
    with _open_plain(path) as f:
        size = os.fstat(f.fileno()).st_size
        window = min(size, window_bytes)
        while True:
            f.seek(size - window)
            lines = f.read(window).split(b"\n")
            first = 0 if window == size else 1  # a window not at the file's start begins mid-line
            numbers = []
            for line in lines[first:]:
                try:
                    record = decode(line)
                except JournalLineError:
                    continue
                if record["rec"] == rec:
                    return line_hash(line)
                numbers.append(record["rec"])
            if window == size or (numbers and min(numbers) < rec):
                return None
            window = min(size, window * 4)


def _open_plain(path: Path) -> IO[bytes]:
    """The file opened for reading without following a link in its last component: a journal
    on a card that is a link to somewhere else is refused (OSError ELOOP), not read."""
    return os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)), "rb")


def check_ours(path: Path) -> Tail:
    """The journal's tail; CardError when the file holds no sound v1 record but begins with a
    whole line of JSON: another program's or another version's records, which the trap must
    not touch. Anything else without a sound record is a torn first append (junk included)."""
    tail = read_tail(path)
    if tail.record is None and path.stat().st_size:
        with _open_plain(path) as f:
            first = f.read(TAIL_BYTES).split(b"\n", 1)
        if len(first) == 2 and _is_json(first[0]):
            raise CardError(
                f"journal {path} holds no sound v1 record; it is not this trap's journal or it "
                "is damaged. Not touching it: run `irbis card check`"
            )
    return tail


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


class Journal:
    """Append-only, chained, for the trap. Opening it makes the tail sound (see `open_tail`)."""

    def __init__(self, path: Path, io: CardIO) -> None:
        self.path = path
        self.io = io
        self.cut_bytes = 0
        if os.path.islink(path):
            raise HostilePath("journal", path.name, "is a symbolic link")
        if not path.exists():
            io.create(path, b"", sync=True)
            io.sync_dir(path.parent)
        tail = self._open_tail()
        self.tail = tail  # the last sound record as found at opening (after any cut)
        self.last_hash = tail.hash
        self.last_rec = tail.record["rec"] if tail.record else 0
        self.last_seq = tail.last_seq

    def _open_tail(self) -> Tail:
        """Cut what follows the last sound record: a power cut mid-append leaves a torn line."""
        size = self.path.stat().st_size
        tail = check_ours(self.path)
        if tail.end_bytes < size:
            with _open_plain(self.path) as f:
                f.seek(tail.end_bytes)
                cut = f.read(64)
            self.cut_bytes = size - tail.end_bytes
            self.io.truncate(self.path, tail.end_bytes)
            log.warning(
                "journal tail cut",
                extra={
                    "record": {
                        "path": str(self.path),
                        "bytes": self.cut_bytes,
                        "after_rec": tail.record["rec"] if tail.record else 0,
                        "head_hex": cut.hex(),
                    }
                },
            )
        if tail.record is not None and not tail.has_newline:
            self.io.append(self.path, b"\n", sync=True)  # a whole record whose newline was cut
        return tail

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Append and fsync one record; returns it with its `rec` and `prev`."""
        rec, prev = self.last_rec + 1, self.last_hash
        line = encode(record, rec, prev)
        self.io.append(self.path, line + b"\n", sync=True)
        self.last_hash, self.last_rec = line_hash(line), rec
        if record.get("kind") == "event":
            self.last_seq = max(self.last_seq, int(record["seq"]))
        return {**record, "v": JOURNAL_VERSION, "rec": rec, "prev": prev}
