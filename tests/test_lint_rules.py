"""The clock seam is enforced: ruff rejects wall-clock reads and sleeps in device/ outside the
clock module and the Pi backends."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OFFENDING = """import time


def f() -> float:
    time.sleep(1)
    return time.time() + time.monotonic()
"""


def ruff_codes(filename: str, source: str) -> list[str]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--output-format",
            "concise",
            "--no-cache",
            "--stdin-filename",
            filename,
            "-",
        ],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    return [
        line.split(": ")[1].split(" ")[0]
        for line in out.stdout.splitlines()
        if line.startswith(filename)
    ]


@pytest.mark.parametrize("path", ["device/controller.py", "device/storage/new_module.py"])
def test_time_reads_are_banned_in_device(path):
    assert ruff_codes(path, OFFENDING).count("TID251") == 3


@pytest.mark.parametrize("path", ["device/clock.py", "device/hal/pi/camera.py", "sim/x.py"])
def test_time_reads_are_allowed_in_the_clock_the_pi_backends_and_the_simulator(path):
    assert "TID251" not in ruff_codes(path, OFFENDING)
