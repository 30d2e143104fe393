"""Process start to armed (always-on) and, in gated mode, process start to the first capture: the
trap's software share of a cold start's trigger latency. `python -m device` with the simulated
hardware; the times are read from its JSON log on stderr."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_start(config: Path, until: str = "armed") -> float:
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "device", "--config", str(config)],
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "IRBIS_BACKEND"},
    )
    assert proc.stderr is not None
    try:
        for line in proc.stderr:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("to") == until:
                return time.perf_counter() - t0
        raise RuntimeError(f"trap exited with {proc.wait()} before arming")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def main(runs: int = 7) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        card = Path(tmp) / "card"
        card.mkdir()
        data = Path(tmp) / "data"
        data.mkdir()
        config = Path(tmp) / "trap.toml"
        storage = f'[storage]\ncard_path = "{card}"\ndata_path = "{data}"\n'
        config.write_text(f'backend = "sim"\nmode = "always-on"\n{storage}')
        one_start(config)  # warm the file cache
        times = [one_start(config) for _ in range(runs)]
        _print("process start -> armed (always-on)", times)
        gated = Path(tmp) / "gated.toml"
        gated.write_text(
            f'backend = "sim"\nmode = "gated"\n{storage}[gated]\npoweroff_command = ["true"]\n'
        )
        one_start(gated, "capturing")
        times = [one_start(gated, "capturing") for _ in range(runs)]
        _print("gated: process start -> first capture (goal < 0.3 s)", times)


def _print(what: str, times: list[float]) -> None:
    print(
        f"  {what} (python -m device, sim backend), {len(times)} runs: "
        f"median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"
    )
