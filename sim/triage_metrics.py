"""Triage against the ground truth: what became of events whose frames showed an animal, and of
those that showed none (by cause), from the journal's verdicts and the bench's truth by event
number (sim/hardware.py `Bench.note_event`), which covers discarded events too: they leave no
media on the card to match the truth by.

A triage *miss* is an event whose frames showed an animal but whose decision was not `keep`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from device.controller import MOTION_SOURCES
from sim.hardware import EventTruth
from sim.world import Pass

DECISIONS = ("keep", "thumbnail", "discard")


def _by_decision() -> Counter[str]:
    return Counter(dict.fromkeys(DECISIONS, 0))


class TriageTally:
    """Feed it each journaled event with its truth; `to_json()` gives the metrics section."""

    def __init__(self, passes: dict[int, Pass]) -> None:
        self.passes = passes
        self.judged = 0
        self.animal = _by_decision()
        self.leopard = _by_decision()
        self.empty = _by_decision()
        self.empty_by_cause: dict[str, Counter[str]] = {}
        self.timelapse = _by_decision()
        self.first_reasons: Counter[str] = Counter()
        self.audits = self.audit_thumbnails = self.thumbnail_errors = 0
        self.passes_captured: set[int] = set()
        self.passes_kept: set[int] = set()

    def add(self, rec: dict[str, Any], truth: EventTruth | None) -> None:
        """One event record; only events with frames that triage saw are counted."""
        if truth is None or rec.get("status") not in ("ok", "partial"):
            return
        verdict = rec.get("verdict") or {}
        decision = verdict.get("decision", "keep")
        self.judged += 1
        reasons = verdict.get("reasons") or ["none"]
        self.first_reasons[str(reasons[0])] += 1
        thumbs = [m for m in rec.get("media", []) if m.get("role") == "thumb"]
        if decision == "discard" and verdict.get("audit") is True:
            self.audits += 1
            self.audit_thumbnails += len(thumbs)
        self.thumbnail_errors += "thumbnail_error" in rec
        if rec["source"] not in MOTION_SOURCES:
            self.timelapse[decision] += 1
            return
        if truth.animals:
            self.animal[decision] += 1
            if any(self.passes[i].species == "snow-leopard" for i in truth.animals):
                self.leopard[decision] += 1
            self.passes_captured.update(truth.animals)
            if decision == "keep":
                self.passes_kept.update(truth.animals)
            return
        self.empty[decision] += 1
        self.empty_by_cause.setdefault(truth.cause, _by_decision())[decision] += 1

    def to_json(self) -> dict[str, Any]:
        not_kept = self.passes_captured - self.passes_kept
        return {
            "judged_events": self.judged,
            "animal_events": dict(self.animal),
            "animal_events_missed": self.animal["thumbnail"] + self.animal["discard"],
            "animal_passes_not_kept": len(not_kept),
            "snow_leopard_events": dict(self.leopard),
            "snow_leopard_passes_not_kept": sum(
                self.passes[i].species == "snow-leopard" for i in not_kept
            ),
            "false_events": dict(self.empty),
            "false_events_by_cause": {k: dict(v) for k, v in sorted(self.empty_by_cause.items())},
            "timelapse": dict(self.timelapse),
            "audited_discards": self.audits,
            "audit_thumbnails": self.audit_thumbnails,
            "thumbnail_errors": self.thumbnail_errors,
            "first_reasons": dict(sorted(self.first_reasons.items())),
        }
