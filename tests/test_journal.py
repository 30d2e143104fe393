"""The journal against random records and random damage (hypothesis): every line round-trips;
`scan` reports every flipped or inserted byte, cut, deleted or swapped line and appended garbage
(only losing the whole last record leaves a shorter, sound journal); `decode` fails only with
JournalLineError; opening a torn journal cuts exactly the torn bytes and keeps every whole
record, and appends after it scan clean."""

from __future__ import annotations

import contextlib
import itertools
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device.errors import CardError
from device.hal.cardio import OS_IO, CardIO
from device.storage.journal import (
    GENESIS_HASH,
    RESERVED_KEYS,
    Journal,
    JournalLineError,
    Problem,
    decode,
    encode,
    line_hash,
    scan,
)

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
records = st.dictionaries(
    st.text(max_size=8).filter(lambda key: key not in RESERVED_KEYS), json_values, max_size=5
)
# Damage tests need varied line lengths and contents more than deep or exotic values: records
# with few members keep 200 examples per property quick. `Journal` reads `seq` of events.
flat_records = st.fixed_dictionaries(
    {"kind": st.sampled_from(["open", "event", "evict", "status"]), "seq": st.integers(1, 10**8)},
    optional={"note": st.text(max_size=30), "x": json_scalars},
)
journals = st.lists(flat_records, min_size=1, max_size=5)
longer_journals = st.lists(flat_records, min_size=2, max_size=5)


class Built:
    """A journal made in memory: its lines (no newlines), bytes and decoded records."""

    def __init__(self, recs: list[dict[str, Any]]) -> None:
        self.lines: list[bytes] = []
        prev = GENESIS_HASH
        for rec, record in enumerate(recs, start=1):
            line = encode(record, rec, prev)
            self.lines.append(line)
            prev = line_hash(line)
        self.last_hash = prev
        self.data = join(self.lines)
        self.records = [decode(line) for line in self.lines]

    def start(self, index: int) -> int:
        """Byte offset where line `index` (0-based) begins."""
        return sum(len(line) + 1 for line in self.lines[:index])


def join(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


@pytest.fixture(scope="module")
def write(tmp_path_factory) -> Callable[[bytes], Path]:
    """Write bytes to a fresh journal file (hypothesis runs many examples per test)."""
    folder = tmp_path_factory.mktemp("journals")
    counter = itertools.count()

    def _write(data: bytes) -> Path:
        path = folder / f"{next(counter)}.jsonl"
        path.write_bytes(data)
        return path

    return _write


# -- encode / decode


@PROPERTY
@given(
    record=records,
    rec=st.integers(min_value=1, max_value=2**40),
    prev=st.binary(min_size=32, max_size=32),
)
def test_encode_decode_round_trip(record, rec, prev):
    line = encode(record, rec, prev.hex())
    assert b"\n" not in line and line.isascii()
    assert decode(line) == {**record, "v": 1, "rec": rec, "prev": prev.hex()}


@PROPERTY
@given(record=flat_records, key=st.sampled_from(RESERVED_KEYS), value=json_scalars)
def test_encode_refuses_reserved_keys(record, key, value):
    with pytest.raises(ValueError, match="reserved"):
        encode({**record, key: value}, 1, GENESIS_HASH)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), [1.0, {"x": float("-inf")}]])
def test_encode_refuses_nan_and_infinity(bad):
    with pytest.raises(ValueError):
        encode({"value": bad}, 1, GENESIS_HASH)


@PROPERTY
@given(data=st.binary(max_size=300))
def test_decode_of_arbitrary_bytes_raises_only_journal_line_error(data):
    try:
        record = decode(data)
    except JournalLineError as exc:
        assert exc.reason in {"no_crc", "bad_crc", "bad_json", "not_an_object", "bad_version"}
    else:
        assert isinstance(record, dict)


@PROPERTY
@given(record=records, data=st.data())
def test_decode_of_a_damaged_line_raises_only_journal_line_error(record, data):
    line = bytearray(encode(record, 1, GENESIS_HASH))
    at = data.draw(st.integers(0, len(line) - 1))
    how = data.draw(st.sampled_from(["flip", "insert", "delete"]))
    if how == "flip":
        line[at] ^= data.draw(st.integers(1, 255))
    elif how == "insert":
        line[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    else:
        del line[at : at + data.draw(st.integers(1, 8))]
    with contextlib.suppress(JournalLineError):  # anything else fails the test
        decode(bytes(line))


# -- scan against damage


@PROPERTY
@given(recs=journals, data=st.data())
def test_flipping_any_byte_is_detected(write, recs, data):
    built = Built(recs)
    at = data.draw(st.integers(0, len(built.data) - 1))
    damaged = bytearray(built.data)
    damaged[at] ^= data.draw(st.integers(1, 255))
    result = scan(write(bytes(damaged)))
    line = built.data.count(b"\n", 0, at)  # 0-based line of the flipped byte
    assert result.problems != []
    assert result.records[:line] == built.records[:line]  # what came before is untouched
    assert result.problems[0].line_no in (line + 1, line + 2, 0)  # there, the next, or the tail


@PROPERTY
@given(recs=journals, data=st.data())
def test_truncating_anywhere_keeps_the_whole_records_and_reports_the_rest(write, recs, data):
    built = Built(recs)
    cut = data.draw(st.integers(0, len(built.data)))
    result = scan(write(built.data[:cut]))
    whole = sum(1 for i, line in enumerate(built.lines) if built.start(i) + len(line) <= cut)
    end = min(built.start(whole), cut)  # a whole record may have lost only its newline
    assert result.records == built.records[:whole]
    assert result.torn_tail_bytes == cut - end
    if cut == end:
        assert result.problems == []
    else:
        assert result.problems == [Problem(0, end, "torn_tail", f"{cut - end} B")]


@PROPERTY
@given(recs=journals, data=st.data())
def test_inserting_bytes_is_detected(write, recs, data):
    built = Built(recs)
    at = data.draw(st.integers(0, len(built.data)))
    blob = data.draw(st.binary(min_size=1, max_size=16) | st.sampled_from([b"\n", b" \n"]))
    result = scan(write(built.data[:at] + blob + built.data[at:]))
    assert result.problems != []  # blank lines between records too
    before = built.data.count(b"\n", 0, at)  # whole lines before the insertion
    assert result.records[:before] == built.records[:before]


@PROPERTY
@given(recs=longer_journals, data=st.data())
def test_deleting_a_line_is_detected_unless_it_was_the_last(write, recs, data):
    built = Built(recs)
    gone = data.draw(st.integers(0, len(built.lines) - 1))
    result = scan(write(join(built.lines[:gone] + built.lines[gone + 1 :])))
    assert result.records == built.records[:gone] + built.records[gone + 1 :]
    if gone == len(built.lines) - 1:  # losing the last record leaves a shorter, sound journal
        assert result.problems == [] and result.last_rec == len(built.lines) - 1
    else:  # the line after the gap neither chains nor numbers on
        assert {(p.line_no, p.reason) for p in result.problems} == {
            (gone + 1, "chain_break"),
            (gone + 1, "rec_gap"),
        }


@PROPERTY
@given(recs=longer_journals, data=st.data())
def test_swapping_two_lines_is_detected(write, recs, data):
    built = Built(recs)
    i = data.draw(st.integers(0, len(built.lines) - 2))
    j = data.draw(st.integers(i + 1, len(built.lines) - 1))
    lines = list(built.lines)
    lines[i], lines[j] = lines[j], lines[i]
    result = scan(write(join(lines)))
    assert (i + 1, "chain_break") in {(p.line_no, p.reason) for p in result.problems}


@PROPERTY
@given(recs=journals, garbage=st.binary(min_size=1, max_size=200))
def test_appending_garbage_is_a_torn_tail_of_exactly_that_size(write, recs, garbage):
    built = Built(recs)
    result = scan(write(built.data + garbage))
    assert result.records == built.records and result.last_hash == built.last_hash
    assert result.torn_tail_bytes == len(garbage)
    assert result.problems == [Problem(0, len(built.data), "torn_tail", f"{len(garbage)} B")]


# -- Journal opening a torn file


class NoSyncIO(CardIO):
    """Plain writes without fsync: these properties are about which bytes stay, not durability."""

    def create(self, path: Path, data: bytes, sync: bool) -> None:
        super().create(path, data, sync=False)

    def append(self, path: Path, data: bytes, sync: bool) -> None:
        super().append(path, data, sync=False)

    def truncate(self, path: Path, size_bytes: int) -> None:
        os.truncate(path, size_bytes)

    def sync_dir(self, directory: Path) -> None:
        pass


torn_tails = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True)),
    st.tuples(st.just("garbage"), st.binary(min_size=1, max_size=200)),
)


@PROPERTY
@given(recs=journals, torn=torn_tails, extra=flat_records)
def test_opening_a_torn_journal_cuts_exactly_the_torn_bytes(write, recs, torn, extra):
    built = Built(recs)
    last = built.start(len(built.lines) - 1)
    how, arg = torn
    if how == "truncate":  # a power cut mid-append: some prefix of the last line (+ newline)
        cut = last + int(arg * (len(built.data) - last))
        data = built.data[:cut]
        whole = cut >= last + len(built.lines[-1])  # only the newline is missing
        kept = len(built.lines) if whole else len(built.lines) - 1
        torn_bytes = 0 if whole else cut - last
    else:
        data, kept, torn_bytes = built.data + arg, len(built.lines), len(arg)
    path = write(data)
    journal = Journal(path, NoSyncIO())
    assert journal.cut_bytes == torn_bytes
    assert path.read_bytes() == join(built.lines[:kept])
    assert journal.last_rec == kept
    journal.append(extra)
    result = scan(path)
    assert result.problems == [] and result.records[:kept] == built.records[:kept]
    assert len(result.records) == kept + 1 and result.records[-1]["rec"] == kept + 1
    assert {k: v for k, v in result.records[-1].items() if k not in ("v", "rec", "prev")} == extra


def test_opening_a_journal_of_whole_foreign_lines_refuses_and_changes_nothing(write):
    path = write(b'{"some":"other log"}\n{"not":"ours"}\n')
    with pytest.raises(CardError, match="holds no sound v1 record"):
        Journal(path, OS_IO)
    assert path.read_bytes() == b'{"some":"other log"}\n{"not":"ours"}\n'


# -- what these properties found in journal.py (fixed there since): regressions


def seal(body: bytes) -> bytes:
    """A line with a valid CRC around any body ending in '}'."""
    return body[:-1] + b',"crc":"%08x"}' % zlib.crc32(body)


def test_decode_of_deeply_nested_json_raises_journal_line_error():
    line = seal(b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    with pytest.raises(JournalLineError) as exc:
        decode(line)  # json.loads raised RecursionError
    assert exc.value.reason == "bad_json"


@pytest.mark.parametrize("spelling", ["upper", "space", "plus", "underscore"])
def test_decode_refuses_a_non_canonical_crc(spelling):
    """int(crc, 16) also read 'ABCDEF12', ' bcdef12', '+bcdef12' and '0_bcdef1'."""
    line = next(
        line
        for n in range(10_000)
        if (line := encode({"kind": "x", "n": n}, 1, GENESIS_HASH))[-10:-8] == b"00"
        and any(c in b"abcdef" for c in line[-10:-2])
    )
    crc = line[-10:-2]
    lax = {
        "upper": crc.upper(),
        "space": b" " + crc[1:],
        "plus": b"+" + crc[1:],
        "underscore": b"0_" + crc[2:],
    }[spelling]
    assert int(lax, 16) == int(crc, 16)
    with pytest.raises(JournalLineError, match="no_crc"):
        decode(line[:-10] + lax + b'"}')


@pytest.mark.parametrize("blank", [b"\n", b" \n", b"\t\r\n"])
def test_a_blank_line_between_records_is_reported(write, blank):
    built = Built([{"kind": "a"}, {"kind": "b"}])
    result = scan(write(built.lines[0] + b"\n" + blank + built.lines[1] + b"\n"))
    assert [p.line_no for p in result.problems] == [2]
    assert result.records == built.records
