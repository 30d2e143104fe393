"""`card.json` (which card this is) and `deployment.json` (what wrote this folder), format v1.

Both are written once, atomically, and never overwritten: a card.json or deployment.json that
does not parse or belongs to someone else makes the card unusable for this trap, with a message
naming the file and what is wrong (see docs/card-format.md).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from device import __version__
from device.config import TrapConfig
from device.errors import CardError
from device.hal.cardio import CardIO
from device.storage import layout
from device.storage.atomic import write_atomic
from device.storage.card_paths import OversizedFile, read_plain

CARD_FORMAT = "irbis-card"
DEPLOYMENT_FORMAT = "irbis-deployment"
MAX_DOC_BYTES = 1 << 20  # ours are a few kB; a card cannot make the trap read gigabytes


class ForeignCard(CardError):
    """The card (or its deployment folder) is not this trap's to write."""


class ReadOnlyCard(CardError):
    """The card is mounted read-only or its folder is not writable."""


def check_card_path(path: Path) -> None:
    """Refuse a card path that is missing, not a directory or read-only, saying which.

    Read-only is read from the mount's flags (a card's write-protect switch makes the kernel
    mount it read-only) and from permissions; no probe file is written, since in gated mode the
    trap starts on every wake and each probe would be two more metadata writes on the card.
    """
    if not path.exists():
        raise CardError(f"card path {path} does not exist (is the card mounted?)")
    if not path.is_dir():
        raise CardError(f"card path {path} is not a directory")
    if os.statvfs(path).f_flag & os.ST_RDONLY:
        raise ReadOnlyCard(
            f"card path {path} is not writable (mounted read-only); "
            "is the card's write-protect switch on?"
        )
    if not os.access(path, os.W_OK | os.X_OK):
        raise ReadOnlyCard(f"card path {path} is not writable (read-only permissions)")


def _load(path: Path, fmt: str, required: tuple[str, ...]) -> dict[str, Any] | None:
    """The document at `path`, None when missing; ForeignCard says what is wrong with it."""
    try:
        raw = read_plain(path, MAX_DOC_BYTES, path.name)  # HostilePath for a link
    except OversizedFile as exc:
        raise ForeignCard(f"{exc}; not ours, not touching it") from None
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise ForeignCard(f"{path} is not JSON ({exc}); not touching it") from None
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise ForeignCard(f"{path} has format {found!r}, expected {fmt!r}; not touching it")
    if doc.get("version") != layout.FORMAT_VERSION:
        raise ForeignCard(
            f"{path} is version {doc.get('version')!r}; this firmware writes version "
            f"{layout.FORMAT_VERSION}; not touching it"
        )
    missing = [k for k in required if not isinstance(doc.get(k), str) or not doc.get(k)]
    if missing:
        raise ForeignCard(f"{path} lacks {', '.join(missing)}; not touching it")
    return doc


def read_card(card_root: Path) -> dict[str, Any] | None:
    return _load(card_root / layout.CARD_FILE, CARD_FORMAT, ("card_id", "first_use_utc"))


def new_card(
    hardware_id: str, device_id: str, now_utc: datetime, claimed_bytes: int, probe: dict[str, Any]
) -> dict[str, Any]:
    stamp = now_utc.isoformat(timespec="seconds")
    card_id = hashlib.sha256(f"{hardware_id}|{device_id}|{stamp}".encode()).hexdigest()[:16]
    return {
        "format": CARD_FORMAT,
        "version": layout.FORMAT_VERSION,
        "card_id": card_id,
        "hardware_id": hardware_id,
        "first_use_utc": stamp,
        "first_device_id": device_id,
        "claimed_bytes": claimed_bytes,
        "capacity_probe": probe,
    }


def write_new(io: CardIO, path: Path, doc: dict[str, Any]) -> None:
    if path.exists():
        raise ForeignCard(f"{path} appeared while this trap was writing it; not overwriting it")
    write_atomic(io, path, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())


def read_deployment(folder: Path, deployment_id: str, device_id: str) -> dict[str, Any] | None:
    """This deployment folder's deployment.json, checked to be this trap's."""
    doc = _load(folder / layout.DEPLOYMENT_FILE, DEPLOYMENT_FORMAT, ("deployment_id", "device_id"))
    if doc is None:
        return None
    for key, ours in (("deployment_id", deployment_id), ("device_id", device_id)):
        if doc[key] != ours:
            raise ForeignCard(
                f"{folder / layout.DEPLOYMENT_FILE} belongs to {key} {doc[key]!r}, "
                f"this trap is {ours!r}; not writing into that folder"
            )
    return doc


def coarsen(value_deg: float, step_deg: float) -> float:
    """Round a coordinate down to a grid of `step_deg` (0: unchanged), hiding a sensitive site."""
    if step_deg <= 0:
        return value_deg
    return round(math.floor(value_deg / step_deg) * step_deg, 6)


def new_deployment(config: TrapConfig, now_utc: datetime) -> dict[str, Any]:
    step = float(config["site.coarsen_location_deg"])
    lat = coarsen(config["site.latitude_deg"], step)
    lon = coarsen(config["site.longitude_deg"], step)
    snapshot = {s or "top": dict(v) for s, v in config.values.items()}
    for where in ("card_path", "data_path"):  # where this machine mounts things, not the survey's
        snapshot["storage"].pop(where, None)
    snapshot["site"] = {**snapshot["site"], "latitude_deg": lat, "longitude_deg": lon}
    return {
        "format": DEPLOYMENT_FORMAT,
        "version": layout.FORMAT_VERSION,
        "deployment_id": config["deployment_id"],
        "device_id": config["device_id"],
        "firmware": __version__,
        "created_utc": now_utc.isoformat(timespec="seconds"),
        "location": {
            "latitude_deg": lat,
            "longitude_deg": lon,
            "coarsened_to_deg": step or None,
        },
        "config": snapshot,
    }
