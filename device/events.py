"""What flows into the controller (events) and out of it (actions). Plain data, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# -- events: hardware, timers and the results of actions ----------------------------------


@dataclass(frozen=True, slots=True)
class Started:
    """The trap's process is up, and why (the wake reason from the supervisor)."""

    wake_reason: str = "boot"
    next_event_seq: int = 1
    wake_time_utc: datetime | None = None  # when the PIR that woke us fired (gated mode)
    boot_pir_utc: datetime | None = None  # a PIR edge while the Pi booted (gated mode), or None


@dataclass(frozen=True, slots=True)
class MotionStarted:
    at_s: float  # monotonic
    at_start: bool = False  # the PIR was already high when the trap began to listen


@dataclass(frozen=True, slots=True)
class MotionStopped:
    at_s: float


@dataclass(frozen=True, slots=True)
class TimerFired:
    name: str


@dataclass(frozen=True, slots=True)
class BurstDone:
    event_seq: int
    frames: int
    first_frame_s: float  # monotonic time the first exposure started


@dataclass(frozen=True, slots=True)
class BurstFailed:
    event_seq: int
    error: str
    frames: int = 0
    refused_by_storage: bool = False  # no frames taken: storage could not save them


@dataclass(frozen=True, slots=True)
class TriageDone:
    event_seq: int
    verdict: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoreDone:
    event_seq: int
    files: int


@dataclass(frozen=True, slots=True)
class StoreFailed:
    event_seq: int
    error: str


@dataclass(frozen=True, slots=True)
class StopRequested:
    reason: str


Event = (
    Started
    | MotionStarted
    | MotionStopped
    | TimerFired
    | BurstDone
    | BurstFailed
    | TriageDone
    | StoreDone
    | StoreFailed
    | StopRequested
)

# -- actions: what the controller asks the trap to do --------------------------------------


@dataclass(frozen=True, slots=True)
class CaptureBurst:
    event_seq: int
    source: str  # 'pir', 'retrigger', 'sustained', 'wake', 'timelapse'
    frames: int
    interval_s: float
    trigger_s: float  # monotonic time of the trigger (latency is measured from it)


@dataclass(frozen=True, slots=True)
class RunTriage:
    event_seq: int


@dataclass(frozen=True, slots=True)
class StoreEvent:
    """Commit the event's media and its journal record (the record is the controller's)."""

    event_seq: int
    record: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StartTimer:
    name: str
    delay_s: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    name: str


@dataclass(frozen=True, slots=True)
class StopCamera:
    pass


@dataclass(frozen=True, slots=True)
class RequestShutdown:
    reason: str
    wake_at_utc: datetime | None
    hold_off_s: float = 0.0  # the supervisor holds PIR wakes back this long (latched, not lost)


@dataclass(frozen=True, slots=True)
class Halt:
    """Leave the loop (after a shutdown request was sent, or on a stop)."""

    reason: str


Action = (
    CaptureBurst
    | RunTriage
    | StoreEvent
    | StartTimer
    | CancelTimer
    | StopCamera
    | RequestShutdown
    | Halt
)
