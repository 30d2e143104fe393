"""A simple energy ledger: current per state x time, at the pack's nominal voltage.

Currents are at the pack (9 V nominal, 12 x AA as 6S2P), from ../shared FIELD.md §3 (Pi Zero 2 W
with a camera module, optimised boot). The power issue replaces the fixed voltage with a battery
model; the ledger's interface stays.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from device.clock import Clock

PACK_NOMINAL_V = 9.0
PACK_NOMINAL_WH = 54.0  # 12 x L91, 6S2P: 9 V x 6 Ah

# Usable share of the pack by temperature (FIELD.md §3 estimate; linear in between).
DERATING = ((0.0, 1.0), (-10.0, 0.85), (-20.0, 0.70), (-30.0, 0.60), (-40.0, 0.50))


@dataclass(frozen=True)
class Currents:
    """Current at the pack per state, mA. Defaults: FIELD.md §3."""

    standby_ma: float = 0.030  # supervisor asleep, low-power PIR, Pi rail off (target design)
    boot_ma: float = 52.0  # optimised image, 3.5 s to user code
    idle_ma: float = 47.0  # Pi up (tuned), camera off
    camera_ma: float = 173.0  # camera streaming + ISP + JPEG + write, above idle (220 total)
    ir_ma: float = 550.0  # 8 x 1 W 850 nm, only while strobed
    shutdown_ma: float = 47.0  # sync and halt


# component -> state -> the Currents field it draws (None: nothing)
COMPONENT_STATES: dict[str, dict[str, str | None]] = {
    "supervisor": {"standby": "standby_ma"},
    "pi": {"off": None, "boot": "boot_ma", "idle": "idle_ma", "shutdown": "shutdown_ma"},
    "camera": {"off": None, "camera": "camera_ma"},
    "ir": {"off": None, "ir": "ir_ma"},
}


def usable_fraction(temperature_c: float) -> float:
    """Share of the nominal pack energy usable at this temperature."""
    if temperature_c >= DERATING[0][0]:
        return DERATING[0][1]
    for (t_hi, f_hi), (t_lo, f_lo) in itertools.pairwise(DERATING):
        if temperature_c >= t_lo:
            return f_lo + (f_hi - f_lo) * (temperature_c - t_lo) / (t_hi - t_lo)
    return DERATING[-1][1]


@dataclass
class Ledger:
    """Integrates each component's current over virtual time, booked by state."""

    clock: Clock
    currents: Currents = field(default_factory=Currents)
    pack_v: float = PACK_NOMINAL_V

    def __post_init__(self) -> None:
        self._state = {name: next(iter(states)) for name, states in COMPONENT_STATES.items()}
        self._since_s = {name: self.clock.monotonic_s() for name in COMPONENT_STATES}
        self.charge_mas: dict[str, float] = {}

    def set(self, component: str, state: str) -> None:
        if state not in COMPONENT_STATES[component]:
            raise ValueError(f"unknown state {state!r} for {component}")
        self._book(component)
        self._state[component] = state

    def state(self, component: str) -> str:
        return self._state[component]

    def _book(self, component: str) -> None:
        now_s = self.clock.monotonic_s()
        state = self._state[component]
        current = COMPONENT_STATES[component][state]
        if current is not None:
            ma = getattr(self.currents, current)
            self.charge_mas[state] = self.charge_mas.get(state, 0.0) + ma * (
                now_s - self._since_s[component]
            )
        self._since_s[component] = now_s

    def current_ma(self) -> float:
        """What the pack supplies right now."""
        total = 0.0
        for component, state in self._state.items():
            current = COMPONENT_STATES[component][state]
            if current is not None:
                total += getattr(self.currents, current)
        return total

    def close(self) -> None:
        for component in COMPONENT_STATES:
            self._book(component)

    def wh_by_state(self) -> dict[str, float]:
        return {s: mas / 1000 / 3600 * self.pack_v for s, mas in sorted(self.charge_mas.items())}
