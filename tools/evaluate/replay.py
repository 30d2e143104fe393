"""Replaying labelled frames as the trap would have seen them, with the baselines alongside.

Per camera, in time order: a time-lapse shot feeds the background (triage's bank, the naive
trigger's last frame, MOG2's model); a motion sequence is one burst, judged by triage and scored
by the baselines. Every burst is judged, since what triage decides changes its background (a
burst judged empty is learned); the ones whose truth is not animal/empty, that have no readable
frame, or that are a single frame with no background of their camera yet, are marked apart.
Only the judging is timed, not the decoding.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from device.triage import Triage, TriageSettings, Verdict
from tools.evaluate.baselines import Mog2, NaiveDifference, load_cv2
from tools.evaluate.frames import LoresFrame, decode_lores
from tools.evaluate.labels import Event

EVALUATED = "evaluated"
SINGLE_NO_BACKGROUND = "single_no_background"
UNREADABLE = "unreadable"  # no frame of the burst could be decoded
TRUTHS = ("animal", "empty")


@dataclass(frozen=True)
class SequenceResult:
    """One motion sequence: what it is, how it was judged, and how the baselines scored it."""

    event: Event
    category: str  # "evaluated" or why it is reported apart
    frames_read: int
    ir_on: bool
    verdict: Verdict
    triage_ms: float
    naive_score: float | None
    mog2_score: float | None
    unreadable: tuple[str, ...]  # "file: reason" for each frame that could not be decoded

    @property
    def truth(self) -> str:
        return self.event.truth

    @property
    def frames(self) -> int:
        return len(self.event.rows)


@dataclass
class Judge:
    """Time spent judging and the frames judged, for one method."""

    frames: int = 0
    seconds: float = 0.0

    @property
    def fps(self) -> float | None:
        return self.frames / self.seconds if self.seconds > 0 else None


@dataclass
class Replay:
    sequences: list[SequenceResult] = field(default_factory=list)
    timelapse_frames: int = 0
    decode_seconds: float = 0.0
    decode_failures: Counter[str] = field(default_factory=Counter)  # by reason's first word
    timing: dict[str, Judge] = field(
        default_factory=lambda: {"triage": Judge(), "naive": Judge(), "mog2": Judge()}
    )
    mog2_skipped: str | None = None  # why MOG2 did not run


def category_of(truth: str, frames: list[np.ndarray | None], no_background: bool) -> str:
    """Evaluated, or why a sequence is reported apart (the first reason that applies)."""
    if truth not in TRUTHS:
        return f"label_{truth}"
    if not any(f is not None for f in frames):
        return UNREADABLE
    if len(frames) == 1 and no_background:
        return SINGLE_NO_BACKGROUND
    return EVALUATED


def replay(
    cameras: dict[tuple[str, str], list[Event]],
    images_root: Path,
    settings: TriageSettings,
    *,
    mog2: bool = True,
) -> Replay:
    """Every camera's events in order through triage and the baselines."""
    result = Replay()
    naive = NaiveDifference(settings.masks)
    subtractor: Mog2 | None = None
    if mog2:
        cv2, why = load_cv2()
        if cv2 is None:
            result.mog2_skipped = why
        else:
            subtractor = Mog2(cv2, settings.masks)
    else:
        result.mog2_skipped = "turned off"
    for camera, events in cameras.items():
        triage = Triage(settings)
        motion_seq = 0
        for event in events:
            decoded = _decode(event, images_root, result)
            frames = [d.frame for d in decoded]
            ir_on = _ir_on(decoded)
            if event.timelapse:
                triage.observe(frames, ir_on=ir_on, time_s=event.time_s, timelapse=True)
                naive.timelapse(camera, frames)
                if subtractor is not None:
                    subtractor.timelapse(camera, frames)
                result.timelapse_frames += len(frames)
                continue
            motion_seq += 1
            read = [f for f in frames if f is not None]
            no_background = bool(read) and (
                triage.bank.model(read[0].shape, ir_on=ir_on, level=float(read[0].mean())) is None
            )
            category = category_of(event.truth, frames, no_background)
            started = time.perf_counter()
            verdict = triage.observe(frames, ir_on=ir_on, time_s=event.time_s, event_seq=motion_seq)
            triage_s = _count(result.timing["triage"], started, len(read))
            started = time.perf_counter()
            naive_score = naive.burst(camera, frames)
            _count(result.timing["naive"], started, len(read))
            mog2_score = None
            if subtractor is not None:
                started = time.perf_counter()
                mog2_score = subtractor.burst(camera, frames)
                _count(result.timing["mog2"], started, len(read))
            result.sequences.append(
                SequenceResult(
                    event=event,
                    category=category,
                    frames_read=len(read),
                    ir_on=ir_on,
                    verdict=verdict,
                    triage_ms=triage_s * 1000.0,
                    naive_score=naive_score,
                    mog2_score=mog2_score,
                    unreadable=tuple(
                        f"{row.file}: {d.reason}"
                        for row, d in zip(event.rows, decoded, strict=True)
                        if d.frame is None
                    ),
                )
            )
    return result


def _decode(event: Event, images_root: Path, result: Replay) -> list[LoresFrame]:
    started = time.perf_counter()
    decoded = [decode_lores(images_root / row.file) for row in event.rows]
    result.decode_seconds += time.perf_counter() - started
    for d in decoded:
        if d.reason is not None:
            result.decode_failures[d.reason.split(":")[0]] += 1
    return decoded


def _ir_on(decoded: Iterable[LoresFrame]) -> bool:
    """The burst's IR state: most of its readable frames have the greyscale IR look."""
    looks = [d.ir_look for d in decoded if d.frame is not None]
    return bool(looks) and 2 * sum(bool(v) for v in looks) >= len(looks)


def _count(judge: Judge, started: float, frames: int) -> float:
    """Add the time since `started` and the frames to `judge`; the time in seconds."""
    elapsed = time.perf_counter() - started
    judge.seconds += elapsed
    judge.frames += frames
    return elapsed
