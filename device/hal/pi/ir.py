"""The IR illuminator: one GPIO that switches the LED driver."""

from __future__ import annotations

from typing import TYPE_CHECKING

from device.errors import HardwareError

if TYPE_CHECKING:
    from gpiozero import Factory


class IrIlluminator:
    """The IR LEDs on a gpiozero DigitalOutputDevice, off from the moment the pin is claimed.

    Only on/off here: the capture policy strobes the LEDs around exposures.
    """

    def __init__(self, pin: int, pin_factory: Factory) -> None:
        from gpiozero import DigitalOutputDevice

        try:
            self._device = DigitalOutputDevice(
                pin, active_high=True, initial_value=False, pin_factory=pin_factory
            )
        except Exception as exc:
            raise HardwareError(f"cannot open GPIO{pin} for the IR LEDs (pins.ir): {exc}") from exc

    @property
    def is_on(self) -> bool:
        return bool(self._device.is_active)

    def on(self) -> None:
        self._device.on()

    def off(self) -> None:
        self._device.off()

    def close(self) -> None:
        if not self._device.closed:
            self._device.off()
            self._device.close()
