"""What triage is told (its settings) and what it says (a verdict)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DECISIONS = ("keep", "thumbnail", "discard")


@dataclass(frozen=True)
class TriageSettings:
    """The [triage] section of trap.toml, validated there (device/config.py)."""

    enabled: bool = True
    keep_from: float = 0.5  # score at or above: keep every frame
    discard_below: float = 0.2  # score below, with evidence of emptiness: discard
    audit_share: float = 0.05  # share of discarded events that keep a thumbnail anyway
    # Regions to ignore, as fractions of the frame: (left, top, right, bottom) each in [0, 1].
    masks: tuple[tuple[float, float, float, float], ...] = ()
    background_frames: int = 8  # empty frames kept per light (time-lapse and empty events)

    def __post_init__(self) -> None:
        if not 0 <= self.discard_below <= self.keep_from <= 1:
            raise ValueError(
                f"triage thresholds: expected 0 <= discard_below ({self.discard_below}) "
                f"<= keep_from ({self.keep_from}) <= 1"
            )
        if not 0 <= self.audit_share <= 1:
            raise ValueError(f"triage audit_share {self.audit_share}: expected a share 0-1")
        for mask in self.masks:
            left, top, right, bottom = mask
            if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
                raise ValueError(
                    f"triage mask {list(mask)}: expected [left, top, right, bottom] fractions "
                    "with 0 <= left < right <= 1 and 0 <= top < bottom <= 1"
                )
        if self.background_frames < 1:
            raise ValueError(f"triage background_frames {self.background_frames}: expected >= 1")


@dataclass(frozen=True)
class Verdict:
    """Triage's answer for one event.

    `decision`: keep (every frame), thumbnail (one small image of the best frame), discard
    (nothing, or a thumbnail when `audit` is set). `score`: evidence of an animal in [0, 1], or
    None when triage could not judge (then the decision is keep, and a reason says why).
    `reasons`: machine-readable words, first the deciding one. `best_frame`: 1-based index of
    the frame to show and identify from (sharpest with the largest coherent region), or None.
    `measures`: the numbers behind the reasons, for the journal and for tuning.
    """

    decision: str
    score: float | None
    reasons: tuple[str, ...]
    best_frame: int | None = None
    audit: bool = False
    measures: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise ValueError(f"decision {self.decision!r}: expected one of {DECISIONS}")

    def to_record(self) -> dict[str, Any]:
        """The journal record's `verdict` field (plain JSON)."""
        return {
            "decision": self.decision,
            "score": None if self.score is None else round(self.score, 3),
            "reasons": list(self.reasons),
            "best_frame": self.best_frame,
            "audit": self.audit,
            "measures": {k: round(v, 4) for k, v in self.measures.items()},
        }
