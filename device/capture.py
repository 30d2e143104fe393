"""Burst policy: N frames at an interval, IR strobed only while a frame is being exposed."""

from __future__ import annotations

from dataclasses import dataclass, field

from device.clock import Clock
from device.hal.interfaces import Camera, Frame, Illuminator


@dataclass
class Burst:
    """The frames of one event, and the error that cut it short, if any."""

    frames: list[Frame] = field(default_factory=list)
    ir_used: bool = False
    error: str | None = None

    @property
    def first_frame_s(self) -> float | None:
        return self.frames[0].meta.monotonic_s if self.frames else None


@dataclass(frozen=True)
class BurstPlan:
    frames: int
    interval_s: float
    ir_mode: str  # 'auto' or 'off'
    ir_below_lux: float


def needs_ir(camera: Camera, plan: BurstPlan) -> bool:
    """Meter the scene (one frame's metadata) and decide on the IR for the whole burst."""
    if plan.ir_mode == "off":
        return False
    return camera.meter().lux < plan.ir_below_lux


def take_burst(camera: Camera, illuminator: Illuminator, clock: Clock, plan: BurstPlan) -> Burst:
    """Capture a burst. Never raises for camera faults: a failed burst keeps the frames it got."""
    burst = Burst()
    try:
        if not camera.is_started:
            camera.start()
        burst.ir_used = needs_ir(camera, plan)
        start_s = clock.monotonic_s()
        for index in range(plan.frames):
            if index:
                clock.run_until(lambda: False, start_s + index * plan.interval_s)
            burst.frames.append(_strobed_frame(camera, illuminator, burst.ir_used))
    except Exception as exc:  # a camera fault must not stop the trap: record it, go on
        burst.error = f"{type(exc).__name__}: {exc}"
    return burst


def _strobed_frame(camera: Camera, illuminator: Illuminator, ir: bool) -> Frame:
    if not ir:
        return camera.capture_frame(ir_on=False)
    illuminator.on()
    try:
        return camera.capture_frame(ir_on=True)
    finally:
        illuminator.off()
