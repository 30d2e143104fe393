"""The IR illuminator: one GPIO that switches the LED driver, pulse-width modulated for power."""

from __future__ import annotations

from typing import TYPE_CHECKING

from device.errors import HardwareError
from device.hal.interfaces import checked_power_share

if TYPE_CHECKING:
    from gpiozero import Factory

# Far above the frame rate and the exposure: a night exposure (tens of milliseconds, each row of
# the rolling shutter as long) integrates dozens of PWM cycles, so the LEDs' power share averages
# out within every row instead of banding the frame; and well inside what lgpio's software PWM
# times cleanly (it accepts up to 10 kHz, with its jitter a growing share of shorter periods).
IR_PWM_FREQUENCY_HZ = 2000


class IrIlluminator:
    """The IR LEDs on a gpiozero PWMOutputDevice, off from the moment the pin is claimed.

    On means a duty of `power_share` (capture.ir_power at the budget's level; 1.0 is fully on);
    the capture policy strobes the LEDs around exposures.
    """

    def __init__(self, pin: int, pin_factory: Factory, power_share: float = 1.0) -> None:
        from gpiozero import PWMOutputDevice

        self._power_share = checked_power_share(power_share)
        try:
            self._device = PWMOutputDevice(
                pin,
                active_high=True,
                initial_value=0.0,
                frequency=IR_PWM_FREQUENCY_HZ,
                pin_factory=pin_factory,
            )
        except Exception as exc:
            raise HardwareError(
                f"cannot open GPIO{pin} for the IR LEDs (pins.ir) with PWM: {exc}"
            ) from exc

    @property
    def is_on(self) -> bool:
        return bool(self._device.is_active)

    @property
    def power_share(self) -> float:
        return self._power_share

    @power_share.setter
    def power_share(self, share: float) -> None:
        self._power_share = checked_power_share(share)
        if self.is_on:  # takes effect at once, not only at the next exposure
            self._device.value = self._power_share

    def on(self) -> None:
        self._device.value = self._power_share

    def off(self) -> None:
        self._device.off()

    def close(self) -> None:
        if not self._device.closed:
            self._device.off()
            self._device.close()
