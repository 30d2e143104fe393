"""The power side of one boot: the fuel gauge and the activity counts come back from the data
partition, the standby before this boot and the boot itself are booked, the supervisor's rest
voltage is fused, and the budget controller's level for today gives the run's config (which
device/boot.py hands to the hardware). Every stored event and the halt book their energy at the
run's settings and save the state (atomically).
"""

from __future__ import annotations

import json
import logging
import math
from datetime import datetime
from pathlib import Path
from typing import Any

from device.clock import Clock
from device.config import TrapConfig
from device.hal.cardio import CardIO
from device.hal.interfaces import SupervisorLink
from device.power.budget import (
    BudgetController,
    Decision,
    apply,
    currents_for,
    pack_for,
    timings_for,
)
from device.power.gauge import FuelGauge
from device.power.usage import UsageTracker
from device.storage.atomic import make_dirs_durable, write_atomic

log = logging.getLogger("irbis.power")

STATE_FILE = Path("irbis") / "power.json"
STATE_VERSION = 1
TEMP_SMOOTHING = 0.2  # weight of each boot's temperature in the running estimate


class PowerManager:
    """One per boot. `start()` gives the config to run with; `event_stored()` and `stop()` book
    what the model says the trap used at that config, so the gauge knows it at the next boot."""

    def __init__(self, config: TrapConfig, clock: Clock, data_path: Path, io: CardIO):
        self.base = config
        self.run_config = config  # the base at the budget's level, from start()
        self.clock = clock
        self.data_path = data_path
        self.path = data_path / STATE_FILE
        self._dir_ready = False
        self.io = io
        self.currents = currents_for(config)
        self.timings = timings_for(config)
        self.gauge = FuelGauge(pack_for(config))
        self.usage = UsageTracker()
        self.level = 0
        self.temp_c: float | None = None
        self.last_halt_utc: datetime | None = None
        self.decision: Decision | None = None
        self.faults: list[str] = []
        self._awake_since_s = clock.monotonic_s()
        self._last_event_end_s: float | None = None

    # -- boot -----------------------------------------------------------------------------------
    def start(self, link: SupervisorLink) -> TrapConfig:
        """Book the standby and the boot, fuse the rest voltage, decide today's level."""
        self._load()
        now = self.clock.now_utc()
        c, t = self.currents, self.timings
        if self.last_halt_utc is not None and now > self.last_halt_utc:
            self.gauge.book((now - self.last_halt_utc).total_seconds() * c.standby_ma)
        if self.base.mode == "gated" and link.connected:
            self.gauge.book(t.boot_s * (c.boot_ma + c.supervisor_awake_ma))
        status = link.status() or {}
        temp = _number(status.get("temp_c"))
        if temp is not None:
            old = self.temp_c
            self.temp_c = temp if old is None else old + TEMP_SMOOTHING * (temp - old)
        rest_mv = _number(status.get("rest_mv"))
        if rest_mv is not None and temp is not None:
            self.gauge.observe_rest_voltage(rest_mv / 1000.0, temp)
        self.decision = self._decide()
        self._save()
        self.run_config = apply(self.base, self.decision)
        return self.run_config

    def _decide(self) -> Decision:
        now_local = self.clock.now_local()
        controller = BudgetController(self.base)
        temp_c = self.temp_c if self.temp_c is not None else 20.0
        decision = controller.decide(
            now_local.date(),
            self.gauge.remaining_usable_wh(temp_c),
            self.usage.rates(now_local),
            self.level,
        )
        target = self.base.target_end
        if target is not None and target < now_local.date() and self.base["power.budget"]:
            self.faults.append("target_end_in_the_past")
            log.error("budget", extra={"record": {**decision.log_record(), "fault": True}})
        elif decision.changed:
            log.warning("budget", extra={"record": decision.log_record()})
        self.level = decision.level
        return decision

    # -- what the boot did ----------------------------------------------------------------------
    def event_stored(self, record: dict[str, Any]) -> None:
        """Book one stored event's camera and IR time at the run's settings (the burst interval
        and the IR power share the hardware used), and count it for the rates."""
        c, t, run = self.currents, self.timings, self.run_config
        # frames taken (triage may have stored fewer: a thumbnail, or nothing)
        frames = int(record.get("frames", len(record.get("media", ()))))
        if frames:
            camera_s = t.camera_start_s + t.frame_s * (frames + 1)
            camera_s += run["capture.burst_interval_s"] * (frames - 1)
            self.gauge.book(camera_s * c.camera_ma)
            if record.get("ir"):
                self.gauge.book(t.frame_s * frames * c.ir_ma * run["capture.ir_power"])
        day = self.clock.now_local().date()
        if record.get("source") == "timelapse":
            self.usage.record_timelapse(day)
        else:
            self.usage.record_event(day, night=bool(record.get("ir")))
        self._last_event_end_s = self.clock.monotonic_s()
        self._save()

    def stop(self) -> None:
        """The halt: book the time awake and the shutdown; save."""
        c, t = self.currents, self.timings
        now_s = self.clock.monotonic_s()
        awake_s = now_s - self._awake_since_s
        self.gauge.book(awake_s * (c.idle_ma + c.supervisor_awake_ma))
        if self._last_event_end_s is not None:
            after_s = now_s - self._last_event_end_s
            self.usage.record_awake_after(self.clock.now_local().date(), after_s)
        if self.base.mode == "gated":
            self.gauge.book(t.shutdown_s * (c.shutdown_ma + c.supervisor_awake_ma))
            self.last_halt_utc = self.clock.now_utc()
        self._save()

    # -- the state file -------------------------------------------------------------------------
    def _load(self) -> None:
        try:
            raw = json.loads(self.io.read(self.path))
        except FileNotFoundError:
            return  # first boot of this pack: a full gauge
        except (OSError, ValueError) as exc:
            self._bad_state(f"unreadable ({exc})")
            return
        try:
            if raw.get("v") != STATE_VERSION:
                raise ValueError(f"version {raw.get('v')!r}, expected {STATE_VERSION}")
            self.gauge = FuelGauge.from_dict(raw["gauge"])
            self.usage = UsageTracker.from_dict(raw["usage"])
            self.level = int(raw["level"])
            self.temp_c = _number(raw.get("temp_c"))
            halt = raw.get("last_halt_utc")
            self.last_halt_utc = datetime.fromisoformat(halt) if halt else None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self._bad_state(str(exc))

    def _bad_state(self, why: str) -> None:
        """A corrupt state file: counted and logged; the gauge starts over from the next rest
        voltage rather than the trap stopping."""
        self.faults.append("power_state_corrupt")
        log.error("power state", extra={"record": {"path": str(self.path), "problem": why}})
        self.gauge = FuelGauge(pack_for(self.base))
        self.usage = UsageTracker()
        self.level = 0

    def _save(self) -> None:
        state = {
            "v": STATE_VERSION,
            "gauge": self.gauge.to_dict(),
            "usage": self.usage.to_dict(),
            "level": self.level,
            "temp_c": self.temp_c,
            "last_halt_utc": self.last_halt_utc.isoformat() if self.last_halt_utc else None,
        }
        try:
            if not self._dir_ready:
                make_dirs_durable(self.io, self.path.parent, self.data_path)
                self._dir_ready = True
            write_atomic(self.io, self.path, json.dumps(state, sort_keys=True).encode())
        except OSError as exc:  # the data partition failing must not stop the trap
            self.faults.append("power_state_unwritable")
            log.error("power state", extra={"record": {"path": str(self.path), "error": str(exc)}})


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)
