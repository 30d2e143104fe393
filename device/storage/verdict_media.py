"""Which media an event stores, by triage's decision (the verdict record).

Triage's verdict is a value, not a deletion. By default (`triage.discard_at_capture = false`)
every frame of every event is stored while the card has room; an event of low value (judged
empty, or scored under `storage.low_score_below`: device/storage/index.py) also gets a thumbnail
of its best frame (layout.THUMB, `<seq>-t.jpg`), so that when the card fills its frames can go
first while the thumbnail stays (eviction in value order).

With `triage.discard_at_capture = true` (today's behaviour before, for users who want it) the
decision decides at capture:
- `keep` (and a verdict without a known decision: triage did not judge): every frame;
- `thumbnail`: one thumbnail of the best frame, no frames;
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
from device.storage.index import is_low_value
from device.storage.thumbnail import ThumbnailError, thumbnail

log = logging.getLogger("irbis.storage")


@dataclass(frozen=True)
class EventMedia:
    """The media to commit, and why an expected thumbnail is missing (None: nothing missing)."""

    media: list[Media]
    thumbnail_error: str | None = None


def media_for_verdict(
    verdict: Mapping[str, Any],
    frames: Sequence[Frame],
    metas: Sequence[dict[str, Any]],
    low_score_below: float,
    discard_at_capture: bool = False,
) -> EventMedia:
    """The media of a burst's `frames` (with `metas`, one per frame) under `verdict`."""
    if not frames:
        return EventMedia([])
    if discard_at_capture:
        decision = verdict.get("decision")
        if decision == "thumbnail" or (decision == "discard" and verdict.get("audit") is True):
            return _thumbnail_media(verdict, frames, metas)
        if decision == "discard":
            return EventMedia([])
        return EventMedia(_frame_media(frames, metas))
    if not is_low_value(verdict, low_score_below):
        return EventMedia(_frame_media(frames, metas))
    thumb = _thumbnail_media(verdict, frames, metas)
    return EventMedia(_frame_media(frames, metas) + thumb.media, thumb.thumbnail_error)


def _frame_media(frames: Sequence[Frame], metas: Sequence[dict[str, Any]]) -> list[Media]:
    return [
        Media(i, frame.image_jpeg, dict(meta))
        for i, (frame, meta) in enumerate(zip(frames, metas, strict=True), start=1)
    ]


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
