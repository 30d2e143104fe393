"""Run code under the real MicroPython from the tests (a helper, not a test file).

MicroPython here is its WebAssembly port from npm (`@micropython/micropython-webassembly-pyscript`,
pinned in package.json, installed into node_modules/ by `make`), run by the machine's Node through
tests/micropython_runner.mjs. It is the same interpreter and compiler as the rp2 port; what
differs is the port's modules: it has no `machine` or `rp2` (callers inject fakes as files), and
it has a few modules the Pico lacks. Floats are double precision here, single on the rp2.

Layout: each key of `files` is a path relative to MicroPython's filesystem root, which is its
current directory and on its sys.path, as on a board's flash. So
`{"supervisor/link.py": src}` makes `import supervisor.link` (and `from supervisor import link`)
work, as on the board; a package needs no __init__.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "@micropython/micropython-webassembly-pyscript"
RUNNER = Path(__file__).with_name("micropython_runner.mjs")


class MicroPythonError(RuntimeError):
    """The script raised under MicroPython (the message holds its traceback), or timed out."""


def node_and_micropython() -> str | None:
    """None when MicroPython can be run here, else why not (a skip reason)."""
    if shutil.which("node") is None:
        return "node not found on PATH"
    if not (REPO / "node_modules" / PACKAGE / "micropython.mjs").is_file():
        return f"node_modules/{PACKAGE} missing: run make"
    return None


def run_micropython(files: dict[str, str], main: str, timeout_s: float = 60) -> str:
    """Write `files` into a fresh MicroPython, run `main`; return all it printed to stdout.

    Raises MicroPythonError with MicroPython's traceback (and what was printed before it) when
    `main` raises, or when it runs longer than `timeout_s`.
    """
    reason = node_and_micropython()
    if reason is not None:
        raise RuntimeError(f"cannot run MicroPython: {reason}")
    node = shutil.which("node")
    assert node is not None
    job = json.dumps({"files": files, "main": main})
    try:
        done = subprocess.run(
            [node, str(RUNNER)],
            input=job.encode(),
            capture_output=True,
            timeout=timeout_s,
            cwd=REPO,
        )
    except subprocess.TimeoutExpired as exc:
        printed = (exc.stdout or b"").decode("utf-8", "replace")
        raise MicroPythonError(
            f"MicroPython ran over {timeout_s} s (a loop at import?); printed:\n{printed}"
        ) from None
    stdout = done.stdout.decode("utf-8", "replace")
    stderr = done.stderr.decode("utf-8", "replace")
    if done.returncode == 1:
        raise MicroPythonError(f"MicroPython raised:\n{stderr}\nprinted before that:\n{stdout}")
    if done.returncode != 0:
        raise RuntimeError(f"the MicroPython runner failed ({done.returncode}):\n{stderr}")
    return stdout
