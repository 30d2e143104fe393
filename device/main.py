"""Start the trap: `python -m device --config trap.toml [--check]` (also `irbis run`).

Needs nothing from sim/ or tools/. Exit codes: 0 done, 2 bad config, 3 backend, 4 card.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from device import config as config_mod
from device.clock import RealClock
from device.errors import BackendError, CardError, ConfigError
from device.events import StopRequested
from device.hal.registry import check_backend, chosen_backend, open_backend

EXIT_CONFIG, EXIT_BACKEND, EXIT_CARD = 2, 3, 4


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
    from device.storage.event_store import EventStore, check_card_path
    from device.trap import Trap

    clock = RealClock(cfg.utc_offset_s)
    log.configure(clock, sys.stderr)
    card_path = Path(cfg["storage.card_path"])
    try:
        check_card_path(card_path)  # before opening hardware: nothing is half-started
    except CardError as exc:
        print(f"irbis: {exc}", file=sys.stderr)
        return EXIT_CARD
    try:
        hardware = open_backend(backend, cfg, clock)
    except BackendError as exc:
        print(f"irbis: {exc}", file=sys.stderr)
        return EXIT_BACKEND
    try:
        store = EventStore(card_path, cfg["deployment_id"])
        trap = Trap(cfg, clock, hardware, store)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: trap.post(StopRequested("signal")))
        trap.start()
        reason = trap.run()
    except CardError as exc:
        print(f"irbis: {exc}", file=sys.stderr)
        return EXIT_CARD
    finally:
        hardware.close()
    print(f"irbis: stopped ({reason})", file=sys.stderr)
    return 0
