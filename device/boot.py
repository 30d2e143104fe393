"""The one start path: a config, a clock and opened hardware become a booted trap.

`python -m device` (device/main.py) and the simulator (sim/runner.py) both call `boot_trap`;
nobody else wires storage, power, triage and the trap together. The power budget decides the
run's settings here, and the hardware is given them before the first frame: the camera's
resolution and the IR LEDs' power share are what the budget chose, not what the config file says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device.capture import Burst
from device.clock import Clock
from device.config import TrapConfig
from device.event_triage import EventTriage
from device.hal.interfaces import CameraSettings, Hardware
from device.power.manager import PowerManager
from device.storage.manager import Storage
from device.trap import Trap, TriageHook

# (burst, source, event seq): called with each burst just before triage judges it. The simulator
# notes the burst's ground truth with it (a discarded burst leaves no media on the card).
BurstObserver = Callable[[Burst, str, int], None]


@dataclass(frozen=True)
class BootedTrap:
    """A trap ready to `start()`, and the parts it was built from."""

    trap: Trap
    storage: Storage  # opened: card taken up (or the internal buffer), recovery done
    power: PowerManager  # started: standby and boot booked, today's level decided
    triage: EventTriage
    run_config: TrapConfig  # the config at the budget's level, as the hardware now runs it


def boot_trap(
    config: TrapConfig,
    clock: Clock,
    hardware: Hardware,
    observe_burst: BurstObserver | None = None,
) -> BootedTrap:
    """Open storage, start the power manager, give the hardware the run's settings, and build
    triage and the trap at them. Raises what `Storage.open` raises (CardError, OSError) when the
    internal data partition is unusable; a missing or bad card does not raise."""
    storage = Storage(config, clock, hardware.card, hardware.card_io, hardware.data_io)
    storage.open()
    data_path = Path(config["storage.data_path"])
    power = PowerManager(config, clock, data_path, hardware.data_io)
    run_config = power.start(hardware.link)
    apply_run_settings(hardware, run_config)
    # EventTriage imports the triage package (numpy) at its first burst, not here.
    triage = EventTriage(run_config, data_path, hardware.data_io)
    hook: TriageHook = triage if observe_burst is None else _observed(triage, observe_burst)
    trap = Trap(run_config, clock, hardware, storage, triage=hook, power=power)
    return BootedTrap(trap, storage, power, triage, run_config)


def apply_run_settings(hardware: Hardware, run_config: TrapConfig) -> None:
    """What the budget's level changes in the hardware: the camera's streams (resolution; a
    started camera restarts) and the IR LEDs' power share. Burst length, hold-off, warm windows
    and active hours are the trap's own policy and come with `run_config`."""
    hardware.camera.reconfigure(CameraSettings.from_config(run_config))
    hardware.illuminator.power_share = run_config["capture.ir_power"]


def _observed(triage: TriageHook, observe_burst: BurstObserver) -> TriageHook:
    def hook(burst: Burst, source: str, event_seq: int, time_utc_s: float) -> dict[str, Any]:
        observe_burst(burst, source, event_seq)
        return triage(burst, source, event_seq, time_utc_s)

    return hook
