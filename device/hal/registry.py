"""Backends registered by name and chosen once at start. Never a silent fallback.

Backends are found through the `irbis.backends` entry-point group (as gpiozero finds its pin
factories), so device/ never names the simulator: `pi` lives in device.hal.pi, `sim` in
sim.hardware, each loaded only when chosen. `register_backend` adds one in-process (tests).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from device.errors import BackendError

if TYPE_CHECKING:
    from device.clock import Clock
    from device.config import TrapConfig
    from device.hal.interfaces import Hardware

BACKEND_ENV = "IRBIS_BACKEND"
ENTRY_POINT_GROUP = "irbis.backends"

BackendFactory = Callable[["TrapConfig", "Clock"], "Hardware"]

_REGISTERED: dict[str, BackendFactory] = {}


def register_backend(name: str, factory: BackendFactory) -> None:
    _REGISTERED[name] = factory


def _entry_points() -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_backends() -> list[str]:
    return sorted(set(_REGISTERED) | set(_entry_points()))


def chosen_backend(config_backend: str) -> str:
    """The backend name: `$IRBIS_BACKEND` if set, else the config's `backend`."""
    return os.environ.get(BACKEND_ENV) or config_backend


def check_backend(name: str) -> None:
    """Raise BackendError if no backend has this name, saying where the name came from."""
    if name in _REGISTERED or name in _entry_points():
        return
    source = f"${BACKEND_ENV}" if os.environ.get(BACKEND_ENV) else "config key 'backend'"
    raise BackendError(
        f"unknown backend {name!r} (from {source}); "
        f"known: {', '.join(available_backends()) or 'none (is irbis installed?)'}"
    )


def open_backend(name: str, config: TrapConfig, clock: Clock) -> Hardware:
    """Open the named backend's hardware. Raises BackendError naming what is missing."""
    check_backend(name)
    factory = _REGISTERED.get(name) or _entry_points()[name].load()  # type: ignore[attr-defined]
    return factory(config, clock)
