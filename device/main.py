"""Start the trap: `python -m device --config trap.toml [--check]` (also `irbis run`).

Needs nothing from sim/ or tools/. Exit codes: 0 done (or `--check`: the trap will start), 2 bad
config (`--check` also: power.target_end has passed), 3 backend (unknown, a package missing, a
device file missing), 4 the internal storage (data path) is unusable, 130 interrupted while
starting. A missing, full or read-only card does not stop the trap.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys

from device import __version__, preflight
from device import config as config_mod
from device.clock import RealClock
from device.errors import BackendError, CardError, ConfigError
from device.events import StopRequested
from device.hal.registry import check_backend, chosen_backend, open_backend

EXIT_CONFIG, EXIT_BACKEND, EXIT_STORAGE = 2, 3, 4


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="irbis run", description="Run the trap.")
    p.add_argument("--config", required=True, help="path to trap.toml")
    p.add_argument(
        "--check",
        action="store_true",
        help="check the config, the data path, the card and the backend's packages without "
        "opening hardware or writing anything, and exit (0: the trap will start)",
    )
    p.add_argument("--version", action="version", version=f"irbis {__version__}")
    return p


def run(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    except KeyboardInterrupt:  # before the trap's own SIGINT handler is in place
        print("irbis: interrupted while starting", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `--check | head`: the reader went away
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _run(argv: list[str] | None) -> int:
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
        return _check(args.config, cfg, backend)
    problem = preflight.data_path_problem(cfg)
    if problem:  # before opening hardware: nothing is half-started
        print(f"irbis: {problem}", file=sys.stderr)
        return EXIT_STORAGE
    return _start(cfg, backend)


def _check(path: str, cfg: config_mod.TrapConfig, backend: str) -> int:
    """`--check`: every problem that would stop the start, each on its own line; the exit code
    is the one the start would give for the first of them (config, data path, backend)."""
    problems: list[tuple[int, str]] = []
    try:
        # Only here (and in `irbis plan`): a running trap whose date has passed keeps going.
        config_mod.check_target_end(cfg, RealClock(cfg.utc_offset_s).now_local().date())
    except ConfigError as exc:
        problems.append((EXIT_CONFIG, f"{exc} (a new deployment's date cannot have passed)"))
    else:
        print(
            f"config {path}: OK (backend {backend}, mode {cfg.mode}, "
            f"burst {cfg['capture.burst_frames']} x {cfg['capture.burst_interval_s']} s, "
            f"hold-off {cfg['capture.hold_off_s']} s)"
        )
    problem = preflight.data_path_problem(cfg)
    if problem:
        problems.append((EXIT_STORAGE, problem))
    else:
        print(preflight.data_path_report(cfg))
    print(preflight.card_report(cfg, backend))
    backend_problems = preflight.backend_problems(cfg, backend)
    problems += [(EXIT_BACKEND, p) for p in backend_problems]
    if not backend_problems:
        print(f"backend {backend}: OK (packages import; no hardware opened)")
    for _code, message in problems:
        print(f"irbis: {message}", file=sys.stderr)
    if problems:
        code = problems[0][0]
        print(f"irbis: check failed for config {path} (exit {code})", file=sys.stderr)
        return code
    print(f"check: OK: `python -m device --config {path}` will start")
    return 0


def _start(cfg: config_mod.TrapConfig, backend: str) -> int:
    from device import log
    from device.boot import boot_trap

    clock = RealClock(cfg.utc_offset_s)
    log.configure(clock, sys.stderr)
    try:  # the data path was checked by `_run`, before this opens any hardware
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
