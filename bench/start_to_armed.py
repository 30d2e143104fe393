"""Process start to armed: `python -m device` with the simulated hardware, until the controller
logs its first transition to `armed` (JSON log on stderr)."""

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


def one_start(config: Path) -> float:
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
            if record.get("to") == "armed":
                return time.perf_counter() - t0
        raise RuntimeError(f"trap exited with {proc.wait()} before arming")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def main(runs: int = 7) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        card = Path(tmp) / "card"
        card.mkdir()
        config = Path(tmp) / "trap.toml"
        config.write_text(f'backend = "sim"\nmode = "always-on"\n[storage]\ncard_path = "{card}"\n')
        one_start(config)  # warm the file cache
        times = [one_start(config) for _ in range(runs)]
    print(
        f"  process start -> armed (python -m device, sim backend), {runs} runs: "
        f"median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"
    )
