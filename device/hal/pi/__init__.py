"""The Raspberry Pi backend: gpiozero (lgpio pins) for the PIR and IR, picamera2 for the camera.

Importing this package touches no hardware and imports nothing Pi-only; `open_hardware` does, and
every missing piece is a BackendError that says what to install.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from device.errors import BackendError
from device.hal.cardio import OS_IO
from device.hal.interfaces import CameraSettings, Hardware, SupervisorLink
from device.hal.pi.camera import PiCamera
from device.hal.pi.card import SdCard
from device.hal.pi.ir import IrIlluminator
from device.hal.pi.link import NoSupervisor
from device.hal.pi.pir import PirSensor
from device.hal.pi.power import PiPowerMonitor
from device.hal.pi.uart import SerialPort
from device.hal.supervisor_link import SupervisorClient

if TYPE_CHECKING:
    from gpiozero import Factory

    from device.clock import Clock
    from device.config import TrapConfig

__all__ = [
    "IrIlluminator",
    "NoSupervisor",
    "PiCamera",
    "PiPowerMonitor",
    "PirSensor",
    "SdCard",
    "open_hardware",
]

log = logging.getLogger("irbis.hal")

_INSTALL_LGPIO = (
    "install it with `pip install 'irbis[pi]'`, or `sudo apt install python3-lgpio` "
    "(then use a venv made with --system-site-packages)"
)


def open_hardware(config: TrapConfig, clock: Clock, pin_factory: Factory | None = None) -> Hardware:
    """Open the Pi's camera, PIR, IR LEDs, card and thermal sensor for `config`.

    The camera and the LEDs start with `config`'s capture settings; the one start path
    (device/boot.py) gives them the run's settings at the power budget's level before the first
    frame (`Camera.reconfigure`, `Illuminator.power_share`).

    `pin_factory` is for tests (gpiozero's MockFactory); on the Pi it is gpiozero's lgpio factory,
    chosen explicitly, never by gpiozero's fallback. Hardware.close does not close the factory: it
    is in `extras["pin_factory"]` for the caller to close on exit. In gated mode the supervisor's
    link (gated.uart) is opened last and waits up to gated.hello_timeout_s for its hello.
    """
    camera = PiCamera(CameraSettings.from_config(config))  # first: fails before any pin is claimed
    factory = pin_factory if pin_factory is not None else lgpio_factory()
    opened: list[PirSensor | IrIlluminator] = []
    try:
        motion = PirSensor(config["pins.pir"], factory)
        opened.append(motion)
        illuminator = IrIlluminator(config["pins.ir"], factory, config["capture.ir_power"])
    except Exception:
        for part in opened:
            part.close()
        if pin_factory is None:
            factory.close()
        raise
    link: SupervisorLink = NoSupervisor()
    if config.mode == "gated":
        # A supervisor that does not answer is logged and the trap runs always-on (trap.py).
        client = SupervisorClient(SerialPort(config["gated.uart"]), clock, config)
        if client.open():
            adopt_supervisor_time(client)
        link = client
    return Hardware(
        backend="pi",
        motion=motion,
        camera=camera,
        illuminator=illuminator,
        card=SdCard(Path(config["storage.card_path"])),
        power=PiPowerMonitor(link=link),
        link=link,
        card_io=OS_IO,
        data_io=OS_IO,
        extras={"pin_factory": factory},
    )


def lgpio_factory() -> Factory:
    """gpiozero's lgpio pin factory (every Pi, the Pi 5 included), or a BackendError."""
    try:
        from gpiozero.pins.lgpio import LGPIOFactory
    except ImportError as exc:
        raise BackendError(
            f"the pi backend needs the 'lgpio' package for its GPIO pins ({exc}); {_INSTALL_LGPIO}"
        ) from exc
    try:
        return LGPIOFactory()
    except Exception as exc:  # lgpio.error or OSError: no /dev/gpiochip*, or no permission on it
        raise BackendError(
            f"lgpio could not open the GPIO chip ({exc}): is this a Raspberry Pi, and may this "
            "user open /dev/gpiochip* (group 'gpio')?"
        ) from exc


CLOCK_TOLERANCE_S = 2.0


def adopt_supervisor_time(client: SupervisorClient) -> float:
    """Set the Pi's system clock from the supervisor's RTC when that was set and they differ
    (a Pi Zero has no clock of its own and, in the field, no network). Returns the step in
    seconds (0: none). Needs CAP_SYS_TIME; without it the step is logged and not taken."""
    hello, at = client.hello, client.hello_at_utc
    if not hello or not hello.get("rtc_set") or at is None:
        return 0.0
    rtc_s = hello.get("rtc_s")
    if not isinstance(rtc_s, int) or isinstance(rtc_s, bool):
        return 0.0
    step_s = rtc_s - at.timestamp()
    if abs(step_s) <= CLOCK_TOLERANCE_S:
        return 0.0
    try:
        time.clock_settime(time.CLOCK_REALTIME, time.time() + step_s)
    except OSError as exc:
        log.error(
            "cannot set the system clock from the supervisor",
            extra={"record": {"step_s": round(step_s, 3), "error": str(exc)}},
        )
        return 0.0
    log.warning("system clock set from the supervisor", extra={"record": {"step_s": step_s}})
    return step_s
