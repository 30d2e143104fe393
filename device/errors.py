"""One exception tree for the trap. Each subclass also inherits the matching built-in,
so callers that only know built-ins still catch the right thing (a full card is an OSError)."""

from __future__ import annotations


class TrapError(Exception):
    """Root of every error the trap raises on purpose."""


class ConfigError(TrapError, ValueError):
    """A trap.toml that cannot be used; the message names the key, the value and the expectation."""

    def __init__(self, key: str, value: object, expected: str) -> None:
        self.key = key
        self.value = value
        self.expected = expected
        super().__init__(f"config key '{key}': got {value!r}, expected {expected}")


class BackendError(TrapError, RuntimeError):
    """A hardware backend is unknown, or its packages are missing (never a silent fallback)."""


class HardwareError(TrapError, OSError):
    """A device misbehaved at run time."""


class CameraError(HardwareError):
    """The camera raised or returned an unusable frame."""


class CameraTimeout(CameraError, TimeoutError):
    """The camera did not deliver a frame in time."""


class CardError(TrapError, OSError):
    """The card is missing, read-only or failing."""
