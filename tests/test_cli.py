"""The installed `irbis` command: dispatch, and clear errors for bad arguments."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IRBIS = shutil.which("irbis", path=str(Path(sys.executable).parent))


def irbis(*args: str) -> subprocess.CompletedProcess:
    assert IRBIS, "the irbis command is installed in the environment's bin/"
    return subprocess.run([IRBIS, *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_run_check_goes_to_the_trap_entry_point():
    out = irbis("run", "--config", "trap.example.toml", "--check")
    assert out.returncode == 0 and "OK" in out.stdout


def test_unknown_command_and_scenario_are_clear_errors(tmp_path):
    out = irbis("fly")
    assert out.returncode == 2 and "unknown command 'fly'" in out.stderr
    out = irbis("sim", "no-such-place", "--out", str(tmp_path / "r"))
    assert out.returncode == 2 and "no scenario 'no-such-place'" in out.stderr
    assert "altai-winter-90d" in out.stderr


@pytest.mark.parametrize("days", ["0", "-3"])
def test_nonpositive_days_are_refused(tmp_path, days):
    out = irbis("sim", "altai-winter-90d", "--days", days, "--out", str(tmp_path / "r"))
    assert out.returncode == 2 and "--days must be positive" in out.stderr
    assert not (tmp_path / "r").exists()


def test_sim_writes_a_run_folder_and_says_where(tmp_path):
    out = irbis(
        "sim", "altai-winter-90d", "--days", "2", "--seed", "3", "--out", str(tmp_path / "r")
    )
    assert out.returncode == 0, out.stderr
    assert str((tmp_path / "r").resolve()) in out.stdout
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["simulated_days"] == 2 and metrics["seed"] == 3
    assert (tmp_path / "r" / "summary.txt").read_text().strip() in out.stdout
