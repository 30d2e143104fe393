"""The energy ledger: each component's current (device/power/energy_model.py) over virtual time,
drawn from the battery model (device/power/battery.py) at the enclosure's temperature, and booked
by state. The pack's voltage under the present load is what the supervisor's ADC reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from device.clock import Clock
from device.power.battery import Battery
from device.power.energy_model import Currents

SELF_DISCHARGE_STEP_S = 3600.0  # the ledger books at least this often (temperature, self-discharge)

# component -> state -> the Currents attribute it draws (None: nothing)
COMPONENT_STATES: dict[str, dict[str, str | None]] = {
    "supervisor": {"standby": "standby_ma", "supervisor": "supervisor_awake_ma"},
    "pi": {
        "off": None,
        "boot": "boot_ma",
        "idle": "idle_ma",
        "shutdown": "shutdown_ma",
        "halted": "halted_ma",
    },
    "camera": {"off": None, "camera": "camera_ma"},
    "ir": {"off": None, "ir": "ir_ma"},
}


@dataclass
class Ledger:
    """Integrates the bench's current over virtual time; books charge and energy by state."""

    clock: Clock
    battery: Battery
    temperature_c: Callable[[], float]
    currents: Currents = field(default_factory=Currents)

    def __post_init__(self) -> None:
        self._state = {name: next(iter(states)) for name, states in COMPONENT_STATES.items()}
        self._scale = {name: 1.0 for name in COMPONENT_STATES}
        self._since_s = self.clock.monotonic_s()
        self.charge_mas: dict[str, float] = {}
        self.energy_wh: dict[str, float] = {}
        self.clock.call_every(SELF_DISCHARGE_STEP_S, self.book)

    def set(self, component: str, state: str, scale: float = 1.0) -> None:
        """Switch a component's state (`scale`: a share of that state's current, e.g. IR power)."""
        if state not in COMPONENT_STATES[component]:
            raise ValueError(f"unknown state {state!r} for {component}")
        self.book()
        self._state[component] = state
        self._scale[component] = scale

    def state(self, component: str) -> str:
        return self._state[component]

    def _draws(self) -> list[tuple[str, float]]:
        out = []
        for component, state in self._state.items():
            current = COMPONENT_STATES[component][state]
            if current is not None:
                out.append((state, getattr(self.currents, current) * self._scale[component]))
        return out

    def current_ma(self) -> float:
        """What the pack supplies right now."""
        return sum(ma for _, ma in self._draws())

    def pack_v(self) -> float:
        """The pack's terminal voltage under the present load."""
        return self.battery.terminal_v(self.current_ma(), self.temperature_c())

    def book(self) -> None:
        """Draw what flowed since the last booking from the battery, booked by state."""
        now_s = self.clock.monotonic_s()
        dt_s = now_s - self._since_s
        if dt_s <= 0:
            return
        self._since_s = now_s
        draws = self._draws()
        total_ma = sum(ma for _, ma in draws)
        temp_c = self.temperature_c()
        wh = self.battery.draw(total_ma, dt_s, temp_c)
        self.battery.self_discharge(dt_s, temp_c)
        for state, ma in draws:
            self.charge_mas[state] = self.charge_mas.get(state, 0.0) + ma * dt_s
            share = ma / total_ma if total_ma else 0.0
            self.energy_wh[state] = self.energy_wh.get(state, 0.0) + wh * share

    def close(self) -> None:
        self.book()

    def wh_by_state(self) -> dict[str, float]:
        return dict(sorted(self.energy_wh.items()))
