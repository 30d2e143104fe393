"""Which media an event stores, by triage's decision (the verdict record).

- `keep` (and a verdict without a known decision: triage did not judge): every frame;
- `thumbnail`: one thumbnail of the best frame (layout.THUMB, `<seq>-t.jpg`), no frames;
- `discard`: nothing, unless the verdict is an `audit`: then the thumbnail, so a host can check
  what triage threw away.

A thumbnail that cannot be made (neither the JPEG nor the low-resolution frame decodes) is not
stored; the error is returned for the event's record instead. Never raises for that.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from device.hal.interfaces import Frame
from device.storage import layout
from device.storage.event_store import Media
from device.storage.thumbnail import ThumbnailError, thumbnail

log = logging.getLogger("irbis.storage")


@dataclass(frozen=True)
class EventMedia:
    """The media to commit, and why an expected thumbnail is missing (None: nothing missing)."""

    media: list[Media]
    thumbnail_error: str | None = None


def media_for_verdict(
    verdict: Mapping[str, Any], frames: Sequence[Frame], metas: Sequence[dict[str, Any]]
) -> EventMedia:
    """The media of a burst's `frames` (with `metas`, one per frame) under `verdict`."""
    if not frames:
        return EventMedia([])
    decision = verdict.get("decision")
    if decision == "thumbnail" or (decision == "discard" and verdict.get("audit") is True):
        return _thumbnail_media(verdict, frames, metas)
    if decision == "discard":
        return EventMedia([])
    return EventMedia(
        [
            Media(i, frame.image_jpeg, dict(meta))
            for i, (frame, meta) in enumerate(zip(frames, metas, strict=True), start=1)
        ]
    )


def best_frame_index(verdict: Mapping[str, Any], frame_count: int) -> int:
    """The verdict's best frame (1-based) when it names one of the burst's, else the first."""
    best = verdict.get("best_frame")
    if isinstance(best, int) and not isinstance(best, bool) and 1 <= best <= frame_count:
        return best
    return 1


def _thumbnail_media(
    verdict: Mapping[str, Any], frames: Sequence[Frame], metas: Sequence[dict[str, Any]]
) -> EventMedia:
    index = best_frame_index(verdict, len(frames))
    try:
        data, source = thumbnail(frames[index - 1])
    except ThumbnailError as exc:
        error = f"thumbnail of frame {index}: {exc}"
        log.error("thumbnail not made", extra={"record": {"frame": index, "error": str(exc)}})
        return EventMedia([], error)
    meta = {**metas[index - 1], "thumb_of": index, "thumb_from": source}
    return EventMedia([Media(layout.THUMB, data, meta)])
