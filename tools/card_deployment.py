"""One deployment folder of a card, checked as a host tool reads it (see tools/card_check.py):
the journal replayed, every committed media hashed, lost history and hostile paths found."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from device.errors import CardError
from device.hal.cardio import OS_IO
from device.storage import layout
from device.storage.atomic import is_temp_name
from device.storage.card_paths import HostilePath, media_path
from device.storage.highwater import (
    CheckpointError,
    Mark,
    checkpoint_card_id,
    read_checkpoint,
    write_checkpoint,
)
from device.storage.journal import hash_at, scan
from device.storage.receipts import ReceiptError, parse_receipt, read_receipt_bytes
from tools.card_report import ERROR, WARNING, CardReport, check_doc, entries

CHUNK_BYTES = 1 << 20
DEPLOYMENT_FORMAT = "irbis-deployment"
_ACCESS_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS}


class DeploymentCheck:
    """One deployment folder: findings are named relative to the report's root."""

    def __init__(self, folder: Path, report: CardReport) -> None:
        self.folder, self.report = folder, report
        self.name = folder.relative_to(report.root).as_posix()
        self.prefix = "" if self.name == "." else self.name + "/"
        self.committed: dict[str, dict[str, Any]] = {}  # path -> the event's media entry
        self.evicted: dict[str, str] = {}  # path -> which record evicted it and why
        self.journaled_seqs: set[int] = set()
        self.last_seq: int | None = None
        self.last_rec = 0
        self.checkpoint: Mark | None = None
        self.unjournaled: dict[int, list[str]] = {}  # seq -> media on the card, no record

    def add(self, rel: str, problem: str, detail: str, severity: str = ERROR) -> None:
        self.report.add(self.prefix + rel, problem, detail, severity)

    def hostile(self, rel: str, detail: str) -> None:
        self.report.counts.hostile_paths += 1
        self.add(rel, "hostile_path", detail)

    def repair(self) -> None:
        """The trap's recovery, thorough; its records are journaled when it did something."""
        from device.storage.recovery import recover

        journal = self.folder / layout.JOURNAL_FILE
        if not journal.exists() and not journal.is_symlink():
            self.add(layout.JOURNAL_FILE, "not_repaired", "no journal to recover", WARNING)
            return
        checkpoint = self.read_checkpoint(quiet=True)
        marks = (checkpoint,) if checkpoint is not None else ()
        try:
            now = datetime.now(UTC).isoformat(timespec="seconds")
            journal, recovery = recover(self.folder, OS_IO, True, now, marks)
        except CardError as exc:
            if isinstance(exc, HostilePath):
                self.report.counts.hostile_paths += 1
            self.add(layout.JOURNAL_FILE, "not_repaired", str(exc), WARNING)
            return
        except OSError as exc:
            if exc.errno in _ACCESS_ERRNOS:
                self.report.access_denied(self.prefix + layout.JOURNAL_FILE, "not_repaired", exc)
                return
            raise
        if recovery.lost is not None:
            # the journal now says what was lost: the mark moves on, as the trap's does, so
            # the same loss is not found (and journaled) again at every start or repair
            card_id = checkpoint_card_id(self.folder) or "unknown"
            write_checkpoint(OS_IO, self.folder, self.folder.name, card_id, Mark.of(journal), now)
        self.report.repairs.append(
            {"deployment": self.name, **recovery.to_record(), "lost": recovery.lost}
        )

    def run(self) -> None:
        doc = self.folder / layout.DEPLOYMENT_FILE
        check_doc(doc, DEPLOYMENT_FORMAT, self.report, {"deployment_id": self.folder.name})
        self.checkpoint = self.read_checkpoint()
        self.check_journal()
        self.verify_media()
        self.walk_files()
        self.check_history()

    def read_checkpoint(self, quiet: bool = False) -> Mark | None:
        try:
            return read_checkpoint(self.folder, self.folder.name)
        except HostilePath as exc:
            if not quiet:
                self.hostile(layout.CHECKPOINT_FILE, f"{exc.why}; not read")
        except CheckpointError as exc:
            if not quiet:
                self.add(layout.CHECKPOINT_FILE, "bad_checkpoint", str(exc), WARNING)
        except OSError as exc:
            if not quiet:
                self.report.access_denied(self.prefix + layout.CHECKPOINT_FILE, "unreadable", exc)
        return None

    def check_journal(self) -> None:
        """Scan the journal and replay it into committed and evicted media."""
        path = self.folder / layout.JOURNAL_FILE
        if path.is_symlink():
            self.hostile(layout.JOURNAL_FILE, "a symbolic link; not read")
            return
        if not path.is_file():
            self.add(layout.JOURNAL_FILE, "journal_missing", "no media can be vouched for")
            return
        try:
            result = scan(path)
        except RecursionError as exc:
            self.add(layout.JOURNAL_FILE, "unreadable", f"{type(exc).__name__}: {exc}")
            return
        except OSError as exc:
            self.report.access_denied(self.prefix + layout.JOURNAL_FILE, "unreadable", exc)
            return
        self.report.counts.records += len(result.records)
        self.report.counts.journal_problems += len(result.problems)
        self.last_rec = result.last_rec
        for p in result.problems:
            if p.reason == "torn_tail":
                after = f"after rec {result.last_rec}" if result.records else "(no sound record)"
                detail = f"{result.torn_tail_bytes} B at byte {p.offset} {after}; --repair cuts it"
            else:
                detail = f"line {p.line_no} (byte {p.offset}): {p.detail}"
            self.add(layout.JOURNAL_FILE, p.reason, detail)
        records = result.records
        if records and records[0].get("kind") != "open":
            detail = f"rec 1 is {records[0].get('kind')!r}"
            self.add(layout.JOURNAL_FILE, "no_open_record", detail, WARNING)
        elif records and _is_count(records[0].get("after_seq")):
            self.last_seq = records[0]["after_seq"]
        for r in records:
            kind, where = r.get("kind"), f"rec {r['rec']}"
            if kind == "event":
                self.report.counts.events += 1
                self.replay_event(r, where)
            elif kind == "evict":
                self.replay_evict(r, where)
            elif kind == "lost":
                self.replay_lost(r, where)

    def replay_event(self, r: dict[str, Any], where: str) -> None:
        seq, last = r.get("seq"), self.last_seq
        if not _is_count(seq) or seq < 1:
            self.add(layout.JOURNAL_FILE, "bad_record", f"{where}: event seq {seq!r}", WARNING)
        else:
            self.journaled_seqs.add(seq)
            if last is not None and seq <= last:
                detail = f"{where}: event {seq} after {last}"
                self.add(layout.JOURNAL_FILE, "seq_not_increasing", detail, WARNING)
            else:
                if last is not None and seq > last + 1:
                    self.report.counts.seq_gaps += 1
                    gap = f"{last + 1}" if seq == last + 2 else f"{last + 1}-{seq - 1}"
                    detail = f"{where}: no event {gap} (event {seq} after {last})"
                    self.add(layout.JOURNAL_FILE, "seq_gap", detail, WARNING)
                self.last_seq = seq
        media = r.get("media")
        for m in media if isinstance(media, list) else []:
            bad = _bad_media(m)
            if bad:
                self.add(layout.JOURNAL_FILE, "bad_record", f"{where}: media {bad}", WARNING)
                continue
            try:
                media_path(self.folder, m["file"])
            except HostilePath as exc:
                self.hostile(layout.JOURNAL_FILE, f"{where}: media {exc}; not opened")
                continue
            if _is_count(seq) and int(m["file"][11:19]) != seq:
                detail = f"{where}: event {seq} names {m['file']!r}, another event's file"
                self.hostile(layout.JOURNAL_FILE, detail)
                continue
            if m["file"] in self.committed:
                self.add(m["file"], "listed_twice", f"committed again at {where}", WARNING)
            self.committed[m["file"]] = {**m, "_by": f"event {seq} ({where})"}
            self.evicted.pop(m["file"], None)

    def replay_evict(self, r: dict[str, Any], where: str) -> None:
        files = r.get("files")
        for rel in files if isinstance(files, list) else []:
            try:
                media_path(self.folder, rel, "evicted file")
            except HostilePath as exc:
                self.hostile(layout.JOURNAL_FILE, f"{where}: {exc}; never deleted")
                continue
            if self.committed.pop(rel, None) is None:
                detail = f"{where} evicts it but no earlier event commits it"
                self.add(rel, "evicted_unknown", detail, WARNING)
            self.evicted[rel] = f"evicted at {where} ({r.get('reason')})"

    def replay_lost(self, r: dict[str, Any], where: str) -> None:
        """The trap (or a repair) found committed history missing and said so."""
        lost = r.get("lost_records") if _is_count(r.get("lost_records")) else 0
        self.report.counts.lost_records += lost
        marks = r.get("marks") if isinstance(r.get("marks"), list) else []
        said = [
            f"{m.get('source')} mark rec {m.get('rec')} (event {m.get('seq')}): journal "
            f"{m.get('found')}"
            for m in marks
            if isinstance(m, dict)
        ]
        events = r.get("unjournaled_events")
        if events:
            said.append(f"{events} events ({r.get('unjournaled_media')} media) not in it")
        detail = f"{where}: the journal lost {lost} records; " + "; ".join(said)
        self.add(layout.JOURNAL_FILE, "history_lost", detail)

    def verify_media(self) -> None:
        """Read each committed media once: its size first, then its SHA-256 in 1 MiB chunks."""
        buf, c = bytearray(CHUNK_BYTES), self.report.counts
        for rel in sorted(self.committed):
            m = self.committed[rel]
            c.committed_media += 1
            c.committed_bytes += m["bytes"]
            said = f"committed by {m['_by']}"
            try:
                size, digest = _size_and_hash(media_path(self.folder, rel), m["bytes"], buf)
            except HostilePath as exc:
                self.hostile(rel, f"{said}: {exc.why}; not opened")
                continue
            except FileNotFoundError:
                c.missing += 1
                self.add(rel, "missing", f"{said}, {m['bytes']} B")
                continue
            except OSError as exc:
                if exc.errno in _ACCESS_ERRNOS:
                    self.report.access_denied(self.prefix + rel, "unreadable", exc)
                    continue
                c.corrupt += 1
                self.add(rel, "unreadable", f"{said}: {exc}")
                continue
            if size != m["bytes"]:
                c.corrupt += 1
                self.add(rel, "corrupt", f"{said}: {size} B on the card, journal says {m['bytes']}")
            elif digest != m["sha256"].lower():
                c.corrupt += 1
                self.add(rel, "corrupt", f"{said}: SHA-256 {digest}, journal says {m['sha256']}")
            else:
                c.verified += 1

    def walk_files(self) -> None:
        """Orphans and temporaries in day folders; temporaries, receipts and strays elsewhere.
        Links are named and never entered or read."""
        for entry in entries(self.folder, self.report, self.prefix or "."):
            if entry.is_symlink():
                self.hostile(entry.name, "a symbolic link on the card; not followed")
            elif is_temp_name(entry.name):
                self.temp(entry.name)
            elif entry.is_dir() and layout.DAY_DIR.match(entry.name):
                self.walk_day(entry)
            elif entry.is_dir() and entry.name == layout.RECEIPTS_DIR:
                self.check_receipts(entry.name)
            elif entry.name not in (
                layout.JOURNAL_FILE,
                layout.DEPLOYMENT_FILE,
                layout.CHECKPOINT_FILE,
            ):
                self.add(entry.name, "unknown_entry", "not part of card format v1", WARNING)

    def walk_day(self, day: os.DirEntry[str]) -> None:
        for f in entries(Path(day.path), self.report, self.prefix + day.name):
            rel = f"{day.name}/{f.name}"
            if f.is_symlink():
                self.hostile(rel, "a symbolic link on the card; not followed")
            elif is_temp_name(f.name):
                self.temp(rel)
            elif rel not in self.committed:
                self.report.counts.orphans += 1
                parsed = layout.parse_media_name(f.name)
                if parsed and parsed[0] not in self.journaled_seqs and rel not in self.evicted:
                    self.unjournaled.setdefault(parsed[0], []).append(rel)
                else:
                    self.add(rel, "orphan", self.orphan_why(rel), WARNING)

    def temp(self, rel: str) -> None:
        self.report.counts.temps += 1
        self.add(rel, "temp_file", "left by a write a power cut interrupted", WARNING)

    def orphan_why(self, rel: str) -> str:
        if rel in self.evicted:
            return f"{self.evicted[rel]} but still on the card"
        return "no journal record commits it (its event's record does not list it)"

    def check_history(self) -> None:
        """Lost history: the journal against its checkpoint, and media the journal lacks."""
        mark = self.checkpoint
        if mark is not None and mark.rec > 0:
            if self.last_rec < mark.rec:
                self.report.counts.lost_records += mark.rec - self.last_rec
                self.add(
                    layout.JOURNAL_FILE,
                    "journal_cut_short",
                    f"checkpoint.json says rec {mark.rec} (event {mark.seq}) was committed; "
                    f"the journal ends at rec {self.last_rec}: {mark.rec - self.last_rec} "
                    "records lost",
                )
            elif self._hash_at(mark.rec) != mark.hash:
                self.add(
                    layout.JOURNAL_FILE,
                    "journal_rewritten",
                    f"rec {mark.rec} is not the line checkpoint.json recorded (its SHA-256 "
                    "differs): the journal was replaced or rewritten",
                )
        last = max(self.journaled_seqs, default=0)
        floor = max(last, mark.seq if mark else 0)
        beyond = sorted(s for s in self.unjournaled if s > floor)
        if len(beyond) == 1 and len(self.unjournaled) == 1:
            for rel in self.unjournaled.pop(beyond[0]):
                detail = (
                    f"event {beyond[0]} is after the last journaled event: a commit a power cut "
                    "interrupted (the trap adopts it at its next start; --repair does now)"
                )
                self.add(rel, "uncommitted", detail, WARNING)
        if not self.unjournaled:
            return
        c = self.report.counts
        c.unjournaled_events += len(self.unjournaled)
        c.unjournaled_media += sum(len(v) for v in self.unjournaled.values())
        seqs = sorted(self.unjournaled)
        self.add(
            layout.JOURNAL_FILE,
            "history_lost",
            f"{len(seqs)} events ({sum(len(v) for v in self.unjournaled.values())} media, events "
            f"{seqs[0]}-{seqs[-1]}) are on the card but not in the journal: their records were "
            "lost",
        )
        for seq in seqs:
            for rel in self.unjournaled[seq]:
                self.add(rel, "unjournaled", f"event {seq} is not in the journal", WARNING)

    def _hash_at(self, rec: int) -> str | None:
        try:
            return hash_at(self.folder / layout.JOURNAL_FILE, rec)
        except OSError:
            return None

    def check_receipts(self, dirname: str) -> None:
        for entry in entries(self.folder / dirname, self.report, self.prefix + dirname):
            rel = f"{dirname}/{entry.name}"
            if entry.is_symlink():
                self.hostile(rel, "a symbolic link on the card; not read")
            elif is_temp_name(entry.name):
                self.temp(rel)
            elif entry.name.endswith(".json"):
                self.check_receipt(rel, Path(entry.path))
            else:
                self.add(rel, "unknown_entry", "receipts are .json files", WARNING)

    def check_receipt(self, rel: str, path: Path) -> None:
        try:
            data = read_receipt_bytes(path)
            try:
                doc = json.loads(data)
            except (ValueError, RecursionError) as exc:
                raise ReceiptError(f"not JSON: {exc}") from None
            files = doc.get("files") if isinstance(doc, dict) else None
            if isinstance(files, dict):
                for name in files:
                    try:
                        media_path(self.folder, name, "receipted file")
                    except HostilePath as exc:
                        self.hostile(rel, f"{exc}; never acted on")
                        return
            parse_receipt(data, self.folder.name)
        except OSError as exc:
            self.report.access_denied(self.prefix + rel, "unreadable", exc)
        except (ReceiptError, ValueError, RecursionError) as exc:
            self.add(rel, "bad_receipt", str(exc)[:200], WARNING)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _bad_media(m: Any) -> str:
    """Why a journal media entry cannot be checked ('' when it can); its path is checked by
    card_paths.media_path."""
    if not isinstance(m, dict):
        return f"entry {m!r} is not an object"[:200]
    rel, sha, size = m.get("file"), m.get("sha256"), m.get("bytes")
    if not isinstance(rel, str) or not rel:
        return f"file {rel!r}"[:200]
    if not isinstance(sha, str) or len(sha) != 64:
        return f"{rel}: sha256 {sha!r}"[:200]
    if not _is_count(size):
        return f"{rel}: bytes {size!r}"[:200]
    return ""


def _size_and_hash(path: Path, expected_bytes: int, buf: bytearray) -> tuple[int, str]:
    """(size, hex SHA-256); the hash is '' when the size already differs (nothing read). Never
    follows a link in the last component (media_path checked the folders above)."""
    view = memoryview(buf)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb", buffering=0) as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a plain file")
        if st.st_size != expected_bytes:
            return st.st_size, ""
        h = hashlib.sha256()
        read = 0
        while n := f.readinto(view):
            h.update(view[:n])
            read += n
        return read, h.hexdigest()
