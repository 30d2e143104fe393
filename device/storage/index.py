"""What to evict when the card fills, in value order, without scanning the card.

Triage's verdict is each event's value, never a deletion while the card has room
(device/storage/verdict_media.py). An event is of *low value* when triage judged it empty
(decision `discard` or `thumbnail`, or `empty`) or scored it below `storage.low_score_below`;
such an event is stored whole together with a thumbnail of its best frame. The index is built
once from the journal (and the offload receipts) and then kept up to date by each commit and
eviction, so choosing the next victim is a pop from a queue. Order:

1. `offloaded`: media a host has verified as copied (any verdict), oldest first;
2. `demoted`: the full frames of low-value events, lowest score first (then oldest); the
   event's thumbnail stays, so it is demoted to its thumbnail;
3. `thumbnail`: the thumbnails of low-value events, lowest score first (then oldest);
4. `ring`: in ring mode only, everything else (animal media too), oldest first.

Outside ring mode, media of events triage kept as an animal (decision `keep`, scored at or above
the threshold), or with no score (triage could not decide, was not enabled, or the event was
recovered after a cut), are never evicted. Media whose path is not a media path inside the
folder, or that names another event's number (a hostile record, device/storage/card_paths.py),
never enter a queue: they are counted in `refused` and never touched.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from device.storage.layout import MEDIA_PATH

log = logging.getLogger("irbis.storage")

ORDER = ("offloaded", "demoted", "thumbnail", "ring")
_HEAPS = ("demoted", "thumbnail")


@dataclass
class Victim:
    seq: int
    files: list[str]
    bytes: int


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def is_low_value(verdict: Mapping[str, Any], low_score_below: float) -> bool:
    """Did triage judge this event empty, or score it under the threshold?"""
    decision = verdict.get("decision")
    if decision in ("discard", "thumbnail") or verdict.get("empty") is True:
        return True
    score = _number(verdict.get("score"))
    return decision == "keep" and score is not None and score < low_score_below


class EvictionIndex:
    def __init__(self, low_score_below: float, ring: bool) -> None:
        self.low_score_below = low_score_below
        self.ring = ring
        self._offloaded: deque[Victim] = deque()
        self._ring: deque[Victim] = deque()
        self._heaps: dict[str, list[tuple[float, int, int, Victim]]] = {n: [] for n in _HEAPS}
        self._order = itertools.count()  # ties after (score, seq): insertion order
        self._sizes: dict[str, tuple[int, str, int]] = {}  # file -> (seq, sha256, bytes)
        self._gone: set[str] = set()
        self.committed_bytes = 0
        self.refused = 0  # media entries with a path that is not a media path: never touched

    def add(self, record: dict[str, Any]) -> None:
        """Feed one journal record (events and evictions; others are ignored)."""
        kind = record.get("kind")
        if kind == "event":
            self._add_event(record)
        elif kind == "evict":
            files = record.get("files")
            for rel in files if isinstance(files, list) else []:
                if isinstance(rel, str):
                    self._forget(rel)

    def _add_event(self, record: dict[str, Any]) -> None:
        media = record.get("media")
        if not isinstance(media, list) or not media:
            return
        seq = int(record["seq"])
        frames: list[str] = []
        thumbs: list[str] = []
        for m in media:
            if not _sound_entry(m, seq):
                self.refused += 1
                log.error(
                    "journal media entry refused",
                    extra={"record": {"rec": record.get("rec"), "entry": repr(m)[:200]}},
                )
                continue
            self._sizes[m["file"]] = (seq, m["sha256"], m["bytes"])
            self._gone.discard(m["file"])
            self.committed_bytes += m["bytes"]
            (thumbs if m.get("role") == "thumb" else frames).append(m["file"])
        if not frames and not thumbs:
            return
        verdict = record.get("verdict")
        verdict = verdict if isinstance(verdict, dict) else {}
        if is_low_value(verdict, self.low_score_below):
            score = _number(verdict.get("score")) or 0.0
            for name, files in (("demoted", frames), ("thumbnail", thumbs)):
                if files:
                    victim = self._victim(seq, files)
                    heapq.heappush(self._heaps[name], (score, seq, next(self._order), victim))
        self._ring.append(self._victim(seq, frames + thumbs))

    def _victim(self, seq: int, files: list[str]) -> Victim:
        return Victim(seq, files, sum(self._sizes[f][2] for f in files))

    def add_offloaded(self, vouched: dict[str, str]) -> int:
        """Mark files a receipt vouches for (when its hash matches); returns how many."""
        by_seq: dict[int, list[str]] = {}
        for rel, sha in vouched.items():
            known = self._sizes.get(rel)
            if known is not None and known[1] == sha and rel not in self._gone:
                by_seq.setdefault(known[0], []).append(rel)
        merged = sorted([*((v.seq, v.files) for v in self._offloaded), *by_seq.items()])
        self._offloaded = deque(self._victim(seq, sorted(files)) for seq, files in merged)
        return sum(len(f) for f in by_seq.values())

    def _forget(self, rel: str) -> None:
        if rel in self._sizes and rel not in self._gone:
            self._gone.add(rel)
            self.committed_bytes -= self._sizes[rel][2]

    def pop(self) -> tuple[str, Victim] | None:
        """The next files to evict and why, or None when nothing may go."""
        for name in ORDER:
            if name == "ring" and not self.ring:
                return None
            while True:
                victim = self._next(name)
                if victim is None:
                    break
                files = [f for f in victim.files if f not in self._gone]
                if files:
                    for f in files:
                        self._forget(f)
                    return name, self._victim(victim.seq, files)
        return None

    def _next(self, name: str) -> Victim | None:
        if name in self._heaps:
            heap = self._heaps[name]
            return heapq.heappop(heap)[3] if heap else None
        queue = self._offloaded if name == "offloaded" else self._ring
        return queue.popleft() if queue else None


def _sound_entry(m: Any, seq: int) -> bool:
    """A media entry the index may act on: a media path of this event's own number inside the
    folder (a record cannot make another event's file its own), a hash, a size."""
    return (
        isinstance(m, dict)
        and isinstance(m.get("file"), str)
        and MEDIA_PATH.fullmatch(m["file"]) is not None
        and int(m["file"][11:19]) == seq
        and isinstance(m.get("sha256"), str)
        and isinstance(m.get("bytes"), int)
        and not isinstance(m.get("bytes"), bool)
        and m["bytes"] >= 0
    )
