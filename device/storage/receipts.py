"""Offload receipts: a host that has copied media off the card and verified each copy's SHA-256
writes a receipt into the deployment folder; the trap may then evict those media first.

    receipts/<YYYYmmddTHHMMSSZ>-<host>.json
    {"format": "irbis-receipt", "version": 1, "deployment_id": "...", "card_id": "...",
     "host": "...", "copied_utc": "2027-03-01T08:00:00Z", "destination": "...",
     "files": {"2026-12-01/00000001-01.jpg": "<sha256 of the verified copy>", ...}}

A file counts as offloaded only if the receipt's hash equals the journal's hash for it.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from pathlib import Path

from device.hal.cardio import CardIO
from device.storage import layout
from device.storage.atomic import make_dirs_durable, write_atomic
from device.storage.card_paths import HostilePath, OversizedFile, check_folder, read_plain

log = logging.getLogger("irbis.storage")

RECEIPT_FORMAT = "irbis-receipt"
RECEIPT_VERSION = 1
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_RECEIPT_BYTES = 64 << 20  # a whole card's files at about 100 bytes each, with room


class ReceiptError(ValueError):
    pass


def parse_receipt(data: bytes, deployment_id: str) -> dict[str, str]:
    """The files a receipt vouches for (path -> sha256); ReceiptError names what is wrong."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise ReceiptError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != RECEIPT_FORMAT:
        raise ReceiptError(f"format is not {RECEIPT_FORMAT!r}")
    if doc.get("version") != RECEIPT_VERSION:
        raise ReceiptError(f"version {doc.get('version')!r}, expected {RECEIPT_VERSION}")
    if doc.get("deployment_id") != deployment_id:
        raise ReceiptError(
            f"deployment_id {doc.get('deployment_id')!r}, expected {deployment_id!r}"
        )
    files = doc.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and _SHA256.fullmatch(v) for k, v in files.items()
    ):
        raise ReceiptError("files must map media paths to lowercase hex SHA-256")
    hostile = [k for k in files if not layout.MEDIA_PATH.fullmatch(k)]
    if hostile:
        raise ReceiptError(f"{len(hostile)} paths are not media paths, e.g. {hostile[0][:120]!r}")
    return files


def read_receipt_bytes(path: Path) -> bytes:
    """A receipt file's bytes: a plain file (never through a link) of at most
    MAX_RECEIPT_BYTES; ReceiptError otherwise."""
    try:
        data = read_plain(path, MAX_RECEIPT_BYTES, "receipt")
    except HostilePath as exc:
        raise ReceiptError(exc.why) from None
    except OversizedFile as exc:
        raise ReceiptError(str(exc)) from None
    if data is None:
        raise ReceiptError("no longer there")
    return data


def read_receipts(deployment_root: Path, deployment_id: str) -> dict[str, str]:
    """Every file vouched for by a sound receipt; unsound receipts are logged and skipped."""
    vouched: dict[str, str] = {}
    try:
        folder = check_folder(deployment_root, layout.RECEIPTS_DIR, "receipts folder")
    except HostilePath as exc:
        log.error("receipts refused", extra={"record": {"why": str(exc)}})
        return vouched
    if not folder.is_dir():
        return vouched
    for path in sorted(folder.glob("*.json")):
        try:
            vouched.update(parse_receipt(read_receipt_bytes(path), deployment_id))
        except (ReceiptError, OSError) as exc:
            log.warning("receipt skipped", extra={"record": {"file": path.name, "why": str(exc)}})
    return vouched


def write_receipt(
    deployment_root: Path,
    deployment_id: str,
    card_id: str,
    host: str,
    copied_utc: datetime,
    destination: str,
    files: dict[str, str],
    io: CardIO,
) -> Path:
    """Write a receipt (host side, after verifying every copy)."""
    stamp = copied_utc.strftime("%Y%m%dT%H%M%SZ")
    doc = {
        "format": RECEIPT_FORMAT,
        "version": RECEIPT_VERSION,
        "deployment_id": deployment_id,
        "card_id": card_id,
        "host": host,
        "copied_utc": copied_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "destination": destination,
        "files": files,
    }
    parse_receipt(json.dumps(doc).encode(), deployment_id)  # the writer obeys its own format
    folder = check_folder(deployment_root, layout.RECEIPTS_DIR, "receipts folder")
    make_dirs_durable(io, folder, deployment_root)
    path = folder / f"{stamp}-{re.sub(r'[^A-Za-z0-9._-]', '_', host)}.json"
    write_atomic(io, path, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())
    return path
