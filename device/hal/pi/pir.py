"""The PIR motion sensor: one GPIO input, edge-driven."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from device.errors import HardwareError

if TYPE_CHECKING:
    from gpiozero import Factory


class PirSensor:
    """The PIR on a gpiozero DigitalInputDevice, reporting motion from the pin's edges.

    Not gpiozero's MotionSensor: that one samples the pin from a background thread (10 Hz by
    default), which keeps the CPU waking for ever and adds up to a sample period of latency, while a
    PIR module already outputs a clean, held level, so the pin factory's edge events (lgpio's alert
    thread on the Pi) are enough. The pull is down because the module drives the line.

    Neither class reports the level found when the pin is opened, so a PIR that is already high
    (the trigger that woke the trap) would be lost: `set_callbacks` reports it once itself. Motion
    and no-motion always alternate, so a race between that check and a real edge reports once.
    """

    def __init__(self, pin: int, pin_factory: Factory) -> None:
        from gpiozero import DigitalInputDevice

        try:
            self._device = DigitalInputDevice(pin, pull_up=False, pin_factory=pin_factory)
        except Exception as exc:
            raise HardwareError(f"cannot open GPIO{pin} for the PIR (pins.pir): {exc}") from exc
        self._lock = threading.Lock()
        self._reported_active = False
        self._on_motion: Callable[[], None] | None = None
        self._on_no_motion: Callable[[], None] | None = None

    @property
    def is_active(self) -> bool:
        return bool(self._device.is_active)

    def set_callbacks(
        self, on_motion: Callable[[], None], on_no_motion: Callable[[], None]
    ) -> None:
        with self._lock:
            self._on_motion = on_motion
            self._on_no_motion = on_no_motion
        self._device.when_activated = self._activated
        self._device.when_deactivated = self._deactivated
        if self._device.is_active:  # high before we listened: no edge will come for it
            self._activated()

    def close(self) -> None:
        self._device.close()  # also drops the event handlers

    def _activated(self) -> None:
        with self._lock:
            if self._reported_active or self._on_motion is None:
                return
            self._reported_active = True
            callback = self._on_motion
        callback()

    def _deactivated(self) -> None:
        with self._lock:
            if not self._reported_active or self._on_no_motion is None:
                return
            self._reported_active = False
            callback = self._on_no_motion
        callback()
