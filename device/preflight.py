"""What `--check` verifies beyond the config, without opening hardware or writing anything: the
data path, the card, and the chosen backend's packages and device files. The start path checks
the data path with `data_path_problem` too, so the two cannot disagree."""

from __future__ import annotations

import importlib
import os
import stat
from importlib.metadata import entry_points
from pathlib import Path

from device.config import TrapConfig
from device.errors import BackendError
from device.hal.registry import ENTRY_POINT_GROUP

MB = 1_000_000
INSTALL_LGPIO = (
    "install it with `pip install 'irbis[pi]'`, or `sudo apt install python3-lgpio` "
    "(then use a venv made with --system-site-packages)"
)


def data_path_problem(cfg: TrapConfig) -> str | None:
    """Why the trap could not keep its state in storage.data_path, or None. The trap writes
    only under <data_path>/irbis/, which it creates."""
    data_path = Path(cfg["storage.data_path"])
    if not data_path.is_dir() or not os.access(data_path, os.W_OK | os.X_OK):
        return f"data path {data_path} is not a writable directory"
    own = data_path / "irbis"
    if own.exists() and (not own.is_dir() or not os.access(own, os.W_OK | os.X_OK)):
        return f"data path {data_path}: {own} is not a writable directory"
    return None


def data_path_report(cfg: TrapConfig) -> str:
    data_path = Path(cfg["storage.data_path"])
    free_mb = _free_mb(data_path)
    return f"data path {data_path}: OK (writable, {free_mb:,.0f} MB free)"


def card_report(cfg: TrapConfig, backend: str) -> str:
    """One line: the card is usable now, or what the trap will do without it. Never a problem:
    a missing, read-only or full card does not stop the trap."""
    path = Path(cfg["storage.card_path"])
    needs_mount = backend == "pi"  # the pi backend takes only a mount point (device/hal/pi/card)
    fallback = (
        f"the trap starts anyway and buffers events in {cfg['storage.data_path']} (up to "
        f"storage.buffer_max_mb = {cfg['storage.buffer_max_mb']:g} MB, then it journals "
        f"triggers without media) until a writable card is {'mounted' if needs_mount else 'there'}"
    )
    if not path.exists():
        return f"card {path}: missing (no such folder): {fallback}"
    if not path.is_dir():
        return f"card {path}: not a folder: {fallback}"
    if needs_mount and not os.path.ismount(path):
        return f"card {path}: no card mounted (not a mount point): {fallback}"
    try:
        st = os.statvfs(path)
    except OSError as exc:
        return f"card {path}: not readable ({exc.strerror}): {fallback}"
    if st.f_flag & os.ST_RDONLY or not os.access(path, os.W_OK | os.X_OK):
        return f"card {path}: read-only: {fallback}"
    free_mb = st.f_bavail * st.f_frsize / MB
    total_mb = st.f_blocks * st.f_frsize / MB
    line = (
        f"card {path}: {'mounted, ' if needs_mount else ''}writable, "
        f"{free_mb:,.0f} MB free of {total_mb:,.0f} MB"
    )
    floor_mb = cfg["storage.free_floor_mb"] + cfg["storage.reserve_mb"]
    if free_mb < floor_mb:
        line += (
            f"; under storage.free_floor_mb + reserve_mb ({floor_mb:g} MB): the trap makes room "
            "by its eviction order, or journals triggers without media when nothing may go"
        )
    return line


def backend_problems(cfg: TrapConfig, backend: str, dev: Path = Path("/dev")) -> list[str]:
    """What would stop the backend from opening: its module or packages cannot be imported, or
    (pi) its device files are missing or not this user's to open. Opens no device."""
    ep = {e.name: e for e in entry_points(group=ENTRY_POINT_GROUP)}.get(backend)
    if ep is not None:
        try:
            ep.load()
        except Exception as exc:  # an ImportError, or a broken package failing at import
            return [f"the {backend} backend cannot be loaded ({type(exc).__name__}: {exc})"]
    return _pi_problems(cfg, dev) if backend == "pi" else []


def _pi_problems(cfg: TrapConfig, dev: Path) -> list[str]:
    from device.hal.pi.camera import import_picamera2

    problems = []
    try:
        import_picamera2()
    except BackendError as exc:
        problems.append(str(exc))
    try:
        importlib.import_module("gpiozero.pins.lgpio")
    except ImportError as exc:
        problems.append(
            f"the pi backend needs the 'lgpio' package for its GPIO pins ({exc}); {INSTALL_LGPIO}"
        )
    chips = sorted(dev.glob("gpiochip*"))
    if not chips:
        problems.append(f"no GPIO chip ({dev}/gpiochip*): is this a Raspberry Pi?")
    elif not any(os.access(c, os.R_OK | os.W_OK) for c in chips):
        problems.append(
            f"this user may not open {', '.join(map(str, chips))}: add it to the group 'gpio'"
        )
    if cfg.mode == "gated":
        problem = _uart_problem(Path(cfg["gated.uart"]))
        if problem:
            problems.append(problem)
    return problems


def _uart_problem(uart: Path) -> str | None:
    """gated mode opens the supervisor's UART at start; a missing one stops the start."""
    how = "enable it with enable_uart=1 in config.txt and turn off the serial console"
    try:
        mode = uart.stat().st_mode
    except OSError as exc:
        return f"the supervisor's UART {uart} (gated.uart) is not there ({exc.strerror}): {how}"
    if not stat.S_ISCHR(mode):
        return f"the supervisor's UART {uart} (gated.uart) is not a serial port"
    if not os.access(uart, os.R_OK | os.W_OK):
        return f"this user may not open the supervisor's UART {uart}: add it to the group 'dialout'"
    return None


def _free_mb(path: Path) -> float:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize / MB
