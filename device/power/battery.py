"""Battery model for the trap's AA pack: open-circuit voltage by state of charge, internal
resistance and usable capacity by temperature, self-discharge. The simulator uses it as the
pack's true state; on the Pi the fuel gauge inverts it to turn a voltage back into charge.

Pure Python and allocation-light: `Battery.draw` runs tens of thousands of times a simulated year.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

SECONDS_PER_YEAR = 365.25 * 24 * 3600
SELF_DISCHARGE_REF_C = 20.0  # self-discharge rates below are quoted at 20 C
SELF_DISCHARGE_DOUBLING_C = 10.0  # rate doubles per +10 C (Arrhenius-like rule of thumb; estimate)

Table = Sequence[tuple[float, float]]


def interpolate(table: Table, x: float) -> float:
    """Piecewise-linear y at x from (x, y) points sorted by x, ascending or descending.

    Clamped: outside the table it returns the y of the nearer end.
    """
    if not table:
        raise ValueError("interpolate: empty table")
    if x != x:  # NaN
        raise ValueError("interpolate: x is NaN")
    x_first, y_first = table[0]
    x_last, y_last = table[-1]
    if x_first <= x_last:  # ascending
        if x <= x_first:
            return y_first
        if x >= x_last:
            return y_last
        x0, y0 = x_first, y_first
        for i in range(1, len(table)):
            x1, y1 = table[i]
            if x <= x1:
                return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
            x0, y0 = x1, y1
    else:  # descending
        if x >= x_first:
            return y_first
        if x <= x_last:
            return y_last
        x0, y0 = x_first, y_first
        for i in range(1, len(table)):
            x1, y1 = table[i]
            if x >= x1:
                return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
            x0, y0 = x1, y1
    return y_last  # unreachable for a sorted table


def _mean_y(table: Table, x_lo: float, x_hi: float) -> float:
    """Mean of the piecewise-linear function over [x_lo, x_hi] (table ascending in x)."""
    if x_hi <= x_lo:
        return interpolate(table, x_lo)
    xs = [x_lo, *(x for x, _ in table if x_lo < x < x_hi), x_hi]
    area = 0.0
    y0 = interpolate(table, xs[0])
    for a, b in itertools.pairwise(xs):
        y1 = interpolate(table, b)
        area += (y0 + y1) / 2 * (b - a)
        y0 = y1
    return area / (x_hi - x_lo)


def _strictly(table: Table, what: str, ascending: bool, col: int) -> None:
    values = [row[col] for row in table]
    pairs = itertools.pairwise(values)
    ok = all((b > a) if ascending else (b < a) for a, b in pairs)
    if not table or not ok:
        order = "ascending" if ascending else "descending"
        raise ValueError(f"{what}: must be non-empty and strictly {order}, got {table!r}")


@dataclass(frozen=True)
class Chemistry:
    """Per-cell figures for one AA chemistry."""

    name: str  # "L91", "alkaline", "NiMH"
    cell_mah: float  # per cell at +20 C
    ocv_per_cell: tuple[tuple[float, float], ...]  # (soc 0..1, open-circuit V/cell), soc ascending
    r_per_cell_20c_ohm: float
    r_factor_by_temp: tuple[tuple[float, float], ...]  # (temp_c, x the 20 C R), temp descending
    usable_by_temp: tuple[tuple[float, float], ...]  # (temp_c, usable share), temp descending
    self_discharge_per_year: float  # share of capacity lost per year at 20 C
    rated_min_c: float

    def __post_init__(self) -> None:
        _strictly(self.ocv_per_cell, f"{self.name} ocv_per_cell soc", ascending=True, col=0)
        # Strictly rising voltage keeps soc_from_ocv a true inverse.
        _strictly(self.ocv_per_cell, f"{self.name} ocv_per_cell volts", ascending=True, col=1)
        if self.ocv_per_cell[0][0] != 0.0 or self.ocv_per_cell[-1][0] != 1.0:
            raise ValueError(f"{self.name} ocv_per_cell: soc must run from 0 to 1")
        _strictly(self.r_factor_by_temp, f"{self.name} r_factor_by_temp", ascending=False, col=0)
        _strictly(self.usable_by_temp, f"{self.name} usable_by_temp", ascending=False, col=0)
        if self.cell_mah <= 0 or self.r_per_cell_20c_ohm < 0 or self.self_discharge_per_year < 0:
            raise ValueError(f"{self.name}: capacity, resistance and self-discharge must be >= 0")


# Energizer L91 class lithium/FeS2 AA. Capacity at pulse loads, usable-by-temperature and the
# -40..+60 C rating: FIELD.md §3. OCV curve and resistance: datasheet class, shape estimated.
L91 = Chemistry(
    name="L91",
    cell_mah=3000.0,  # FIELD.md §3 (6 Ah for 2 in parallel at pulse loads)
    ocv_per_cell=(  # ~1.80 V fresh, flat 1.5-1.6 V plateau, steep last ~10 % (datasheet class)
        (0.00, 1.00),
        (0.05, 1.12),  # estimate: the knee, where a cold pack stops carrying a capture
        (0.10, 1.38),  # estimate
        (0.20, 1.48),  # estimate
        (0.50, 1.53),  # estimate; x6 = 9.18 V nominal, 55 Wh (FIELD.md §3: ~54 Wh)
        (0.80, 1.57),  # estimate
        (0.95, 1.62),  # estimate
        (1.00, 1.80),  # datasheet class: fresh open-circuit voltage
    ),
    r_per_cell_20c_ohm=0.12,  # datasheet class (~0.12 ohm at +20 C)
    r_factor_by_temp=(  # estimate: x2 at -20 C, x4-5 at -40 C
        (60.0, 0.8),
        (20.0, 1.0),
        (0.0, 1.4),
        (-20.0, 2.0),
        (-30.0, 3.0),
        (-40.0, 4.5),
    ),
    usable_by_temp=(  # FIELD.md §3 estimate; 50 % at -40 C and below
        (0.0, 1.00),
        (-10.0, 0.85),
        (-20.0, 0.70),
        (-30.0, 0.60),
        (-40.0, 0.50),
    ),
    self_discharge_per_year=0.01,  # datasheet class (~1 %/year)
    rated_min_c=-40.0,  # datasheet class (-40..+60 C)
)

# Alkaline AA (Energizer E91 class), low drain. Capacity loss in the cold: FIELD.md §3
# ("more than half at 0 C"); the rest: datasheet class, estimated where marked.
ALKALINE = Chemistry(
    name="alkaline",
    cell_mah=2500.0,  # datasheet class, low drain (falls sharply at high drain)
    ocv_per_cell=(  # datasheet class: ~1.6 V fresh, sloping, ~1.0 V empty; shape estimate
        (0.00, 1.00),
        (0.10, 1.12),
        (0.30, 1.22),
        (0.50, 1.30),  # x6 = 7.8 V nominal
        (0.70, 1.38),
        (0.90, 1.48),
        (1.00, 1.60),
    ),
    r_per_cell_20c_ohm=0.20,  # datasheet class: 0.15-0.3 ohm at 20 C
    r_factor_by_temp=(  # estimate: rises steeply in the cold
        (55.0, 0.8),
        (20.0, 1.0),
        (0.0, 2.0),
        (-10.0, 3.5),
        (-20.0, 6.0),
        (-30.0, 10.0),
    ),
    usable_by_temp=(  # estimate: ~45 % at 0 C, ~20 % at -20 C, ~5 % at -30 C
        (20.0, 1.00),
        (0.0, 0.45),
        (-20.0, 0.20),
        (-30.0, 0.05),
        (-40.0, 0.00),
    ),
    self_discharge_per_year=0.03,  # datasheet class (~3 %/year)
    rated_min_c=-18.0,  # datasheet class (E91: -18..+55 C)
)

# Low-self-discharge NiMH AA (eneloop class). Rating and self-discharge: FIELD.md §3; the rest:
# datasheet class, estimated where marked.
NIMH = Chemistry(
    name="NiMH",
    cell_mah=2000.0,  # datasheet class (LSD AA, 2000 mAh min)
    ocv_per_cell=(  # datasheet class: ~1.40 V full, flat middle, ~1.10 V empty; shape estimate
        (0.00, 1.10),
        (0.05, 1.18),
        (0.10, 1.22),
        (0.20, 1.25),
        (0.50, 1.28),  # x6 = 7.68 V nominal
        (0.80, 1.31),
        (0.90, 1.34),
        (0.95, 1.37),
        (1.00, 1.40),
    ),
    r_per_cell_20c_ohm=0.04,  # datasheet class (~0.04 ohm at 20 C)
    r_factor_by_temp=(  # estimate
        (45.0, 0.9),
        (20.0, 1.0),
        (0.0, 1.8),
        (-10.0, 2.5),
        (-20.0, 4.0),
        (-30.0, 6.0),
    ),
    usable_by_temp=(  # estimate: 100 % >= 0 C, ~85 % at -10 C, ~60 % at -20 C, ~0 at -30 C
        (0.0, 1.00),
        (-10.0, 0.85),
        (-20.0, 0.60),
        (-30.0, 0.00),
    ),
    self_discharge_per_year=0.15,  # FIELD.md §3 (LSD cells, ~15 %/year)
    rated_min_c=-20.0,  # FIELD.md §3 (-10/-20 C)
)

CHEMISTRIES: dict[str, Chemistry] = {c.name: c for c in (L91, ALKALINE, NIMH)}


@dataclass(frozen=True)
class PackSpec:
    """A pack of identical cells: `series` in a string, `parallel` strings (reference: 6S2P)."""

    chemistry: Chemistry
    series: int = 6
    parallel: int = 2

    def __post_init__(self) -> None:
        if self.series < 1 or self.parallel < 1:
            raise ValueError(
                f"pack needs series >= 1 and parallel >= 1, got series={self.series}, "
                f"parallel={self.parallel}"
            )

    @classmethod
    def from_name(cls, chemistry: str, series: int = 6, parallel: int = 2) -> PackSpec:
        """The pack for a chemistry named in config (case-insensitive)."""
        by_lower = {name.lower(): chem for name, chem in CHEMISTRIES.items()}
        chem = by_lower.get(chemistry.strip().lower())
        if chem is None:
            known = ", ".join(CHEMISTRIES)
            raise ValueError(f"unknown battery chemistry {chemistry!r}; known: {known}")
        return cls(chem, series, parallel)

    @property
    def nominal_mah(self) -> float:
        return self.chemistry.cell_mah * self.parallel

    @property
    def nominal_v(self) -> float:
        return self.series * interpolate(self.chemistry.ocv_per_cell, 0.5)

    @property
    def nominal_wh(self) -> float:
        return self.nominal_v * self.nominal_mah / 1000.0

    def usable_fraction(self, temp_c: float) -> float:
        """Share of the nominal capacity reachable at this temperature."""
        return interpolate(self.chemistry.usable_by_temp, temp_c)

    def r_internal_ohm(self, temp_c: float) -> float:
        factor = interpolate(self.chemistry.r_factor_by_temp, temp_c)
        return self.series * self.chemistry.r_per_cell_20c_ohm * factor / self.parallel

    def ocv_v(self, soc: float) -> float:
        """Open-circuit pack voltage at a state of charge (clamped to 0..1)."""
        return self.series * interpolate(self.chemistry.ocv_per_cell, soc)

    def soc_from_ocv(self, ocv_v: float) -> float:
        """Inverse of `ocv_v`, clamped to 0..1 outside the table's voltages."""
        return interpolate(self._soc_by_volts, ocv_v / self.series)

    @cached_property
    def _soc_by_volts(self) -> tuple[tuple[float, float], ...]:
        return tuple((v, s) for s, v in self.chemistry.ocv_per_cell)

    def mean_ocv_v(self, soc_lo: float, soc_hi: float) -> float:
        """Mean open-circuit pack voltage over a state-of-charge range."""
        lo = min(max(soc_lo, 0.0), 1.0)
        hi = min(max(soc_hi, 0.0), 1.0)
        return self.series * _mean_y(self.chemistry.ocv_per_cell, lo, hi)


class Battery:
    """The pack's true state in the simulator (and the model the gauge inverts on the Pi).

    `drawn_mah` is all charge gone since full: taken by loads plus self-discharge. Cold does not
    destroy charge; it makes part of it unreachable (`accessible_soc`), and warming returns it.
    """

    __slots__ = (
        "_nominal_mah",
        "_ocv_table",
        "_series",
        "drawn_mah",
        "self_discharged_mah",
        "spec",
    )

    def __init__(self, spec: PackSpec, soc: float = 1.0) -> None:
        if not 0.0 <= soc <= 1.0:
            raise ValueError(f"soc must be in [0, 1], got {soc}")
        self.spec = spec
        self._nominal_mah = spec.nominal_mah
        self._series = spec.series
        self._ocv_table = spec.chemistry.ocv_per_cell
        self.drawn_mah = (1.0 - soc) * self._nominal_mah
        self.self_discharged_mah = 0.0

    def __repr__(self) -> str:
        return (
            f"Battery({self.spec.chemistry.name} {self.spec.series}S{self.spec.parallel}P, "
            f"soc={self.soc:.4f}, drawn_mah={self.drawn_mah:.1f})"
        )

    @property
    def soc(self) -> float:
        """State of charge of the nominal capacity, 0..1."""
        return max(0.0, 1.0 - self.drawn_mah / self._nominal_mah)

    def accessible_soc(self, temp_c: float) -> float:
        """State of charge of what is reachable at this temperature: the one the voltage follows."""
        usable_mah = self._nominal_mah * self.spec.usable_fraction(temp_c)
        if usable_mah <= 0.0:
            return 0.0
        return max(0.0, 1.0 - self.drawn_mah / usable_mah)

    def open_circuit_v(self, temp_c: float) -> float:
        return self._series * interpolate(self._ocv_table, self.accessible_soc(temp_c))

    def terminal_v(self, current_ma: float, temp_c: float) -> float:
        """Loaded voltage: OCV minus the I*R sag at this temperature, never below 0."""
        if not current_ma >= 0.0:
            raise ValueError(f"current_ma must be >= 0, got {current_ma}")
        sag_v = current_ma / 1000.0 * self.spec.r_internal_ohm(temp_c)
        return max(0.0, self.open_circuit_v(temp_c) - sag_v)

    def draw(self, current_ma: float, duration_s: float, temp_c: float) -> float:
        """Take current x duration out of the pack; return the energy delivered, Wh.

        Energy uses the mean of the terminal voltage at the start and end of the step, so keep
        steps short where the voltage moves (the knee). Charge keeps counting past empty: the
        caller decides when the pack is flat (`is_empty`).
        """
        if not current_ma >= 0.0:
            raise ValueError(f"current_ma must be >= 0, got {current_ma}")
        if not duration_s >= 0.0:
            raise ValueError(f"duration_s must be >= 0, got {duration_s}")
        if current_ma == 0.0 or duration_s == 0.0:
            return 0.0
        spec = self.spec
        usable_mah = self._nominal_mah * spec.usable_fraction(temp_c)
        sag_v = current_ma / 1000.0 * spec.r_internal_ohm(temp_c)
        mah = current_ma * duration_s / 3600.0
        v_start = self._loaded_v(usable_mah, sag_v)
        self.drawn_mah += mah
        v_end = self._loaded_v(usable_mah, sag_v)
        return (v_start + v_end) / 2.0 * mah / 1000.0

    def _loaded_v(self, usable_mah: float, sag_v: float) -> float:
        acc = max(0.0, 1.0 - self.drawn_mah / usable_mah) if usable_mah > 0.0 else 0.0
        return max(0.0, self._series * interpolate(self._ocv_table, acc) - sag_v)

    def self_discharge(self, duration_s: float, temp_c: float) -> None:
        """Lose charge on the shelf: the chemistry's yearly rate, doubling per +10 C above 20 C
        and halving per -10 C below (rule of thumb; estimate). Stops at empty."""
        if not duration_s >= 0.0:
            raise ValueError(f"duration_s must be >= 0, got {duration_s}")
        rate = self.spec.chemistry.self_discharge_per_year
        factor = math.pow(2.0, (temp_c - SELF_DISCHARGE_REF_C) / SELF_DISCHARGE_DOUBLING_C)
        lost_mah = rate * self._nominal_mah * duration_s / SECONDS_PER_YEAR * factor
        lost_mah = min(lost_mah, max(0.0, self._nominal_mah - self.drawn_mah))
        self.drawn_mah += lost_mah
        self.self_discharged_mah += lost_mah

    def usable_remaining_mah(self, temp_c: float) -> float:
        return max(0.0, self._nominal_mah * self.spec.usable_fraction(temp_c) - self.drawn_mah)

    def usable_remaining_wh(self, temp_c: float) -> float:
        """Energy still reachable at this temperature, at open circuit: the remaining mAh times the
        mean OCV over the accessible state of charge still ahead (0..accessible_soc). An upper
        bound: I*R losses at the actual loads come off it."""
        remaining_mah = self.usable_remaining_mah(temp_c)
        if remaining_mah <= 0.0:
            return 0.0
        mean_v = self.spec.mean_ocv_v(0.0, self.accessible_soc(temp_c))
        return remaining_mah * mean_v / 1000.0

    def is_empty(self, temp_c: float, current_ma: float, floor_v: float) -> bool:
        """True when this current at this temperature would pull the pack under `floor_v`."""
        return self.terminal_v(current_ma, temp_c) < floor_v
