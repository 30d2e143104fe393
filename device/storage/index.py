"""What to evict when the card fills, in value order, without scanning the card.

The index is built once from the journal (and the offload receipts) and then kept up to date by
each commit and eviction, so choosing the next victim is a pop from a queue. Order:

1. `offloaded`: media a host has verified as copied (any verdict), oldest first;
2. `thumb_of_discarded`: thumbnails of events triage discarded (kept for audit);
3. `empty_verdict`: media of events triage judged empty (decision "thumbnail", or `empty`);
4. `low_score`: media of kept events scored below the threshold, oldest first;
5. `ring`: in ring mode only, everything else (animal media too), oldest first.

Outside ring mode, media of kept events with a score at or above the threshold, or with no
score (triage could not decide, or was not enabled), are never evicted.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

ORDER = ("offloaded", "thumb_of_discarded", "empty_verdict", "low_score", "ring")


@dataclass
class Victim:
    seq: int
    files: list[str]
    bytes: int


def value_class(record: dict[str, Any], low_score_below: float) -> str | None:
    """The eviction class of an event record; None when only ring mode may evict it."""
    verdict = record.get("verdict") or {}
    decision = verdict.get("decision")
    if decision == "discard":
        return "thumb_of_discarded"
    if decision == "thumbnail" or verdict.get("empty") is True:
        return "empty_verdict"
    score = verdict.get("score")
    if decision == "keep" and isinstance(score, (int, float)) and score < low_score_below:
        return "low_score"
    return None


class EvictionIndex:
    def __init__(self, low_score_below: float, ring: bool) -> None:
        self.low_score_below = low_score_below
        self.ring = ring
        self._queues: dict[str, deque[Victim]] = {name: deque() for name in ORDER}
        self._sizes: dict[str, tuple[int, str, int]] = {}  # file -> (seq, sha256, bytes)
        self._gone: set[str] = set()
        self.committed_bytes = 0

    def add(self, record: dict[str, Any]) -> None:
        """Feed one journal record (events and evictions; others are ignored)."""
        kind = record.get("kind")
        if kind == "event":
            self._add_event(record)
        elif kind == "evict":
            for rel in record.get("files", []):
                self._forget(rel)

    def _add_event(self, record: dict[str, Any]) -> None:
        media = record.get("media") or []
        if not media:
            return
        seq = int(record["seq"])
        files = []
        for m in media:
            self._sizes[m["file"]] = (seq, m["sha256"], int(m["bytes"]))
            self._gone.discard(m["file"])
            self.committed_bytes += int(m["bytes"])
            files.append(m["file"])
        victim = Victim(seq, files, sum(int(m["bytes"]) for m in media))
        cls = value_class(record, self.low_score_below)
        if cls is not None:
            self._queues[cls].append(victim)
        self._queues["ring"].append(victim)

    def add_offloaded(self, vouched: dict[str, str]) -> int:
        """Mark files a receipt vouches for (when its hash matches); returns how many."""
        by_seq: dict[int, list[str]] = {}
        for rel, sha in vouched.items():
            known = self._sizes.get(rel)
            if known is not None and known[1] == sha and rel not in self._gone:
                by_seq.setdefault(known[0], []).append(rel)
        merged = sorted([*((v.seq, v.files) for v in self._queues["offloaded"]), *by_seq.items()])
        self._queues["offloaded"] = deque(
            Victim(seq, sorted(files), sum(self._sizes[f][2] for f in files))
            for seq, files in merged
        )
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
            queue = self._queues[name]
            while queue:
                victim = queue.popleft()
                files = [f for f in victim.files if f not in self._gone]
                if files:
                    for f in files:
                        self._forget(f)
                    return name, Victim(victim.seq, files, sum(self._sizes[f][2] for f in files))
        return None
