"""Start the trap: `python -m device --config trap.toml [--check]` (also `irbis run`).

Needs nothing from sim/ or tools/. Exit codes: 0 done, 2 bad config, 3 backend, 4 the internal
storage (data path) is unusable. A missing, full or read-only card does not stop the trap.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from device import config as config_mod
from device.clock import RealClock
from device.errors import BackendError, CardError, ConfigError
from device.events import StopRequested
from device.hal.registry import check_backend, chosen_backend, open_backend

EXIT_CONFIG, EXIT_BACKEND, EXIT_STORAGE = 2, 3, 4


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="irbis run", description="Run the trap.")
    p.add_argument("--config", required=True, help="path to trap.toml")
    p.add_argument("--check", action="store_true", help="validate the config and exit")
    return p


def run(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        cfg = config_mod.load(args.config)
        backend = chosen_backend(cfg.backend)
        check_backend(backend)
    except (ConfigError, FileNotFoundError) as exc:
        print(f"irbis: {exc}", file=sys.stderr)
        print(f"irbis: refusing to start with config {args.config}", file=sys.stderr)
        return EXIT_CONFIG
    except BackendError as exc:
        print(f"irbis: {exc}", file=sys.stderr)
        return EXIT_BACKEND
    if args.check:
        print(
            f"config {args.config}: OK (backend {backend}, mode {cfg.mode}, "
            f"burst {cfg['capture.burst_frames']} x {cfg['capture.burst_interval_s']} s, "
            f"hold-off {cfg['capture.hold_off_s']} s, card {cfg['storage.card_path']})"
        )
        return 0
    return _start(cfg, backend)


def _start(cfg: config_mod.TrapConfig, backend: str) -> int:
    from device import log
    from device.boot import boot_trap

    clock = RealClock(cfg.utc_offset_s)
    log.configure(clock, sys.stderr)
    data_path = Path(cfg["storage.data_path"])
    if not data_path.is_dir() or not os.access(data_path, os.W_OK | os.X_OK):
        # before opening hardware: nothing is half-started
        print(f"irbis: data path {data_path} is not a writable directory", file=sys.stderr)
        return EXIT_STORAGE
    try:
        hardware = open_backend(backend, cfg, clock)
    except BackendError as exc:
        print(f"irbis: {exc}", file=sys.stderr)
        return EXIT_BACKEND
    try:
        # A missing, full, read-only or foreign card does not stop the trap: the storage
        # buffers internally or journals triggers without media, and its status says why.
        trap = boot_trap(cfg, clock, hardware).trap
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: trap.post(StopRequested("signal")))
        trap.start()
        reason = trap.run()
    except (CardError, OSError) as exc:
        print(f"irbis: storage: {exc}", file=sys.stderr)
        return EXIT_STORAGE
    finally:
        hardware.close()
    print(f"irbis: stopped ({reason})", file=sys.stderr)
    if trap.config.mode == "gated" and reason != "signal":
        # Halt the Pi; its halt line (gpio-poweroff) tells the supervisor to cut the rail.
        subprocess.run(cfg["gated.poweroff_command"], check=False)
    return 0
