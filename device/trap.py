"""The trap's loop: hardware callbacks and timers post events; the controller decides; this
module carries out its actions and posts their results back. Same code on the Pi (RealClock)
and in the simulator (virtual clock).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from device.capture import Burst, BurstPlan, take_burst
from device.clock import Clock, Timer
from device.config import TrapConfig
from device.controller import Controller
from device.event_triage import keep_record
from device.events import (
    Action,
    BurstDone,
    BurstFailed,
    CancelTimer,
    CaptureBurst,
    Event,
    Halt,
    MotionStarted,
    MotionStopped,
    RequestShutdown,
    RunTriage,
    Started,
    StartTimer,
    StopCamera,
    StopRequested,
    StoreDone,
    StoreEvent,
    StoreFailed,
    TimerFired,
    TriageDone,
)
from device.hal.interfaces import Hardware
from device.power.manager import PowerManager
from device.storage.event_store import Media
from device.storage.manager import Storage
from device.storage.verdict_media import media_for_verdict

log = logging.getLogger("irbis.trap")

# (burst, source, event seq, now in seconds since the epoch, UTC) -> the verdict record
# (device/event_triage.py: EventTriage). Never raises. Wall time, not monotonic: triage's
# background bank outlives boots, and a monotonic clock starts again at every boot.
TriageHook = Callable[[Burst, str, int, float], dict[str, Any]]


def no_triage(burst: Burst, source: str, event_seq: int, time_utc_s: float) -> dict[str, Any]:
    """For a Trap built without triage (tests): keep everything, and say so in the record."""
    return keep_record("triage_not_configured")


class Trap:
    """Owns the event queue and the hardware; one instance per process (per boot)."""

    def __init__(
        self,
        config: TrapConfig,
        clock: Clock,
        hardware: Hardware,
        storage: Storage,
        triage: TriageHook = no_triage,
        power: PowerManager | None = None,
    ) -> None:
        if config.mode == "gated" and not hardware.link.connected:
            # Nobody would cut the power or wake the Pi again: stay up rather than halt for good.
            log.error(
                "gated mode without a supervisor: running always-on",
                extra={"record": {"link": type(hardware.link).__name__}},
            )
            config = config.with_values(mode="always-on")
        self.config = config
        self.clock = clock
        self.hw = hardware
        self.storage = storage
        self.triage = triage
        self.power = power
        self.controller = Controller(config, clock)
        self.queue: deque[Event] = deque()
        self.halted: str | None = None
        self._reporting_level_at_start = False
        self._timers: dict[str, Timer] = {}
        self._bursts: dict[int, Burst] = {}
        self._sources: dict[int, str] = {}  # each event's source, from its CaptureBurst
        self._plan = BurstPlan(
            frames=config["capture.burst_frames"],
            interval_s=config["capture.burst_interval_s"],
            ir_mode=config["capture.ir"],
            ir_below_lux=config["capture.ir_below_lux"],
        )

    # -- events in ----------------------------------------------------------------------------
    def post(self, event: Event) -> None:
        """Queue an event (safe from any thread) and wake the loop."""
        self.queue.append(event)
        self.clock.notify()

    def start(self, wake_reason: str | None = None) -> None:
        """Queue the start, then listen to the PIR (a PIR already high queues after it)."""
        link = self.hw.link
        reason = wake_reason or link.wake_reason()
        self.post(
            Started(reason, self.storage.next_seq(), link.wake_time_utc(), link.boot_pir_utc())
        )
        if link.connected:
            link.on_shutdown(lambda why: self.post(StopRequested(why)))
            kick_s = self.config["gated.watchdog_s"] / 4
            self._timers["watchdog"] = self.clock.call_every(kick_s, link.kick_watchdog)
        # A PIR already high is reported from inside set_callbacks: flag that report, so the
        # controller can tell the edge that woke the Pi from a new one.
        self._reporting_level_at_start = True
        try:
            self.hw.motion.set_callbacks(self._on_motion, self._on_no_motion)
        finally:
            self._reporting_level_at_start = False

    def _on_motion(self) -> None:
        self.post(MotionStarted(self.clock.monotonic_s(), at_start=self._reporting_level_at_start))

    def _on_no_motion(self) -> None:
        self.post(MotionStopped(self.clock.monotonic_s()))

    # -- the loop -----------------------------------------------------------------------------
    def run(self, deadline_s: float | None = None) -> str:
        """Handle events until the controller halts (returns its reason) or `deadline_s`."""
        queue = self.queue
        while self.halted is None:
            if not queue and not self.clock.run_until(
                lambda: bool(queue) or self.halted is not None, deadline_s
            ):
                return "deadline"
            if queue:
                self.step(queue.popleft())
        return self.halted

    def step(self, event: Event) -> None:
        for action in self.controller.handle(event):
            self._do(action)

    # -- actions out --------------------------------------------------------------------------
    def _do(self, action: Action) -> None:
        match action:
            case CaptureBurst():
                self._capture(action)
            case RunTriage(event_seq=seq):
                self._triage(seq)
            case StoreEvent(event_seq=seq, record=record):
                self._store(seq, record)
            case StartTimer(name=name, delay_s=delay_s):
                self._cancel(name)
                self._timers[name] = self.clock.call_later(
                    delay_s, lambda n=name: self.post(TimerFired(n))
                )
            case CancelTimer(name=name):
                self._cancel(name)
            case StopCamera():
                if self.hw.camera.is_started:
                    self.hw.camera.stop()
            case RequestShutdown(reason=reason, wake_at_utc=wake_at, hold_off_s=hold_off_s):
                self.hw.link.request_shutdown(wake_at, reason, hold_off_s)
            case Halt(reason=reason):
                self.cancel_timers()
                self.storage.close()  # the journal's high-water marks, card and data partition
                if self.power is not None:
                    self.power.stop()
                self.halted = reason
            case _:
                raise TypeError(f"unknown action {action!r}")

    def cancel_timers(self) -> None:
        """Every timer this process set (on a halt; in the simulator also when power is lost)."""
        for name in list(self._timers):
            self._cancel(name)

    def _cancel(self, name: str) -> None:
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()

    def _capture(self, action: CaptureBurst) -> None:
        self._sources[action.event_seq] = action.source
        refusal = self.storage.can_capture()
        if refusal is not None:  # the trigger is still journaled, without media
            self.post(BurstFailed(action.event_seq, refusal, 0, refused_by_storage=True))
            return
        plan = replace(self._plan, frames=action.frames, interval_s=action.interval_s)
        burst = take_burst(self.hw.camera, self.hw.illuminator, self.clock, plan)
        self._bursts[action.event_seq] = burst
        if burst.error is None:
            first_s = burst.first_frame_s
            assert first_s is not None
            self.post(BurstDone(action.event_seq, len(burst.frames), first_s))
        else:
            if self.hw.camera.is_started:  # a fresh start for the next burst
                self.hw.camera.stop()
            self.post(BurstFailed(action.event_seq, burst.error, len(burst.frames)))

    def _triage(self, seq: int) -> None:
        source = self._sources.get(seq, "pir")
        verdict = self.triage(self._bursts[seq], source, seq, self.clock.now_utc().timestamp())
        self.post(TriageDone(seq, verdict))

    def _frame_metas(self, burst: Burst) -> list[dict[str, Any]]:
        """Each frame's metadata for the journal, with its exposure start as local wall time."""
        now_s, now = self.clock.monotonic_s(), self.clock.now_local()
        metas = []
        for frame in burst.frames:
            m = frame.meta
            taken = now - timedelta(seconds=now_s - m.monotonic_s)
            metas.append(
                {
                    "time": taken.isoformat(timespec="milliseconds"),
                    "exposure_us": m.exposure_us,
                    "analogue_gain": round(m.analogue_gain, 3),
                    "lux": round(m.lux, 3),
                    "ir": m.ir_on,
                }
            )
        return metas

    def _media(
        self, burst: Burst | None, verdict: dict[str, Any]
    ) -> tuple[list[Media], str | None]:
        """What the event stores by triage's decision (device/storage/verdict_media.py), and
        why a thumbnail it should have is missing."""
        if burst is None:
            return [], None
        chosen = media_for_verdict(
            verdict,
            burst.frames,
            self._frame_metas(burst),
            self.config["storage.low_score_below"],
            self.config["triage.discard_at_capture"],
        )
        return chosen.media, chosen.thumbnail_error

    def _store(self, seq: int, record: dict[str, Any]) -> None:
        burst = self._bursts.pop(seq, None)
        self._sources.pop(seq, None)
        media, thumbnail_error = self._media(burst, record.get("verdict") or {})
        record = {
            **record,
            "time_source": self.clock.time_source,
            "ir": bool(burst and burst.ir_used),
            "frames": len(burst.frames) if burst else 0,  # taken, whatever triage kept
        }
        if thumbnail_error is not None:
            record["thumbnail_error"] = thumbnail_error
        try:
            done = self.storage.commit(record, media)
        except OSError as exc:
            self.post(StoreFailed(seq, f"{type(exc).__name__}: {exc}"))
            return
        if self.power is not None:
            self.power.event_stored(done)
        self.post(StoreDone(seq, len(done["media"])))
