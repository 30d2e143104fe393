"""The trap's energy model: the current at the pack in every state and how long each state lasts.

One place for the figures (../shared FIELD.md §3, Pi Zero 2 W with a camera module, 12 AA cells
as 6S2P, a 5 V converter about 88 % efficient). The simulator integrates these currents against
the battery model; the Pi's fuel gauge books its own states with them; the budget controller
and `irbis plan` predict with them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

PACK_NOMINAL_V = 9.0  # 6 x 1.5 V; energies "at the pack" are charge x this voltage
DAY_S = 86400.0


@dataclass(frozen=True)
class Currents:
    """Current at the pack per state, mA (standby parts in uA). Defaults: FIELD.md §3."""

    mcu_dormant_ua: float = 20.0  # supervisor MCU dormant, RTC running (estimate)
    pir_ua: float = 6.0  # low-power PIR, Panasonic EKMB class: 1-6 uA
    regulator_iq_ua: float = 3.0  # the supervisor's low-Iq regulator (estimate)
    rail_switch_leak_ua: float = 1.0  # the Pi's load switch, off (estimate)
    supervisor_awake_ma: float = 3.0  # MCU running (48 MHz) while it watches the Pi (estimate)
    boot_ma: float = 52.0  # optimised image, 3.5 s to user code
    idle_ma: float = 47.0  # Pi up (tuned), camera off
    camera_ma: float = 173.0  # camera streaming + ISP + JPEG + write, above idle (220 total)
    ir_ma: float = 550.0  # 8 x 1 W 850 nm at full power, only while strobed
    shutdown_ma: float = 47.0  # sync and halt
    halted_ma: float = 35.0  # halted but still powered: only until the supervisor cuts the rail

    @property
    def standby_ua(self) -> float:
        """Everything that draws while the Pi's rail is off (30 uA: FIELD.md's target)."""
        return self.mcu_dormant_ua + self.pir_ua + self.regulator_iq_ua + self.rail_switch_leak_ua

    @property
    def standby_ma(self) -> float:
        return self.standby_ua / 1000.0


@dataclass(frozen=True)
class Timings:
    """How long the Pi spends in each state of one event (FIELD.md §3; optimised image)."""

    boot_s: float = 3.5  # rail on to user code
    camera_start_s: float = 0.5  # stored exposure, fixed focus
    frame_s: float = 0.05  # one exposure + readout (the IR strobe lasts this long)
    work_s: float = 0.3  # triage and the commit, camera off
    shutdown_s: float = 2.5  # sync and halt


STOCK_TIMINGS = replace(Timings(), boot_s=12.0)  # stock Raspberry Pi OS (FIELD.md §3)
STOCK_BOOT_MA = 100.0  # measured 1.9 A s at 5 V over 12 s, at the pack


@dataclass(frozen=True)
class EventShape:
    """What one event does, from the trap's settings."""

    burst_frames: int = 3
    burst_interval_s: float = 0.5
    night: bool = False
    ir_power: float = 1.0  # share of the IR's full current while strobed
    ir_left_on_s: float = 0.0  # > 0: a design that leaves the IR on this long instead of strobing
    gated: bool = True  # a cold boot and a shutdown per event
    awake_after_s: float = 0.0  # Pi idle after the event (hold-off, warm window) before halting


def event_charge_mas(
    shape: EventShape, currents: Currents | None = None, timings: Timings | None = None
) -> dict[str, float]:
    """Charge (mA s) per state for one isolated event: boot, camera, IR, idle, shutdown."""
    c = currents or Currents()
    t = timings or Timings()
    camera_s = t.camera_start_s + t.frame_s * (shape.burst_frames + 1)  # + the metering frame
    camera_s += shape.burst_interval_s * (shape.burst_frames - 1)
    idle_s = t.work_s + shape.awake_after_s
    out = {"camera": camera_s * (c.idle_ma + c.camera_ma), "idle": idle_s * c.idle_ma}
    awake_s = camera_s + idle_s
    if shape.night:
        ir_s = shape.ir_left_on_s or t.frame_s * shape.burst_frames
        out["ir"] = ir_s * c.ir_ma * shape.ir_power
    if shape.gated:
        out["boot"] = t.boot_s * c.boot_ma
        out["shutdown"] = t.shutdown_s * c.shutdown_ma
        awake_s += t.boot_s + t.shutdown_s
    out["supervisor"] = awake_s * c.supervisor_awake_ma
    return out


def event_energy_j(
    shape: EventShape,
    currents: Currents | None = None,
    timings: Timings | None = None,
    pack_v: float = PACK_NOMINAL_V,
) -> float:
    """Energy at the pack for one event (J)."""
    return sum(event_charge_mas(shape, currents, timings).values()) / 1000.0 * pack_v
