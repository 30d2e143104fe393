"""The Pi's fuel gauge: a one-state Kalman filter on the pack's state of charge that fuses the
energy ledger (charge the model says was used) with the supervisor's pack voltage at rest.
Pure logic: the caller books charge, passes readings and temperatures, and persists `to_dict()`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from device.power.battery import Battery, PackSpec

MODEL_ERROR = 0.15  # share: the energy model's currents are estimates (FIELD.md §3)
SIGMA_V = 0.05  # rest-voltage reading noise at the pack, V (ADC + divider; estimate)
SLOPE_STEP_SOC = 0.01  # half-width of the numerical dV/dsoc
IMPOSSIBLE_ABOVE_FULL_V = 1.0  # a reading this far above the full pack's OCV is not a reading


@dataclass
class FuelGauge:
    """State of charge as a share of the pack's nominal charge, with its variance."""

    spec: PackSpec
    soc: float = 1.0
    variance: float = 0.0
    model_error: float = MODEL_ERROR
    sigma_v: float = SIGMA_V
    readings_used: int = 0
    rejected_readings: int = 0
    booked_mas: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.soc <= 1.0:
            raise ValueError(f"soc must be in [0, 1], got {self.soc}")
        if not self.variance >= 0.0:
            raise ValueError(f"variance must be >= 0, got {self.variance}")

    @property
    def sigma_soc(self) -> float:
        return math.sqrt(self.variance)

    def book(self, charge_mas: float) -> None:
        """Take charge the ledger booked (mA s at the pack) off the estimate."""
        if not charge_mas >= 0.0 or math.isinf(charge_mas):
            raise ValueError(f"charge_mas must be finite and >= 0, got {charge_mas}")
        delta_soc = charge_mas / 3600.0 / self.spec.nominal_mah
        self.soc = max(0.0, self.soc - delta_soc)
        # The model's error is a bias (its currents are off by the same share every time), so the
        # standard deviation grows with the charge booked, whatever the size of the bookings:
        # from 0 one booking adds (model_error x delta_soc)^2; a thousand small ones add as much.
        self.variance = (self.sigma_soc + self.model_error * delta_soc) ** 2
        self.booked_mas += charge_mas

    def observe_rest_voltage(self, pack_v: float, temp_c: float) -> bool:
        """Fuse one pack voltage read at rest (Pi rail off). False if the reading was not used:
        impossible (counted in `rejected_readings`) or uninformative (no usable charge now)."""
        if not self._plausible(pack_v) or math.isnan(temp_c):
            self.rejected_readings += 1
            return False
        usable = self.spec.usable_fraction(temp_c)
        if usable <= 0.0:
            return False
        accessible = self.spec.soc_from_ocv(pack_v)
        measured_soc = 1.0 - (1.0 - accessible) * usable
        slope_v = self._ocv_slope_v(accessible) / usable  # dV per unit of nominal soc
        self._update(measured_soc, (self.sigma_v / slope_v) ** 2)
        self.readings_used += 1
        return True

    def _plausible(self, pack_v: float) -> bool:
        max_v = self.spec.ocv_v(1.0) + IMPOSSIBLE_ABOVE_FULL_V
        return not math.isnan(pack_v) and 0.0 < pack_v <= max_v

    def _ocv_slope_v(self, accessible_soc: float) -> float:
        lo = max(0.0, accessible_soc - SLOPE_STEP_SOC)
        hi = min(1.0, accessible_soc + SLOPE_STEP_SOC)
        return (self.spec.ocv_v(hi) - self.spec.ocv_v(lo)) / (hi - lo)

    def _update(self, measured_soc: float, measurement_variance: float) -> None:
        total = self.variance + measurement_variance
        gain = self.variance / total if total > 0.0 else 0.0
        self.soc = min(1.0, max(0.0, self.soc + gain * (measured_soc - self.soc)))
        self.variance = (1.0 - gain) * self.variance

    def remaining_usable_wh(self, temp_c: float) -> float:
        """Energy still reachable at this temperature (the battery model's open-circuit bound)."""
        return Battery(self.spec, self.soc).usable_remaining_wh(temp_c)

    def projected_days(self, daily_j: float, temp_c: float) -> float | None:
        """Days until empty at this daily use and temperature; None without a positive use."""
        if not daily_j > 0.0:
            return None
        return self.remaining_usable_wh(temp_c) * 3600.0 / daily_j

    def to_dict(self) -> dict[str, Any]:
        return {
            "chemistry": self.spec.chemistry.name,
            "series": self.spec.series,
            "parallel": self.spec.parallel,
            "soc": self.soc,
            "variance": self.variance,
            "model_error": self.model_error,
            "sigma_v": self.sigma_v,
            "readings_used": self.readings_used,
            "rejected_readings": self.rejected_readings,
            "booked_mas": self.booked_mas,
        }

    @classmethod
    def from_dict(cls, data: Any) -> FuelGauge:
        """Rebuild a persisted gauge; ValueError naming the field for anything corrupt."""
        if not isinstance(data, dict):
            raise ValueError(f"gauge state: expected an object, got {type(data).__name__}")
        try:
            spec = PackSpec.from_name(
                _field(data, "chemistry", str),
                _count(data, "series", minimum=1),
                _count(data, "parallel", minimum=1),
            )
        except ValueError as exc:
            if "gauge state" in str(exc):
                raise
            raise ValueError(f"gauge state: field 'chemistry': {exc}") from None
        return cls(
            spec,
            soc=_number(data, "soc", 0.0, 1.0),
            variance=_number(data, "variance", 0.0),
            model_error=_number(data, "model_error", 0.0),
            sigma_v=_number(data, "sigma_v", 0.0, exclusive_min=True),
            readings_used=_count(data, "readings_used"),
            rejected_readings=_count(data, "rejected_readings"),
            booked_mas=_number(data, "booked_mas", 0.0),
        )


def _field(data: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in data:
        raise ValueError(f"gauge state: field {name!r} is missing")
    value = data[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        expected = " or ".join(k.__name__ for k in kinds)
        raise ValueError(f"gauge state: field {name!r}: expected {expected}, got {value!r}")
    return value


def _count(data: dict[str, Any], name: str, minimum: int = 0) -> int:
    value = _field(data, name, int)
    if value < minimum:
        raise ValueError(f"gauge state: field {name!r}: expected an integer >= {minimum}")
    return value


def _number(
    data: dict[str, Any],
    name: str,
    lo: float,
    hi: float = math.inf,
    exclusive_min: bool = False,
) -> float:
    value = _field(data, name, (int, float))
    ok = math.isfinite(value) and (value > lo if exclusive_min else value >= lo) and value <= hi
    if not ok:
        raise ValueError(f"gauge state: field {name!r}: got {value!r}, out of range")
    return float(value)
