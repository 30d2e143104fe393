"""The supervisor link protocol (version 1): one module for both ends of the UART.

The supervisor imports it under MicroPython, the Pi under CPython, so it keeps to the subset both
run: no typing, dataclasses or enum; annotations name builtin types only; no bytearray slice
assignment or deletion (an optional MicroPython feature).

A frame::

    0      SYNC 0xA5
    1      protocol version (LINK_VERSION)
    2      message type (HELLO ... SHUTDOWN below)
    3..4   payload length n, little-endian, at most MAX_PAYLOAD
    5..    the payload: a JSON object, compact UTF-8
    5+n    CRC-16/CCITT-FALSE over bytes 1 .. 4+n, 2 bytes little-endian

`encode` writes payloads canonically (keys sorted, no spaces, control characters escaped), so
both ends produce the same bytes for the same message. Keep payload values to ints, strings,
bools, None, lists and dicts: floats are allowed but the rp2 port holds them in single precision,
so quantities travel as integers in fixed units (mV, ms, s).

`Decoder.feed` returns the valid frames found in a stream of bytes and never raises: a garbled,
truncated or unknown frame is counted in `Decoder.counters` and dropped. After a bad CRC, an
impossible length or a foreign version it drops only the SYNC byte and hunts on from the next
byte, so a real frame that starts inside garbage is still found. The decoder holds at most one
frame's worth of bytes between calls.
"""

import json
from array import array

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only like MicroPython's (mpy-cross rejects the "/" syntax)
        return __x


LINK_VERSION = const(1)
SYNC = const(0xA5)
MAX_PAYLOAD = const(1024)  # a status with every counter fits; 90 ms at 115200
HEADER_SIZE = const(5)  # SYNC, version, type, length (2)
OVERHEAD = const(7)  # the header and the CRC
MAX_FRAME = const(1031)  # OVERHEAD + MAX_PAYLOAD
MAX_DEPTH = const(8)  # how deeply a payload may nest

HELLO = const(1)  # both ways: who I am, the link version
STATUS = const(2)  # supervisor -> Pi
STATUS_REQUEST = const(3)  # Pi -> supervisor
TIME_SYNC = const(4)  # Pi -> supervisor
SET_ALARM = const(5)  # Pi -> supervisor
SLEEP = const(6)  # Pi -> supervisor: I am halting; cut the rail after my halt, wake me at ...
KICK = const(7)  # Pi -> supervisor: the watchdog
LOG = const(8)  # both ways
SHUTDOWN = const(9)  # supervisor -> Pi: shut down now (brown-out, longest awake)

NAMES = {
    HELLO: "HELLO",
    STATUS: "STATUS",
    STATUS_REQUEST: "STATUS_REQUEST",
    TIME_SYNC: "TIME_SYNC",
    SET_ALARM: "SET_ALARM",
    SLEEP: "SLEEP",
    KICK: "KICK",
    LOG: "LOG",
    SHUTDOWN: "SHUTDOWN",
}

COUNTER_NAMES = (
    "frames_ok",
    "bad_crc",
    "bad_version",
    "unknown_type",
    "bad_length",
    "bad_payload",
    "truncated",
    "skipped_bytes",
)


def _crc_table():
    table = array("H", [0] * 256)
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
        table[i] = c & 0xFFFF
    return table


_CRC_TABLE = _crc_table()


def crc16(data, start: int = 0, end: int = -1, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE of data[start:end] (end -1: to the end), without copying the slice.

    Pass a previous result as `crc` to continue over a second buffer.
    """
    if end < 0:
        end = len(data)
    table = _CRC_TABLE
    for i in range(start, end):
        crc = ((crc << 8) & 0xFFFF) ^ table[(crc >> 8) ^ data[i]]
    return crc


def _dump_str(s: str, parts: list) -> None:
    for ch in s:
        if ch < " " or ch == '"' or ch == "\\":
            break
    else:
        parts.append('"' + s + '"')
        return
    parts.append('"')
    for ch in s:
        if ch == '"':
            parts.append('\\"')
        elif ch == "\\":
            parts.append("\\\\")
        elif ch == "\n":
            parts.append("\\n")
        elif ch == "\r":
            parts.append("\\r")
        elif ch == "\t":
            parts.append("\\t")
        elif ch < " ":
            parts.append(f"\\u{ord(ch):04x}")
        else:
            parts.append(ch)
    parts.append('"')


def _dump(obj, parts: list, depth: int) -> None:
    if isinstance(obj, str):
        _dump_str(obj, parts)
    elif obj is None:
        parts.append("null")
    elif obj is True:
        parts.append("true")
    elif obj is False:
        parts.append("false")
    elif isinstance(obj, int):
        parts.append(str(obj))
    elif isinstance(obj, float):
        if obj - obj != 0:
            raise ValueError("payload holds a non-finite float")
        parts.append(repr(obj))
    elif depth >= MAX_DEPTH:
        raise ValueError(f"payload nests deeper than {MAX_DEPTH}")
    elif isinstance(obj, dict):
        parts.append("{")
        first = True
        for key in sorted(obj):
            if not isinstance(key, str):
                raise ValueError(f"payload key {key!r} is not a str")
            if not first:
                parts.append(",")
            first = False
            _dump_str(key, parts)
            parts.append(":")
            _dump(obj[key], parts, depth + 1)
        parts.append("}")
    elif isinstance(obj, (list, tuple)):
        parts.append("[")
        first = True
        for item in obj:
            if not first:
                parts.append(",")
            first = False
            _dump(item, parts, depth + 1)
        parts.append("]")
    else:
        raise ValueError(f"payload holds a {type(obj).__name__}, which JSON cannot carry")


def dumps(payload: dict) -> bytes:
    """The canonical payload bytes: compact UTF-8 JSON, keys sorted (ValueError if unencodable)."""
    if not isinstance(payload, dict):
        raise ValueError(f"payload must be a dict, not {type(payload).__name__}")
    parts = []
    _dump(payload, parts, 0)
    return "".join(parts).encode("utf-8")


def encode(msg_type: int, payload: dict) -> bytes:
    """One frame carrying `payload` as a message of `msg_type`.

    ValueError for an unknown type, a payload that is not a dict, cannot be written as JSON or
    is over MAX_PAYLOAD bytes once written.
    """
    if msg_type not in NAMES:
        raise ValueError(f"unknown message type {msg_type!r}")
    body = dumps(payload)
    n = len(body)
    if n > MAX_PAYLOAD:
        name = NAMES[msg_type]
        raise ValueError(f"{name} payload is {n} bytes, over the maximum of {MAX_PAYLOAD}")
    header = bytes((SYNC, LINK_VERSION, msg_type, n & 0xFF, n >> 8))
    crc = crc16(body, 0, n, crc16(header, 1, HEADER_SIZE))
    return header + body + bytes((crc & 0xFF, crc >> 8))


class Decoder:
    """Turns received bytes into messages. Not thread-safe; one per link."""

    def __init__(self):
        self.counters = {}
        for name in COUNTER_NAMES:
            self.counters[name] = 0
        self._buf = bytearray(MAX_FRAME)  # a partial frame, SYNC first
        self._n = 0  # bytes held in _buf

    @property
    def pending(self) -> int:
        """How many bytes of a partial frame are held."""
        return self._n

    def feed(self, data) -> list:
        """The (msg_type, payload) of every complete valid frame in `data`, in order.

        `data` is bytes, bytearray or memoryview. A frame cut off at the end is kept for the next
        call (or dropped by `flush`).
        """
        out = []
        counters = self.counters
        buf = self._buf
        n = self._n
        i = 0
        end = len(data)
        while True:
            if n:
                # Top up the partial frame in buf, only as far as needed to judge it.
                while True:
                    r = self._judge(buf, 0, n, out)
                    if r or i >= end:
                        break
                    if n < 2:
                        need = 2
                    elif n < HEADER_SIZE:
                        need = HEADER_SIZE
                    else:
                        need = OVERHEAD + (buf[3] | (buf[4] << 8))
                    while n < need and i < end:
                        buf[n] = data[i]
                        n += 1
                        i += 1
                if r == 0:
                    break  # input used up, the partial frame stays
                if r >= n:
                    n = 0
                    continue
                # Dropped the SYNC only: hunt on through the bytes held.
                k = 1
                while k < n and buf[k] != SYNC:
                    k += 1
                counters["skipped_bytes"] += k - 1
                for q in range(n - k):
                    buf[q] = buf[k + q]
                n -= k
                continue
            j = i
            while j < end and data[j] != SYNC:
                j += 1
            counters["skipped_bytes"] += j - i
            if j >= end:
                break
            r = self._judge(data, j, end - j, out)
            if r == 0:
                n = end - j  # less than a whole frame
                for q in range(n):
                    buf[q] = data[j + q]
                break
            i = j + r
        self._n = n
        return out

    def flush(self) -> list:
        """Give up on a held partial frame (counted as truncated): call it after an idle gap.

        Returns any complete frames found behind the dropped one (a false SYNC in garbage can
        hold back a real frame until the gap); usually [].
        """
        out = []
        while self._n:
            self.counters["truncated"] += 1
            rest = bytes(self._buf[1 : self._n])
            self._n = 0
            out.extend(self.feed(rest))
        return out

    def _judge(self, src, j: int, avail: int, out: list) -> int:
        """Judge the frame starting at src[j] (a SYNC) with `avail` bytes present.

        Returns 0 when more bytes are needed to tell, else how many bytes to consume: 1 (the SYNC
        only) after a failure that says this is no frame, the whole frame otherwise.
        """
        counters = self.counters
        if avail < 2:
            return 0
        if src[j + 1] != LINK_VERSION:
            counters["bad_version"] += 1
            return 1
        if avail < HEADER_SIZE:
            return 0
        n = src[j + 3] | (src[j + 4] << 8)
        if n > MAX_PAYLOAD:
            counters["bad_length"] += 1
            return 1
        size = OVERHEAD + n
        if avail < size:
            return 0
        stop = j + HEADER_SIZE + n
        crc = crc16(src, j + 1, stop)
        if src[stop] != crc & 0xFF or src[stop + 1] != crc >> 8:
            counters["bad_crc"] += 1
            return 1
        msg_type = src[j + 2]
        if msg_type not in NAMES:
            counters["unknown_type"] += 1
            return size
        payload = None
        try:
            payload = json.loads(str(bytes(src[j + HEADER_SIZE : stop]), "utf-8"))
            if isinstance(payload, dict):
                for key in payload:
                    if not isinstance(key, str):
                        payload = None
                        break
        except Exception:  # anything the JSON parser or the UTF-8 decoder says
            payload = None
        if not isinstance(payload, dict):
            counters["bad_payload"] += 1
            return size
        counters["frames_ok"] += 1
        out.append((msg_type, payload))
        return size
