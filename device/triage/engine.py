"""Triage rules (being written): see the package docstring."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from device.triage.background import BackgroundBank
from device.triage.verdict import TriageSettings, Verdict


class Triage:
    """Judges bursts against the background bank; learns empty frames into it."""

    def __init__(
        self, settings: TriageSettings | None = None, bank: BackgroundBank | None = None
    ) -> None:
        self.settings = settings or TriageSettings()
        self.bank = bank if bank is not None else BackgroundBank(self.settings.background_frames)

    def judge(
        self, frames: Sequence[np.ndarray | None], *, ir_on: bool = False, event_seq: int = 0
    ) -> Verdict:
        """The verdict for one burst of low-resolution frames (None: a frame not decoded)."""
        return Verdict("keep", None, ("triage_not_written_yet",))

    def observe(
        self,
        frames: Sequence[np.ndarray | None],
        *,
        ir_on: bool,
        time_s: float,
        timelapse: bool = False,
        event_seq: int = 0,
    ) -> Verdict:
        """One event as the trap sees it: a time-lapse shot is kept and becomes background; a
        motion burst is judged, and a burst judged empty (discard) becomes background too."""
        if timelapse:
            self.learn(frames, ir_on=ir_on, time_s=time_s)
            return Verdict("keep", None, ("timelapse",))
        verdict = self.judge(frames, ir_on=ir_on, event_seq=event_seq)
        if verdict.decision == "discard":
            self.learn(frames, ir_on=ir_on, time_s=time_s)
        return verdict

    def learn(self, frames: Sequence[np.ndarray | None], *, ir_on: bool, time_s: float) -> None:
        """Add the readable frames of an empty view (time-lapse, or an event judged empty)."""
        for frame in frames:
            if frame is not None and frame.ndim == 2 and frame.dtype == np.uint8:
                self.bank.add(frame, ir_on=ir_on, time_s=time_s)
