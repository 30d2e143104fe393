"""The trap's state machine: events in, actions out. No I/O of its own; time comes from the Clock.

    starting -> armed -> capturing -> triage -> storing -> hold_off -> armed
                  ^ inactive (outside active hours)                 \\-> warm -> shutdown (gated)

Re-triggers while an event is in progress or in hold-off are counted; a trigger during hold-off
(or a PIR still high when the hold-off ends) starts the next event as soon as the hold-off ends,
so an animal that stays in front is photographed again and nothing is silently dropped. A PIR
high for longer than `pir.stuck_after_s` is flagged stuck and stops sustained re-triggering until
it falls. Every transition is one structured log record (logger `irbis.controller`).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from device.clock import Clock
from device.config import TrapConfig
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

log = logging.getLogger("irbis.controller")

BUSY = ("capturing", "triage", "storing")
IDLE = ("armed", "inactive", "warm")
MOTION_SOURCES = ("pir", "wake", "retrigger", "sustained")


@dataclass
class EventInProgress:
    seq: int
    source: str
    trigger_s: float
    trigger_utc: datetime
    held_off_triggers: int = 0
    retriggers: int = 0
    frames: int = 0
    first_frame_s: float | None = None
    status: str = "ok"
    error: str | None = None
    verdict: dict[str, Any] = field(default_factory=dict)


class Controller:
    """Decides what the trap does next. Feed it events with `handle`; carry out what it returns."""

    def __init__(self, config: TrapConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.state = "starting"
        self._state_since_s = clock.monotonic_s()
        self.counters: Counter[str] = Counter()
        self.next_seq = 1
        self.current: EventInProgress | None = None
        self.pir_high = False
        self.pir_stuck = False
        self.pending_retriggers = 0
        self.timelapse_due = False
        self.motion_during_boot = False
        self.stop_pending: str | None = None  # why, once a stop waits for the event in flight
        self.wake_reason = "boot"
        self._windows = config.active_windows
        self._all_day = any(w.start_minutes == w.end_minutes % 1440 for w in self._windows)

    # -- entry point --------------------------------------------------------------------------
    def handle(self, event: Event) -> list[Action]:
        handler = getattr(self, "_on_" + type(event).__name__)
        return handler(event)

    # -- events -------------------------------------------------------------------------------
    def _on_Started(self, ev: Started) -> list[Action]:
        self.next_seq = max(self.next_seq, ev.next_event_seq)
        self.wake_reason = ev.wake_reason
        actions = self._schedule_timelapse() + self._schedule_boundary()
        active = self.is_active_now()
        self._goto("armed" if active else "inactive", "started", wake_reason=ev.wake_reason)
        if ev.wake_reason == "pir":
            self.counters["triggers"] += 1
            self.counters["triggers.wake"] += 1
            if active:
                return actions + self._start_event("wake", self._monotonic_at(ev.wake_time_utc))
            self.counters["triggers_outside_schedule"] += 1
            return actions + self._idle()
        boot_motion = ev.boot_pir_utc is not None
        if boot_motion:
            # Motion while the Pi booted for another reason: the edge has passed, but the
            # supervisor saw it, so it becomes an event (after a due time-lapse shot).
            self.counters["triggers"] += 1
            self.counters["triggers.during_boot"] += 1
            if not active:
                self.counters["triggers_outside_schedule"] += 1
                boot_motion = False
        if ev.wake_reason == "rtc" and self.config["timelapse.interval_s"]:
            self.motion_during_boot = boot_motion
            return actions + self._start_event("timelapse", self.clock.monotonic_s())
        if boot_motion:
            return actions + self._start_event("wake", self._monotonic_at(ev.boot_pir_utc))
        return actions + self._idle()

    def _on_MotionStarted(self, ev: MotionStarted) -> list[Action]:
        actions: list[Action] = []
        if not self.pir_high:
            self.pir_high = True
            actions.append(StartTimer("pir_stuck", self.config["pir.stuck_after_s"]))
        if ev.at_start and self.wake_reason == "pir":
            return actions  # the edge that woke us, still high: already an event
        self.counters["triggers"] += 1
        self.counters["triggers.pir"] += 1
        if self.state in BUSY:
            self.counters["retriggers_during_event"] += 1
            assert self.current is not None
            self.current.retriggers += 1
        elif self.state == "hold_off":
            self.counters["retriggers_during_hold_off"] += 1
            self.pending_retriggers += 1
        elif self.state == "inactive":
            self.counters["triggers_outside_schedule"] += 1
        elif self.state in ("armed", "warm"):
            if self.state == "warm":
                actions.append(CancelTimer("warm"))
                self.counters["warm_window_hits"] += 1
            actions += self._start_event("pir", ev.at_s)
        else:  # starting or stopped: nothing can be done, but the trigger is counted
            self.counters["triggers_ignored." + self.state] += 1
        return actions

    def _on_MotionStopped(self, ev: MotionStopped) -> list[Action]:
        self.pir_high = False
        if self.pir_stuck:
            self.pir_stuck = False
            self._note("pir_recovered")
        return [CancelTimer("pir_stuck")]

    def _on_TimerFired(self, ev: TimerFired) -> list[Action]:
        return getattr(self, "_timer_" + ev.name)()

    def _on_BurstDone(self, ev: BurstDone) -> list[Action]:
        cur = self._current(ev.event_seq)
        cur.frames = ev.frames
        cur.first_frame_s = ev.first_frame_s
        self._goto(
            "triage",
            "burst_done",
            seq=cur.seq,
            frames=ev.frames,
            latency_s=round(ev.first_frame_s - cur.trigger_s, 6),
        )
        return [RunTriage(cur.seq)]

    def _on_BurstFailed(self, ev: BurstFailed) -> list[Action]:
        cur = self._current(ev.event_seq)
        cur.frames = ev.frames
        cur.error = ev.error
        if ev.refused_by_storage:
            self.counters["not_captured"] += 1
            cur.status = "not_captured"
            self._goto("storing", "not_captured", seq=cur.seq, storage=ev.error)
            return [StoreEvent(cur.seq, self._record(cur))]
        self.counters["capture_failures"] += 1
        cur.status = "partial" if ev.frames else "capture_failed"
        log.error(
            "capture failed",
            extra={"record": {"seq": cur.seq, "error": ev.error, "frames": ev.frames}},
        )
        if ev.frames:
            self._goto("triage", "burst_partial", seq=cur.seq, frames=ev.frames)
            return [RunTriage(cur.seq)]
        self._goto("storing", "burst_failed", seq=cur.seq)
        return [StoreEvent(cur.seq, self._record(cur))]

    def _on_TriageDone(self, ev: TriageDone) -> list[Action]:
        cur = self._current(ev.event_seq)
        cur.verdict = dict(ev.verdict)
        self._goto("storing", "triaged", seq=cur.seq, decision=cur.verdict.get("decision"))
        return [StoreEvent(cur.seq, self._record(cur))]

    def _on_StoreDone(self, ev: StoreDone) -> list[Action]:
        cur = self._current(ev.event_seq)
        self.counters["events_stored"] += 1
        self.counters["media_stored"] += ev.files
        return self._after_store(cur)

    def _on_StoreFailed(self, ev: StoreFailed) -> list[Action]:
        cur = self._current(ev.event_seq)
        self.counters["store_failures"] += 1
        log.error("store failed", extra={"record": {"seq": cur.seq, "error": ev.error}})
        return self._after_store(cur)

    def _on_StopRequested(self, ev: StopRequested) -> list[Action]:
        if self.state in BUSY:
            self.stop_pending = ev.reason  # finish the event in flight first
            self._note("stop_deferred", reason=ev.reason)
            return []
        return self._halt(ev.reason)

    # -- timers -------------------------------------------------------------------------------
    def _timer_hold_off(self) -> list[Action]:
        if self.state != "hold_off":
            return []
        if self.is_active_now():
            if self.pending_retriggers:
                held = self.pending_retriggers
                self.pending_retriggers = 0
                return self._start_event("retrigger", self.clock.monotonic_s(), held_off=held)
            if self.pir_high and not self.pir_stuck:
                return self._start_event("sustained", self.clock.monotonic_s())
        self.pending_retriggers = 0
        return self._idle()

    def _timer_timelapse(self) -> list[Action]:
        actions = self._schedule_timelapse()
        if self.state in IDLE:
            if self.state == "warm":
                actions.append(CancelTimer("warm"))
            return actions + self._start_event("timelapse", self.clock.monotonic_s())
        self.timelapse_due = True  # taken as soon as the trap is idle again
        self.counters["timelapse_deferred"] += 1
        return actions

    def _timer_boundary(self) -> list[Action]:
        actions = self._schedule_boundary()
        active = self.is_active_now()
        if self.state == "armed" and not active:
            self._goto("inactive", "schedule")
        elif self.state == "inactive" and active:
            self._goto("armed", "schedule")
        return actions

    def _timer_warm(self) -> list[Action]:
        if self.state != "warm":
            return []
        return self._shutdown("warm_window_over")

    def _timer_pir_stuck(self) -> list[Action]:
        if self.pir_high and not self.pir_stuck:
            self.pir_stuck = True
            self.counters["pir_stuck"] += 1
            log.warning(
                "pir stuck high", extra={"record": {"after_s": self.config["pir.stuck_after_s"]}}
            )
        return []

    # -- steps --------------------------------------------------------------------------------
    def _start_event(self, source: str, trigger_s: float, held_off: int = 0) -> list[Action]:
        seq = self.next_seq
        self.next_seq += 1
        now_s = self.clock.monotonic_s()
        trigger_utc = self.clock.now_utc() - timedelta(seconds=max(0.0, now_s - trigger_s))
        self.current = EventInProgress(
            seq, source, trigger_s, trigger_utc, held_off_triggers=held_off
        )
        self.counters["events." + source] += 1
        frames = 1 if source == "timelapse" else self.config["capture.burst_frames"]
        if source == "timelapse":
            self.timelapse_due = False
        self._goto("capturing", source, seq=seq)
        return [
            CaptureBurst(seq, source, frames, self.config["capture.burst_interval_s"], trigger_s)
        ]

    def _after_store(self, cur: EventInProgress) -> list[Action]:
        self.current = None
        if self.stop_pending is not None:
            return self._halt(self.stop_pending)
        if cur.source == "timelapse":
            # A time-lapse shot has no hold-off; motion seen meanwhile becomes an event now.
            motion = cur.retriggers or self.motion_during_boot
            self.motion_during_boot = False
            if (motion or (self.pir_high and not self.pir_stuck)) and self.is_active_now():
                return self._start_event("pir", self.clock.monotonic_s())
            return self._idle()
        hold_off_s = self.config["capture.hold_off_s"]
        if (
            self.config.mode == "gated"
            and self.config["gated.warm_window_s"] <= 0
            and not cur.retriggers
            and not (self.pir_high and not self.pir_stuck)
            and not self.timelapse_due
        ):
            # Nothing keeps the Pi up: halt now and let the supervisor hold PIR wakes back for
            # the hold-off (a trigger meanwhile is latched and wakes the Pi when it ends).
            return self._shutdown("event_done", hold_off_s)
        self._goto("hold_off", "stored", seq=cur.seq)
        if hold_off_s <= 0:
            return self._timer_hold_off()
        return [StopCamera(), StartTimer("hold_off", hold_off_s)]

    def _idle(self) -> list[Action]:
        """Nothing in flight: take a due time-lapse shot, else wait (armed, or warm then off)."""
        if self.timelapse_due:
            return self._start_event("timelapse", self.clock.monotonic_s())
        if self.config.mode == "gated":
            warm_s = self.config["gated.warm_window_s"]
            after_motion = any(self.counters["events." + s] for s in MOTION_SOURCES)
            if warm_s > 0 and (after_motion or self.wake_reason == "boot"):
                self.counters["warm_windows"] += 1
                self._goto("warm", "idle", warm_window_s=warm_s)
                return [StopCamera(), StartTimer("warm", warm_s)]
            return self._shutdown("nothing_to_do")
        self._goto("armed" if self.is_active_now() else "inactive", "idle")
        return [StopCamera()]

    def _shutdown(self, reason: str, hold_off_s: float = 0.0) -> list[Action]:
        wake_at = self.next_timelapse_utc()
        self._goto(
            "stopped",
            "shutdown",
            reason=reason,
            wake_at_utc=wake_at.isoformat() if wake_at else None,
        )
        return [StopCamera(), RequestShutdown(reason, wake_at, hold_off_s), Halt(reason)]

    def _halt(self, reason: str) -> list[Action]:
        if self.config.mode == "gated":  # tell the supervisor: it cuts the rail after the halt
            return self._shutdown(reason)
        self._goto("stopped", "halt", reason=reason)
        return [StopCamera(), Halt(reason)]

    # -- time-lapse and schedule ---------------------------------------------------------------
    def next_timelapse_utc(self) -> datetime | None:
        """The next shot, aligned to local midnight (interval 3600 -> on the hour)."""
        interval_s = self.config["timelapse.interval_s"]
        if not interval_s:
            return None
        now = self.clock.now_local()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        elapsed_s = (now - midnight).total_seconds()
        shots = int(elapsed_s // interval_s) + 1
        return (midnight + timedelta(seconds=shots * interval_s)).astimezone(now.tzinfo)

    def _schedule_timelapse(self) -> list[Action]:
        nxt = self.next_timelapse_utc()
        if nxt is None:
            return []
        return [StartTimer("timelapse", (nxt - self.clock.now_local()).total_seconds())]

    def is_active_now(self) -> bool:
        if self._all_day:
            return True
        now = self.clock.now_local()
        minute = now.hour * 60 + now.minute
        return any(w.contains(minute) for w in self._windows)

    def _schedule_boundary(self) -> list[Action]:
        if self._all_day:
            return []
        now = self.clock.now_local()
        seconds_into_day = now.hour * 3600 + now.minute * 60 + now.second + now.microsecond / 1e6
        edges = {w.start_minutes * 60 for w in self._windows}
        edges |= {(w.end_minutes % 1440) * 60 for w in self._windows}
        deltas = [(e - seconds_into_day) % 86400 for e in edges]
        delay_s = min(d if d > 0.5 else d + 86400 for d in deltas)
        return [StartTimer("boundary", delay_s)]

    def _monotonic_at(self, utc: datetime | None) -> float:
        """The monotonic time of a past wall-clock instant (now, if unknown or in the future)."""
        now_s = self.clock.monotonic_s()
        if utc is None:
            return now_s
        return now_s - max(0.0, (self.clock.now_utc() - utc).total_seconds())

    # -- records ------------------------------------------------------------------------------
    def _current(self, seq: int) -> EventInProgress:
        if self.current is None or self.current.seq != seq:
            raise RuntimeError(
                f"result for event {seq} but the event in progress is "
                f"{self.current.seq if self.current else None}"
            )
        return self.current

    def _record(self, cur: EventInProgress) -> dict[str, Any]:
        """The event's journal record (storage adds the media it committed)."""
        offset = self.clock.now_local().tzinfo
        return {
            "seq": cur.seq,
            "source": cur.source,
            "trigger_time": cur.trigger_utc.astimezone(offset).isoformat(timespec="milliseconds"),
            "latency_s": None
            if cur.first_frame_s is None
            else round(cur.first_frame_s - cur.trigger_s, 6),
            "status": cur.status,
            "error": cur.error,
            "retriggers": cur.retriggers,
            "held_off_triggers": cur.held_off_triggers,
            "wake_reason": self.wake_reason,
            "verdict": cur.verdict,
        }

    def _goto(self, state: str, why: str, **fields: Any) -> None:
        if state == self.state:
            return
        record = {"from": self.state, "to": state, "reason": why, **fields}
        now_s = self.clock.monotonic_s()
        if self.state == "warm":  # what warm windows cost is measured, not guessed
            self.counters["warm_window_ms"] += round((now_s - self._state_since_s) * 1000)
        self._state_since_s = now_s
        self.state = state
        if log.isEnabledFor(logging.INFO):
            log.info("transition", extra={"record": record})

    def _note(self, what: str, **fields: Any) -> None:
        log.info(what, extra={"record": {"state": self.state, **fields}})
