"""The journal's high-water mark: how far a deployment's journal had grown, kept where a lost or
shortened journal cannot take it along.

A `Mark` is the number of the last sound record, the hex SHA-256 of its line (the chain head)
and the highest event sequence number journaled. The trap keeps one on the card
(`checkpoint.json` in the deployment folder, written when the journal has grown since the last
one: at each halt and when it takes up a card) and one per card on its own data partition
(`state.json`, device/storage/manager.py). A journal that ends before a mark, or whose line at
the mark's number is not the mark's line, has lost committed history: recovery says so in a
`lost` record (never by cutting), and `irbis card check` reports the card NOT SOUND.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device.hal.cardio import CardIO
from device.storage import layout
from device.storage.atomic import write_atomic
from device.storage.card_paths import OversizedFile, read_plain
from device.storage.journal import Journal, hash_at

CHECKPOINT_FORMAT = "irbis-checkpoint"
_HEX64 = re.compile(r"[0-9a-f]{64}")
MAX_CHECKPOINT_BYTES = 64 * 1024


class CheckpointError(ValueError):
    """A checkpoint.json that does not parse or is not this deployment's."""


@dataclass(frozen=True)
class Mark:
    """The journal as it was: last sound record `rec`, its line's `hash`, highest event `seq`."""

    rec: int
    seq: int
    hash: str
    source: str = "checkpoint"  # where the mark was read: "checkpoint" (card), "data_partition"

    def to_json(self) -> dict[str, Any]:
        return {"rec": self.rec, "seq": self.seq, "hash": self.hash}

    @classmethod
    def from_json(cls, doc: Any, source: str) -> Mark:
        """A mark from its JSON form; CheckpointError naming the bad field."""
        if not isinstance(doc, dict):
            raise CheckpointError(f"a mark is an object, not {type(doc).__name__}")
        for key in ("rec", "seq"):
            value = doc.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise CheckpointError(f"{key} {value!r} is not a count")
        if not isinstance(doc.get("hash"), str) or not _HEX64.fullmatch(doc["hash"]):
            raise CheckpointError(f"hash {doc.get('hash')!r} is not a hex SHA-256")
        return cls(doc["rec"], doc["seq"], doc["hash"], source)

    @classmethod
    def of(cls, journal: Journal) -> Mark:
        """Where an open journal stands now."""
        return cls(journal.last_rec, journal.last_seq, journal.last_hash)


def read_checkpoint(folder: Path, deployment_id: str) -> Mark | None:
    """The card's mark for this deployment folder; None when there is none. HostilePath for a
    link or anything but a plain file; CheckpointError when it does not parse or is another's."""
    try:
        raw = read_plain(folder / layout.CHECKPOINT_FILE, MAX_CHECKPOINT_BYTES, "checkpoint")
    except OversizedFile as exc:
        raise CheckpointError(str(exc)) from None
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(f"not JSON: {str(exc)[:120]}") from None
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"format is not {CHECKPOINT_FORMAT!r}")
    if doc.get("version") != layout.FORMAT_VERSION:
        raise CheckpointError(f"version {doc.get('version')!r}, expected {layout.FORMAT_VERSION}")
    if doc.get("deployment_id") != deployment_id:
        raise CheckpointError(f"deployment_id {doc.get('deployment_id')!r}, not {deployment_id!r}")
    return Mark.from_json(doc, "checkpoint")


def checkpoint_card_id(folder: Path) -> str | None:
    """The card id a checkpoint.json names (a host that rewrites the mark keeps it)."""
    try:
        raw = read_plain(folder / layout.CHECKPOINT_FILE, MAX_CHECKPOINT_BYTES, "checkpoint")
        doc = json.loads(raw or b"null")
    except (OSError, ValueError, RecursionError):  # HostilePath and OversizedFile among them
        return None
    card_id = doc.get("card_id") if isinstance(doc, dict) else None
    return card_id if isinstance(card_id, str) else None


def write_checkpoint(
    io: CardIO, folder: Path, deployment_id: str, card_id: str, mark: Mark, time: str
) -> None:
    doc = {
        "format": CHECKPOINT_FORMAT,
        "version": layout.FORMAT_VERSION,
        "deployment_id": deployment_id,
        "card_id": card_id,
        **mark.to_json(),
        "time": time,
    }
    data = (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()
    write_atomic(io, folder / layout.CHECKPOINT_FILE, data)


def broken_marks(journal: Journal, marks: list[Mark]) -> list[dict[str, Any]]:
    """The marks this journal does not reach or does not match, each with what was found:
    `shorter` (it ends before the mark) or `rewritten` (another line at the mark's number)."""
    broken = []
    for mark in marks:
        if mark.rec == 0:
            continue
        if journal.last_rec < mark.rec:
            found = "shorter"
        elif mark.rec == journal.last_rec:
            found = "" if journal.last_hash == mark.hash else "rewritten"
        else:
            found = "" if hash_at(journal.path, mark.rec) == mark.hash else "rewritten"
        if found:
            broken.append({"source": mark.source, **mark.to_json(), "found": found})
    return broken
