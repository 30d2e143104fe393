"""`irbis card check`: read a card (or one deployment folder) as a host tool does and say whether
every committed media is there, whole and vouched for by a sound journal that lost nothing,
naming each file or record that is not.

Per deployment folder (`<card>/irbis/<id>/`, or DIR itself when it holds journal.jsonl or
deployment.json) it scans the journal (`journal.scan`: CRCs, chain, numbering, torn tail) and
replays it: an `event` commits its media, a later `evict` takes files back; event seqs should
grow by one from the `open` record's `after_seq` (gaps, from a card swap or a failed store, are
reported, not failed). It reads each committed media once, in 1 MiB chunks, checking its size
and then its SHA-256; lists the day folders for orphans and `.*.tmp` leftovers; and parses
deployment.json, checkpoint.json, the receipts and, for a card, card.json.

The card is untrusted: every path it names goes through device/storage/card_paths.py, and a path
leading outside the folder or through a symbolic link is an error (`hostile_path`) that is
named and never opened. Lost history is an error: a journal that ends before (or differs at)
its checkpoint's high-water mark, a `lost` record the trap wrote, and media of events the
journal does not hold (an empty or missing journal beside media included). Only the media of one
event past the journal's end can be a commit a power cut interrupted (a warning: the trap adopts
them at its next start, and `--repair` now).

Exit status: 0 sound (warnings allowed), 1 not sound (an error), 3 DIR is not a card, 4 some of
the card could not be read (or, with --repair, written): permissions, a read-only card. (2 is a
usage error, from argparse.)

With `repair`, the trap's recovery (`device.storage.recovery.recover`, thorough, with the card's
checkpoint as its high-water mark) first runs on each deployment folder that has a journal: it
removes temporaries, cuts a torn journal tail, finishes an interrupted eviction and adopts a cut
commit's media, never deleting committed media or touching a hostile path. Lost history is not
mended: recovery journals a `lost` record saying what is missing, and the check stays NOT SOUND.
"""

from __future__ import annotations

from pathlib import Path

from device.storage import layout
from device.storage.card_paths import HostilePath, check_folder
from tools.card_deployment import DeploymentCheck
from tools.card_report import (
    EXIT_ACCESS,
    EXIT_NOT_A_CARD,
    EXIT_NOT_SOUND,
    EXIT_SOUND,
    WARNING,
    CardReport,
    Counts,
    Finding,
    check_doc,
    entries,
)

__all__ = [
    "EXIT_ACCESS",
    "EXIT_NOT_A_CARD",
    "EXIT_NOT_SOUND",
    "EXIT_SOUND",
    "CardReport",
    "Counts",
    "Finding",
    "NotACard",
    "check_card",
]

CARD_FORMAT = "irbis-card"


class NotACard(ValueError):
    """DIR is neither a card nor a deployment folder (the CLI exits 3)."""


def check_card(card_root: Path, repair: bool = False) -> CardReport:
    """Check the card or deployment folder `card_root`; NotACard when it is neither."""
    root = Path(card_root).resolve()
    kind, folders = _deployment_folders(root)
    report = CardReport(root, kind)
    if kind == "card":
        check_doc(root / layout.CARD_FILE, CARD_FORMAT, report, {"card_id": None})
        folders = _card_folders(root, report)
    for folder in folders:
        check = DeploymentCheck(folder, report)
        report.deployments.append(check.name)
        report.counts.deployments += 1
        if repair:
            check.repair()
        check.run()
    return report


def _deployment_folders(root: Path) -> tuple[str, list[Path]]:
    if not root.is_dir():
        raise NotACard(f"{root} is not a folder" if root.exists() else f"{root} does not exist")
    if (root / layout.JOURNAL_FILE).exists() or (root / layout.DEPLOYMENT_FILE).exists():
        return "deployment", [root]
    top = root / layout.TOP_DIR
    if (root / layout.CARD_FILE).exists() or top.is_dir() or top.is_symlink():
        return "card", []
    hint = "; give the card's root, its parent" if root.name == layout.TOP_DIR else ""
    raise NotACard(
        f"{root} is neither a card (no {layout.CARD_FILE}, no {layout.TOP_DIR}/ folder) nor a "
        f"deployment folder (no {layout.JOURNAL_FILE}, no {layout.DEPLOYMENT_FILE}){hint}"
    )


def _card_folders(root: Path, report: CardReport) -> list[Path]:
    """The deployment folders under irbis/: real folders only; links are named, not entered."""
    try:
        top = check_folder(root, layout.TOP_DIR, "card folder")
    except HostilePath as exc:
        report.counts.hostile_paths += 1
        report.add(layout.TOP_DIR, "hostile_path", f"{exc.why}; not followed")
        return []
    if not top.is_dir():
        return []
    folders = []
    for entry in entries(top, report, layout.TOP_DIR):
        rel = f"{layout.TOP_DIR}/{entry.name}"
        if entry.is_symlink():
            report.counts.hostile_paths += 1
            report.add(rel, "hostile_path", "a symbolic link; not followed")
        elif entry.is_dir(follow_symlinks=False):
            folders.append(Path(entry.path))
        else:
            report.add(rel, "unknown_entry", "not part of card format v1", WARNING)
    return folders
