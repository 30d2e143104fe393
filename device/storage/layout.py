"""Card format v1: where everything lives on a card. Host tools read only this contract
(docs/card-format.md); the trap writes it.

    <card>/card.json                                   the card's identity and capacity probe
    <card>/irbis/<deployment_id>/deployment.json       config snapshot, device, firmware, place
    <card>/irbis/<deployment_id>/journal.jsonl         chained records (device/storage/journal.py)
    <card>/irbis/<deployment_id>/checkpoint.json       the journal's high-water mark (highwater.py)
    <card>/irbis/<deployment_id>/<YYYY-MM-DD>/<seq:08d>-<frame:02d>.jpg   full frames
    <card>/irbis/<deployment_id>/<YYYY-MM-DD>/<seq:08d>-t.jpg             thumbnail
    <card>/irbis/<deployment_id>/receipts/<name>.json  offload receipts written by a host

The day is the local date of the event's trigger; names come from the event sequence number and
the frame index, never from time alone. Temporary files are `.<name>.tmp` beside their target.
"""

from __future__ import annotations

import re
from pathlib import Path

FORMAT_VERSION = 1
CARD_FILE = "card.json"
TOP_DIR = "irbis"
DEPLOYMENT_FILE = "deployment.json"
JOURNAL_FILE = "journal.jsonl"
RECEIPTS_DIR = "receipts"
CHECKPOINT_FILE = "checkpoint.json"

MEDIA_NAME = re.compile(r"^(\d{8})-(\d{2}|t)\.jpg$")
DAY_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MEDIA_PATH = re.compile(r"\d{4}-\d{2}-\d{2}/\d{8}-(?:\d{2}|t)\.jpg")  # relative to the folder
THUMB = "t"


def deployment_dir(card_root: Path, deployment_id: str) -> Path:
    return card_root / TOP_DIR / deployment_id


def media_name(seq: int, frame: int | str) -> str:
    """`00000042-03.jpg` for frame 3 of event 42; `00000042-t.jpg` for its thumbnail."""
    if frame == THUMB:
        return f"{seq:08d}-{THUMB}.jpg"
    if not isinstance(frame, int) or not 1 <= frame <= 99:
        raise ValueError(f"frame index must be 1-99 or {THUMB!r}, got {frame!r}")
    if not 1 <= seq <= 99_999_999:
        raise ValueError(f"event sequence number must be 1-99999999, got {seq}")
    return f"{seq:08d}-{frame:02d}.jpg"


def media_path(day: str, seq: int, frame: int | str) -> str:
    """The media's path relative to the deployment folder, as the journal records it."""
    return f"{day}/{media_name(seq, frame)}"


def parse_media_name(name: str) -> tuple[int, str] | None:
    """(seq, frame) of a media file name, frame being '01'-'99' or 't'; None if not media."""
    m = MEDIA_NAME.match(name)
    return (int(m.group(1)), m.group(2)) if m else None
