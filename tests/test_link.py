"""The supervisor link protocol (device/supervisor/link.py) under CPython: frames, CRC, encoding
rules, and the decoder against random bytes, garbage between frames and single-bit damage
(hypothesis). tests/test_supervisor_toolchain.py runs the same module under real MicroPython."""

from __future__ import annotations

import binascii
import itertools
import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from device.supervisor import link

FAILURES = ("bad_crc", "bad_version", "unknown_type", "bad_length", "bad_payload", "truncated")

SAMPLES = {
    link.HELLO: {"role": "pi", "link": 1, "fw": "0.1.0"},
    link.STATUS: {"pack_mv": 3712, "state": "awake", "wake": "pir", "counters": {"boots": 3}},
    link.STATUS_REQUEST: {},
    link.TIME_SYNC: {"epoch_s": 1_790_000_000},
    link.SET_ALARM: {"at_s": 1_790_003_600, "why": "dusk"},
    link.SLEEP: {"wake_at_s": 1_790_003_600, "halt_timeout_s": 30},
    link.KICK: {},
    link.LOG: {
        "level": "warn",
        "msg": "pack low\n\tstill above cut-off",
        "tags": ["a", None, True],
    },
    link.SHUTDOWN: {"reason": "brownout", "pack_mv": 3301},
}


def reference_crc(data: bytes) -> int:
    """CRC-16/CCITT-FALSE from the standard library (poly 0x1021, init 0xFFFF, no reflection)."""
    return binascii.crc_hqx(data, 0xFFFF)


def feed_all(decoder: link.Decoder, chunks) -> list:
    got = []
    for chunk in chunks:
        got += decoder.feed(chunk)
    return got


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


# --- frames and encoding ----------------------------------------------------------------------


def test_crc_check_value():
    assert link.crc16(b"123456789") == 0x29B1 == reference_crc(b"123456789")
    assert link.crc16(b"") == 0xFFFF
    # Continuing over a second buffer, and a window of a larger one, without copying.
    assert link.crc16(b"6789", 0, -1, link.crc16(b"12345")) == 0x29B1
    assert link.crc16(b"xx123456789yy", 2, 11) == 0x29B1


@pytest.mark.parametrize("msg_type", sorted(link.NAMES), ids=lambda t: link.NAMES[t])
def test_every_type_round_trips(msg_type):
    payload = SAMPLES[msg_type]
    frame = link.encode(msg_type, payload)
    body = link.dumps(payload)
    assert frame[0] == link.SYNC == 0xA5
    assert frame[1] == link.LINK_VERSION == 1
    assert frame[2] == msg_type
    assert int.from_bytes(frame[3:5], "little") == len(body) == len(frame) - 7
    assert frame[5:-2] == body
    assert int.from_bytes(frame[-2:], "little") == reference_crc(frame[1:-2])
    assert json.loads(body) == payload
    decoder = link.Decoder()
    assert decoder.feed(frame) == [(msg_type, payload)]
    assert decoder.counters == dict.fromkeys(link.COUNTER_NAMES, 0) | {"frames_ok": 1}
    assert decoder.pending == 0


def test_types_and_names():
    assert link.NAMES == {
        1: "HELLO",
        2: "STATUS",
        3: "STATUS_REQUEST",
        4: "TIME_SYNC",
        5: "SET_ALARM",
        6: "SLEEP",
        7: "KICK",
        8: "LOG",
        9: "SHUTDOWN",
    }
    for value, name in link.NAMES.items():
        assert getattr(link, name) == value


def test_a_known_frame_byte_for_byte():
    frame = link.encode(link.KICK, {"n": 7})
    body = b'{"n":7}'
    crc = reference_crc(b"\x01\x07\x07\x00" + body)
    assert frame == b"\xa5\x01\x07\x07\x00" + body + crc.to_bytes(2, "little")


def test_encoding_is_canonical():
    a = {"zeta": 1, "alpha": {"y": 2, "b": [3, "é"]}}
    b = {"alpha": {"b": [3, "é"], "y": 2}, "zeta": 1}
    assert link.dumps(a) == link.dumps(b) == '{"alpha":{"b":[3,"é"],"y":2},"zeta":1}'.encode()
    assert link.dumps({"s": 'q"\\\n\r\t\x01\x7f'}) == b'{"s":"q\\"\\\\\\n\\r\\t\\u0001\x7f"}'
    assert link.dumps({"t": (1, 2), "f": False, "n": None, "x": 1.5}) == (
        b'{"f":false,"n":null,"t":[1,2],"x":1.5}'
    )


def test_payload_limit_is_1024_bytes():
    fits = {"m": "x" * (1024 - len('{"m":""}'))}
    assert len(link.dumps(fits)) == 1024
    frame = link.encode(link.LOG, fits)
    assert len(frame) == link.MAX_FRAME == 1031
    assert link.Decoder().feed(frame) == [(link.LOG, fits)]
    over = {"m": "x" * 1100}
    with pytest.raises(ValueError, match=r"LOG payload is 1108 bytes, over the maximum of 1024"):
        link.encode(link.LOG, over)


@pytest.mark.parametrize(
    ("msg_type", "payload", "message"),
    [
        (0, {}, "unknown message type 0"),
        (10, {}, "unknown message type 10"),
        (link.LOG, ["not", "a", "dict"], "payload must be a dict, not list"),
        (link.LOG, None, "payload must be a dict, not NoneType"),
        (link.LOG, {1: "x"}, "payload key 1 is not a str"),
        (link.LOG, {"v": b"raw"}, "payload holds a bytes"),
        (link.LOG, {"v": {1, 2}}, "payload holds a set"),
        (link.LOG, {"v": float("nan")}, "non-finite float"),
        (link.LOG, {"v": float("inf")}, "non-finite float"),
        (link.LOG, {"v": [[[[[[[[[1]]]]]]]]]}, "nests deeper than 8"),
    ],
)
def test_encode_refuses(msg_type, payload, message):
    with pytest.raises(ValueError, match=message):
        link.encode(msg_type, payload)


# --- the decoder on hand-made damage -----------------------------------------------------------


def raw_frame(msg_type: int, body: bytes, version: int = 1, length: int | None = None) -> bytes:
    """A frame with a correct CRC around anything (what encode would refuse to write)."""
    n = len(body) if length is None else length
    inner = bytes((version, msg_type)) + n.to_bytes(2, "little") + body
    return b"\xa5" + inner + reference_crc(inner).to_bytes(2, "little")


def test_one_byte_at_a_time():
    frames = [link.encode(t, SAMPLES[t]) for t in sorted(SAMPLES)]
    data = b"".join(frames)
    decoder = link.Decoder()
    got = feed_all(decoder, [data[i : i + 1] for i in range(len(data))])
    assert got == [(t, SAMPLES[t]) for t in sorted(SAMPLES)]
    assert decoder.counters["frames_ok"] == len(frames)
    assert all(decoder.counters[name] == 0 for name in (*FAILURES, "skipped_bytes"))


def test_truncated_frame_and_flush():
    frame = link.encode(link.STATUS, SAMPLES[link.STATUS])
    decoder = link.Decoder()
    assert decoder.feed(frame[:-1]) == []
    assert decoder.pending == len(frame) - 1
    assert decoder.flush() == []
    assert decoder.counters["truncated"] == 1
    assert decoder.pending == 0
    # The rest of it, arriving late, is garbage now; the next frame is fine.
    assert decoder.feed(frame[-1:] + frame) == [(link.STATUS, SAMPLES[link.STATUS])]
    assert decoder.flush() == []
    assert decoder.counters["truncated"] == 1


def test_frames_with_a_good_crc_but_bad_contents_are_dropped_whole():
    good = link.encode(link.KICK, {})
    cases = {
        "unknown_type": raw_frame(0, b"{}") + raw_frame(77, b'{"a":1}'),
        "bad_payload": raw_frame(link.LOG, b"not json")
        + raw_frame(link.LOG, b"[1,2]")
        + raw_frame(link.LOG, b"")
        + raw_frame(link.LOG, b'"\xa5\x01"')
        + raw_frame(link.LOG, b'{"a":"\xff"}'),
    }
    for counter, damaged in cases.items():
        decoder = link.Decoder()
        assert decoder.feed(damaged + good) == [(link.KICK, {})], counter
        expected = 2 if counter == "unknown_type" else 5
        assert decoder.counters[counter] == expected
        assert decoder.counters["skipped_bytes"] == 0  # whole frames, not hunted through


def test_a_foreign_version_or_impossible_length_drops_only_the_sync():
    good = link.encode(link.HELLO, SAMPLES[link.HELLO])
    decoder = link.Decoder()
    stream = raw_frame(link.KICK, b"{}", version=2) + good
    assert decoder.feed(stream) == [(link.HELLO, SAMPLES[link.HELLO])]
    assert decoder.counters["bad_version"] == 1
    assert decoder.counters["skipped_bytes"] == len(raw_frame(link.KICK, b"{}")) - 1

    decoder = link.Decoder()
    stream = b"\xa5\x01\x07\x01\x04" + good  # 1025 bytes announced
    assert decoder.feed(stream) == [(link.HELLO, SAMPLES[link.HELLO])]
    assert decoder.counters["bad_length"] == 1
    assert decoder.counters["skipped_bytes"] == 4


def test_a_real_frame_inside_a_false_start_is_found():
    good = link.encode(link.SLEEP, SAMPLES[link.SLEEP])
    # A false header announcing 200 bytes swallows the real frame while it waits ...
    false_start = b"\xa5\x01\x02\xc8\x00"
    decoder = link.Decoder()
    assert decoder.feed(false_start + good) == []
    assert decoder.pending == len(false_start + good)
    # ... and gives it back once the CRC fails,
    assert decoder.feed(bytes(200)) == [(link.SLEEP, SAMPLES[link.SLEEP])]
    assert decoder.counters["bad_crc"] == 1
    # or at the idle gap.
    decoder = link.Decoder()
    assert decoder.feed(false_start + good) == []
    assert decoder.flush() == [(link.SLEEP, SAMPLES[link.SLEEP])]
    assert decoder.counters["truncated"] == 1
    assert decoder.counters["skipped_bytes"] == 4


def test_the_buffer_stays_bounded():
    decoder = link.Decoder()
    # Endless false starts, each announcing the longest payload.
    nasty = b"\xa5\x01\x01\xf0\x00" * 2000
    for step in (1, 7, 1030, 1031, 2000, len(nasty)):
        for i in range(0, len(nasty), step):
            decoder.feed(nasty[i : i + step])
            assert decoder.pending < link.MAX_FRAME
            assert len(decoder._buf) == link.MAX_FRAME
    decoder.flush()
    assert decoder.pending == 0


def test_input_types():
    frame = link.encode(link.TIME_SYNC, SAMPLES[link.TIME_SYNC])
    for make in (bytes, bytearray, memoryview):
        decoder = link.Decoder()
        assert decoder.feed(make(frame[:9])) == []
        assert decoder.feed(make(frame[9:])) == [(link.TIME_SYNC, SAMPLES[link.TIME_SYNC])]
        assert decoder.feed(make(b"")) == []


# --- properties ---------------------------------------------------------------------------------

KEYS = st.text(max_size=6)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.text(max_size=12),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=6,
)
PAYLOADS = st.dictionaries(KEYS, VALUES, max_size=5)
MESSAGES = st.tuples(st.sampled_from(sorted(link.NAMES)), PAYLOADS)
INPUT_TYPES = st.sampled_from([bytes, bytearray, memoryview])


def encodable(messages):
    frames = []
    for msg_type, payload in messages:
        try:
            frames.append(link.encode(msg_type, payload))
        except ValueError:
            assume(False)
    return frames


@given(MESSAGES)
def test_any_payload_round_trips(message):
    msg_type, payload = message
    (frame,) = encodable([message])
    assert link.Decoder().feed(frame) == [(msg_type, payload)]


# Random bytes, most with a good frame or a frame's pieces mixed in so that the decoder gets
# past SYNC hunting into headers, lengths and CRCs.
_PIECES = [link.encode(t, p) for t, p in SAMPLES.items()]
NOISE = st.one_of(
    st.binary(max_size=80),
    st.lists(
        st.one_of(
            st.binary(max_size=12),
            st.sampled_from(_PIECES),
            st.sampled_from(_PIECES).flatmap(
                lambda f: st.integers(0, len(f)).map(lambda k: f[:k] if k % 2 else f[k:])
            ),
            st.sampled_from([b"\xa5", b"\xa5\x01", b"\xa5\x01\x01\xf0\x00", b"\xa5\x01\x08"]),
        ),
        max_size=6,
    ).map(b"".join),
)


@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(NOISE, st.lists(st.integers(min_value=0), max_size=4), INPUT_TYPES)
def test_random_bytes_never_raise(data, cuts, make):
    decoder = link.Decoder()
    got = []
    for chunk in split(data, cuts):
        got += decoder.feed(make(chunk))
        assert decoder.pending < link.MAX_FRAME
    got += decoder.flush()
    assert decoder.pending == 0
    for msg_type, payload in got:
        assert msg_type in link.NAMES
        assert isinstance(payload, dict)
        assert all(isinstance(key, str) for key in payload)
    assert decoder.counters["frames_ok"] == len(got)
    assert set(decoder.counters) == set(link.COUNTER_NAMES)
    assert all(type(v) is int and v >= 0 for v in decoder.counters.values())


GARBAGE = st.binary(max_size=40).map(lambda b: b.replace(b"\xa5", b""))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(GARBAGE, MESSAGES), max_size=6),
    GARBAGE,
    st.lists(st.integers(min_value=0), max_size=6),
    INPUT_TYPES,
)
def test_frames_between_garbage_without_sync_all_come_through(pairs, tail, cuts, make):
    frames = encodable([m for _, m in pairs])
    stream = b"".join(g + f for (g, _), f in zip(pairs, frames, strict=True)) + tail
    decoder = link.Decoder()
    got = feed_all(decoder, [make(c) for c in split(stream, cuts)])
    assert got == [m for _, m in pairs]
    assert decoder.pending == 0
    counters = decoder.counters
    assert counters["frames_ok"] == len(frames)
    assert counters["skipped_bytes"] == sum(len(g) for g, _ in pairs) + len(tail)
    assert all(counters[name] == 0 for name in FAILURES)
    # Every byte is accounted for: in a frame or skipped.
    assert sum(map(len, frames)) + counters["skipped_bytes"] == len(stream)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.binary(max_size=40), MESSAGES), max_size=5),
    st.binary(max_size=40),
    st.lists(st.integers(min_value=0), max_size=6),
)
def test_frames_between_any_garbage_come_through_by_the_flush(pairs, tail, cuts):
    frames = encodable([m for _, m in pairs])
    stream = b"".join(g + f for (g, _), f in zip(pairs, frames, strict=True)) + tail
    decoder = link.Decoder()
    got = feed_all(decoder, split(stream, cuts)) + decoder.flush()
    expected = [m for _, m in pairs]
    if got != expected:
        # Only a false start whose CRC happened to match (1 in 65536) could take a real frame.
        c = decoder.counters
        assert c["unknown_type"] + c["bad_payload"] > 0 or any(m not in expected for m in got)


@settings(max_examples=400, deadline=None)
@given(MESSAGES, MESSAGES, st.data())
def test_a_flipped_bit_is_never_accepted(message, neighbour, data):
    frame, good = encodable([message, neighbour])
    bit = data.draw(st.integers(0, len(frame) * 8 - 1), label="bit")
    damaged = bytearray(frame)
    damaged[bit // 8] ^= 1 << (bit % 8)
    decoder = link.Decoder()
    assert decoder.feed(bytes(damaged)) + decoder.flush() == []
    counters = decoder.counters
    assert counters["frames_ok"] == 0
    assert sum(counters[name] for name in (*FAILURES, "skipped_bytes")) > 0
    # Between good frames it costs only itself.
    decoder = link.Decoder()
    got = decoder.feed(good + bytes(damaged) + good) + decoder.flush()
    assert got == [neighbour, neighbour]
