"""The few things the trap needs from hardware. Backends (`pi`, `sim`) implement them.

Rules for implementations: no hardware probing at import time; callbacks from hardware threads
only post events (they never call the controller); every wait has a timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # numpy is only needed by whoever makes or reads frames
    import numpy as np

    from device.config import TrapConfig
    from device.hal.cardio import CardIO

JPEG_ENCODE_TIMEOUT_S = 30.0  # a stuck encoder becomes an error, never a hang
MIN_POWER_SHARE, MAX_POWER_SHARE = 0.1, 1.0  # an illuminator's power share (capture.ir_power)


def checked_power_share(share: float) -> float:
    """`share` as a float, or a ValueError when it is outside 0.1-1 (capture.ir_power's range)."""
    if not MIN_POWER_SHARE <= share <= MAX_POWER_SHARE:
        raise ValueError(
            f"IR power share {share!r}: expected {MIN_POWER_SHARE:g}-{MAX_POWER_SHARE:g}"
        )
    return float(share)


@dataclass(frozen=True, slots=True)
class FrameMeta:
    """What the sensor says about one frame."""

    monotonic_s: float  # when the exposure started, on the trap's monotonic clock
    exposure_us: int
    analogue_gain: float
    lux: float
    ir_on: bool = False


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured frame: the file-quality image and the small greyscale array for triage.

    The main stream's JPEG may still be encoding when the frame is returned (a Future), so a
    burst is not held up by encodes: triage needs only `lores`, and storage waits for the bytes.
    """

    encoded: bytes | Future[bytes]  # main stream JPEG, or its encode in progress
    lores: np.ndarray  # low-resolution greyscale, uint8, shape (height, width)
    meta: FrameMeta

    @property
    def image_jpeg(self) -> bytes:
        """The JPEG bytes (waits for the encode; an encoder error is raised here)."""
        if isinstance(self.encoded, bytes):
            return self.encoded
        return self.encoded.result(timeout=JPEG_ENCODE_TIMEOUT_S)


@dataclass(frozen=True, slots=True)
class CameraSettings:
    """What the trap asks of a camera: the run config's capture keys (the base config at the
    power budget's level), handed to `Camera.reconfigure` at every boot."""

    main_size: tuple[int, int]  # (width, height) of the file-quality stream
    lores_size: tuple[int, int]  # (width, height) of the triage stream
    exposure_us: int
    analogue_gain: float
    timeout_s: float  # longest wait for one frame

    @classmethod
    def from_config(cls, config: TrapConfig) -> CameraSettings:
        return cls(
            main_size=(config["capture.main_width"], config["capture.main_height"]),
            lores_size=(config["capture.lores_width"], config["capture.lores_height"]),
            exposure_us=config["capture.exposure_us"],
            analogue_gain=float(config["capture.analogue_gain"]),
            timeout_s=float(config["capture.camera_timeout_s"]),
        )


@dataclass(frozen=True, slots=True)
class PowerReading:
    """Pack state. Fields are None when the backend cannot measure them."""

    pack_v: float | None
    pack_current_ma: float | None
    temperature_c: float | None


@runtime_checkable
class MotionSensor(Protocol):
    """A PIR. `on_motion`/`on_no_motion` callbacks may run on a hardware thread."""

    @property
    def is_active(self) -> bool: ...

    def set_callbacks(
        self, on_motion: Callable[[], None], on_no_motion: Callable[[], None]
    ) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class Camera(Protocol):
    """A still camera with a main stream (files) and a low-resolution stream (triage).

    A burst is N calls of `capture_frame` at an interval; device/capture.py owns that policy
    and the IR strobe around each exposure.
    """

    @property
    def is_started(self) -> bool: ...

    @property
    def settings(self) -> CameraSettings:
        """What the camera runs with (from its next start when changed while stopped)."""

    def reconfigure(self, settings: CameraSettings) -> None:
        """Take new settings: used from the next start; a started camera restarts with them."""

    def start(self) -> None:
        """Configure and start streaming (stored exposure, fixed focus: the first frame is fast)."""

    def stop(self) -> None: ...

    def meter(self) -> FrameMeta:
        """Metadata of the next frame without keeping it (light level before deciding on IR)."""

    def capture_frame(self, ir_on: bool) -> Frame:
        """The next frame exposed after this call. Raises CameraError or CameraTimeout."""

    def close(self) -> None: ...


@runtime_checkable
class Illuminator(Protocol):
    """The IR LEDs. The capture policy switches them on only around exposures; when on they
    run at `power_share` of their full power (the budget's IR rung lowers it)."""

    @property
    def is_on(self) -> bool: ...

    @property
    def power_share(self) -> float:
        """The share of full power (duty, 0.1-1) used while on (capture.ir_power)."""

    @power_share.setter
    def power_share(self, share: float) -> None: ...

    def on(self) -> None: ...

    def off(self) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class BlockDevice(Protocol):
    """A raw device as the probe sees it: byte offsets, whole reads and writes."""

    size_bytes: int  # the claimed size
    block_bytes: int  # the probe's unit: a power of two, at least 512

    def read_at(self, offset: int, length: int) -> bytes: ...

    def write_at(self, offset: int, data: bytes) -> None: ...

    def flush(self) -> None:
        """Make written data durable and make the next reads come from the medium."""
        ...


@runtime_checkable
class Card(Protocol):
    """The removable card the events are written to."""

    @property
    def mount_path(self) -> Path: ...

    def present(self) -> bool:
        """Is a card mounted at mount_path (not just an empty folder on the system disk)?"""

    def identity(self) -> str:
        """A stable id of the physical card (CID serial on a Pi, or the filesystem id)."""

    def block_device(self) -> BlockDevice | None:
        """The card's raw block device for the first-use capacity probe (None: cannot probe)."""

    def free_bytes(self) -> int: ...

    def capacity_bytes(self) -> int: ...


@runtime_checkable
class PowerMonitor(Protocol):
    def read(self) -> PowerReading: ...


@runtime_checkable
class SupervisorLink(Protocol):
    """The microcontroller that gates the Pi's power (device/supervisor); the Pi's end of the
    link is device/hal/supervisor_link.py."""

    @property
    def connected(self) -> bool: ...

    def wake_reason(self) -> str:
        """Why the Pi is up: 'boot' (power applied), 'pir', 'rtc', 'forced' or 'watchdog'."""

    def wake_time_utc(self) -> datetime | None:
        """When the wake source fired (the PIR edge), so latency counts the boot too."""

    def boot_pir_utc(self) -> datetime | None:
        """A PIR edge the supervisor saw while the Pi booted for another reason, or None."""

    def status(self) -> dict[str, Any] | None:
        """The supervisor's latest status (pack_mv, rest_mv, temp_c, counters, ...), or None."""

    def request_shutdown(
        self, wake_at_utc: datetime | None, reason: str, hold_off_s: float = 0.0
    ) -> None:
        """Say the Pi is halting: cut the rail after its halt, wake it at `wake_at_utc`, and
        hold PIR wakes back for `hold_off_s` (latched, not lost)."""

    def kick_watchdog(self) -> None: ...

    def on_shutdown(self, callback: Callable[[str], None]) -> None:
        """`callback(reason)` when the supervisor asks the Pi to shut down now (brown-out,
        longest awake). May run on another thread: it must only post an event."""


@dataclass
class Hardware:
    """Everything one backend opened, closed together."""

    backend: str
    motion: MotionSensor
    camera: Camera
    illuminator: Illuminator
    card: Card
    power: PowerMonitor
    link: SupervisorLink
    card_io: CardIO  # the card's filesystem (device/hal/cardio.py; the simulator's model)
    data_io: CardIO  # the Pi's own data partition (storage.data_path)
    extras: dict[str, object] = field(default_factory=dict)

    def close(self) -> None:
        for part in (self.motion, self.camera, self.illuminator):
            part.close()
