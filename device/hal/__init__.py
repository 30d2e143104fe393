"""The hardware seam: small interfaces (interfaces.py) and backends chosen by name (registry.py)."""

from device.hal.interfaces import (
    Camera,
    Card,
    Frame,
    FrameMeta,
    Hardware,
    Illuminator,
    MotionSensor,
    PowerMonitor,
    PowerReading,
    SupervisorLink,
)
from device.hal.registry import BACKEND_ENV, available_backends, open_backend, register_backend

__all__ = [
    "BACKEND_ENV",
    "Camera",
    "Card",
    "Frame",
    "FrameMeta",
    "Hardware",
    "Illuminator",
    "MotionSensor",
    "PowerMonitor",
    "PowerReading",
    "SupervisorLink",
    "available_backends",
    "open_backend",
    "register_backend",
]
