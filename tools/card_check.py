"""`irbis card check`: read a card (or one deployment folder) as a host tool does and say whether
every committed media is there, whole and vouched for by a sound journal, naming each file that
is not.

Per deployment folder (`<card>/irbis/<id>/`, or DIR itself when it holds journal.jsonl or
deployment.json) it scans the journal (`journal.scan`: CRCs, chain, numbering, torn tail) and
replays it: an `event` commits its media, a later `evict` takes files back; event seqs should
grow by one from the `open` record's `after_seq` (gaps, from a card swap or a failed store, are
reported, not failed). It reads each committed media once, in 1 MiB chunks, checking its size
and then its SHA-256; lists the day folders for orphans (files no record commits, evicted ones
still present included) and `.*.tmp` leftovers; and parses deployment.json, the receipts and,
for a card, card.json.

Errors (exit status 1) say committed data is missing, corrupt or no longer vouched for: a
missing, corrupt or unreadable media, any journal problem (a torn tail too), a missing journal.
Everything else is a warning (exit status 0).

With `repair`, the trap's recovery (`device.storage.recovery.recover`, thorough) first runs on
each deployment folder that has a journal: it removes temporaries, cuts a torn journal tail and
finishes an interrupted eviction, never deleting committed media. When it did something, its
`recovery` record is appended to the journal, as the trap does at start.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from device.errors import CardError
from device.hal.cardio import OS_IO
from device.storage import layout
from device.storage.atomic import is_temp_name
from device.storage.journal import scan
from device.storage.receipts import ReceiptError, parse_receipt

CHUNK_BYTES = 1 << 20
CARD_FORMAT = "irbis-card"
DEPLOYMENT_FORMAT = "irbis-deployment"
ERROR, WARNING = "error", "warning"


class NotACard(ValueError):
    """DIR is neither a card nor a deployment folder (the CLI exits 2)."""


@dataclass(frozen=True)
class Finding:
    file: str  # relative to the checked folder, "/"-separated ("." for the folder itself)
    problem: str  # a short word: missing, corrupt, orphan, temp_file, chain_break, ...
    detail: str
    severity: str = ERROR


@dataclass
class Counts:
    deployments: int = 0
    records: int = 0
    events: int = 0
    committed_media: int = 0
    committed_bytes: int = 0
    verified: int = 0
    missing: int = 0
    corrupt: int = 0
    orphans: int = 0
    temps: int = 0
    seq_gaps: int = 0
    journal_problems: int = 0


@dataclass
class CardReport:
    """What `check_card` found in `root` (a "card" or a single "deployment" folder)."""

    root: Path
    kind: str
    deployments: list[str] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    findings: list[Finding] = field(default_factory=list)
    repairs: list[dict[str, Any]] = field(default_factory=list)

    def add(self, file: str, problem: str, detail: str, severity: str = ERROR) -> None:
        self.findings.append(Finding(file, problem, detail, severity))

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def exit_status(self) -> int:
        """0 when sound (warnings allowed), 1 when any finding is an error."""
        return 1 if self.errors else 0

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-able data: root, kind, deployments, counts, findings, repairs."""
        status = {"sound": not self.errors, "exit_status": self.exit_status}
        return {**asdict(self), "root": str(self.root), **status}

    def render(self) -> str:
        c = self.counts
        names = ", ".join(self.deployments) or "none"
        lines = [
            f"irbis card check {self.root} ({self.kind}; deployments: {names})",
            f"journal: {c.records} records, {c.events} events, {c.seq_gaps} seq gaps, "
            f"{c.journal_problems} problems",
            f"media: {c.committed_media} committed ({c.committed_bytes} B), {c.verified} verified,"
            f" {c.missing} missing, {c.corrupt} corrupt; {c.orphans} orphans, {c.temps} temps",
        ]
        for r in self.repairs:
            did = [f"cut {r['cut_bytes']} B of journal tail"] if r.get("cut_bytes") else []
            did += [f"removed temp {n}" for n in r.get("removed_temp", [])]
            did += [f"finished eviction of {n}" for n in r.get("finished_evictions", [])]
            did += [f"found {d['file']} {d['found']}" for d in r.get("damaged", [])]
            lines.append(f"repaired {r['deployment']}: {'; '.join(did) or 'nothing to do'}")
        errors = len(self.errors)
        lines.append(f"findings: {errors} errors, {len(self.findings) - errors} warnings")
        lines += [f"  {f.severity:<7} {f.file}: {f.problem}: {f.detail}" for f in self.findings]
        verdict = "SOUND" if not errors else "NOT SOUND"
        lines.append(f"result: {verdict} (exit {self.exit_status})")
        return "\n".join(lines)


def check_card(card_root: Path, repair: bool = False) -> CardReport:
    """Check the card or deployment folder `card_root`; NotACard when it is neither."""
    root = Path(card_root).resolve()
    kind, folders = _deployment_folders(root)
    report = CardReport(root, kind)
    if kind == "card":
        _check_doc(root / layout.CARD_FILE, CARD_FORMAT, report, {"card_id": None})
    for folder in folders:
        check = _DeploymentCheck(folder, report)
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
    if (root / layout.CARD_FILE).exists() or top.is_dir():
        return "card", sorted(p for p in top.iterdir() if p.is_dir()) if top.is_dir() else []
    hint = "; give the card's root, its parent" if root.name == layout.TOP_DIR else ""
    raise NotACard(
        f"{root} is neither a card (no {layout.CARD_FILE}, no {layout.TOP_DIR}/ folder) nor a "
        f"deployment folder (no {layout.JOURNAL_FILE}, no {layout.DEPLOYMENT_FILE}){hint}"
    )


def _check_doc(path: Path, fmt: str, report: CardReport, expect: dict[str, str | None]) -> None:
    """Warn when card.json / deployment.json is missing, unparsable, foreign or mismatched;
    `expect` maps keys to their value (None: any non-empty string)."""
    name = path.relative_to(report.root).as_posix()
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        report.add(name, "missing_file", f"no {path.name} (the trap writes it)", WARNING)
        return
    except (OSError, ValueError, RecursionError) as exc:
        report.add(name, "not_json", f"does not parse: {str(exc)[:200]}", WARNING)
        return
    found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
    if found != fmt:
        report.add(name, "foreign", f"format is {found!r}, expected {fmt!r}", WARNING)
        return
    if doc.get("version") != layout.FORMAT_VERSION:
        detail = f"version {doc.get('version')!r}, expected {layout.FORMAT_VERSION}"
        report.add(name, "bad_version", detail, WARNING)
    for key, want in expect.items():
        got = doc.get(key)
        if got != want if want is not None else not (isinstance(got, str) and got):
            shown = repr(want) if want is not None else "a non-empty string"
            report.add(name, "bad_field", f"{key} is {got!r}, expected {shown}", WARNING)


class _DeploymentCheck:
    """One deployment folder: findings are named relative to the report's root."""

    def __init__(self, folder: Path, report: CardReport) -> None:
        self.folder, self.report = folder, report
        self.name = folder.relative_to(report.root).as_posix()
        self.prefix = "" if self.name == "." else self.name + "/"
        self.committed: dict[str, dict[str, Any]] = {}  # path -> the event's media entry
        self.evicted: dict[str, str] = {}  # path -> which record evicted it and why
        self.last_seq: int | None = None

    def add(self, rel: str, problem: str, detail: str, severity: str = ERROR) -> None:
        self.report.add(self.prefix + rel, problem, detail, severity)

    def repair(self) -> None:
        """The trap's recovery, thorough; its record is journaled when it did something."""
        from device.storage.recovery import recover

        if not (self.folder / layout.JOURNAL_FILE).exists():
            self.add(layout.JOURNAL_FILE, "not_repaired", "no journal to recover", WARNING)
            return
        try:
            now = datetime.now(UTC).isoformat(timespec="seconds")
            _journal, recovery = recover(self.folder, OS_IO, thorough=True, now=now)
        except CardError as exc:
            self.add(layout.JOURNAL_FILE, "not_repaired", str(exc), WARNING)
            return
        self.report.repairs.append({"deployment": self.name, **recovery.to_record()})

    def run(self) -> None:
        doc = self.folder / layout.DEPLOYMENT_FILE
        _check_doc(doc, DEPLOYMENT_FORMAT, self.report, {"deployment_id": self.folder.name})
        self.check_journal()
        self.verify_media()
        self.walk_files()

    def check_journal(self) -> None:
        """Scan the journal and replay it into committed and evicted media."""
        path = self.folder / layout.JOURNAL_FILE
        if not path.is_file():
            self.add(layout.JOURNAL_FILE, "journal_missing", "no media can be vouched for")
            return
        try:
            result = scan(path)
        except (OSError, RecursionError) as exc:
            self.add(layout.JOURNAL_FILE, "unreadable", f"{type(exc).__name__}: {exc}")
            return
        self.report.counts.records += len(result.records)
        self.report.counts.journal_problems += len(result.problems)
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
            if r.get("kind") == "event":
                self.report.counts.events += 1
                self.replay_event(r, f"rec {r['rec']}")
            elif r.get("kind") == "evict":
                self.replay_evict(r, f"rec {r['rec']}")

    def replay_event(self, r: dict[str, Any], where: str) -> None:
        seq, last = r.get("seq"), self.last_seq
        if not _is_count(seq) or seq < 1:
            self.add(layout.JOURNAL_FILE, "bad_record", f"{where}: event seq {seq!r}", WARNING)
        elif last is not None and seq <= last:
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
            if m["file"] in self.committed:
                self.add(m["file"], "listed_twice", f"committed again at {where}", WARNING)
            self.committed[m["file"]] = {**m, "_by": f"event {seq} ({where})"}
            self.evicted.pop(m["file"], None)

    def replay_evict(self, r: dict[str, Any], where: str) -> None:
        files = r.get("files")
        for rel in files if isinstance(files, list) else []:
            if self.committed.pop(str(rel), None) is None:
                detail = f"{where} evicts it but no earlier event commits it"
                self.add(str(rel), "evicted_unknown", detail, WARNING)
            self.evicted[str(rel)] = f"evicted at {where} ({r.get('reason')})"

    def verify_media(self) -> None:
        """Read each committed media once: its size first, then its SHA-256 in 1 MiB chunks."""
        buf, c = bytearray(CHUNK_BYTES), self.report.counts
        for rel in sorted(self.committed):
            m = self.committed[rel]
            c.committed_media += 1
            c.committed_bytes += m["bytes"]
            said = f"committed by {m['_by']}"
            try:
                size, digest = _size_and_hash(self.folder / rel, m["bytes"], buf)
            except FileNotFoundError:
                c.missing += 1
                self.add(rel, "missing", f"{said}, {m['bytes']} B")
                continue
            except OSError as exc:
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
        """Orphans and temporaries in day folders; temporaries, receipts and strays elsewhere."""
        for entry in _entries(self.folder):
            if is_temp_name(entry.name):
                self.temp(entry.name)
            elif entry.is_dir() and layout.DAY_DIR.match(entry.name):
                for f in _entries(Path(entry.path)):
                    rel = f"{entry.name}/{f.name}"
                    if is_temp_name(f.name):
                        self.temp(rel)
                    elif rel not in self.committed:
                        self.report.counts.orphans += 1
                        self.add(rel, "orphan", self.orphan_why(rel), WARNING)
            elif entry.is_dir() and entry.name == layout.RECEIPTS_DIR:
                self.check_receipts(entry.name)
            elif entry.name not in (layout.JOURNAL_FILE, layout.DEPLOYMENT_FILE):
                self.add(entry.name, "unknown_entry", "not part of card format v1", WARNING)

    def temp(self, rel: str) -> None:
        self.report.counts.temps += 1
        self.add(rel, "temp_file", "left by a write a power cut interrupted", WARNING)

    def orphan_why(self, rel: str) -> str:
        if rel in self.evicted:
            return f"{self.evicted[rel]} but still on the card"
        parsed = layout.parse_media_name(rel.rpartition("/")[2])
        if parsed and parsed[0] > (self.last_seq or 0):
            return f"no record commits it (event {parsed[0]} is after the last journaled event)"
        return "no journal record commits it"

    def check_receipts(self, dirname: str) -> None:
        for entry in _entries(self.folder / dirname):
            rel = f"{dirname}/{entry.name}"
            if is_temp_name(entry.name):
                self.temp(rel)
            elif entry.name.endswith(".json"):
                try:
                    parse_receipt(Path(entry.path).read_bytes(), self.folder.name)
                except (ReceiptError, OSError, RecursionError) as exc:
                    self.add(rel, "bad_receipt", str(exc)[:200], WARNING)
            else:
                self.add(rel, "unknown_entry", "receipts are .json files", WARNING)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _bad_media(m: Any) -> str:
    """Why a journal media entry cannot be checked ('' when it can)."""
    if not isinstance(m, dict):
        return f"entry {m!r} is not an object"
    rel, sha, size = m.get("file"), m.get("sha256"), m.get("bytes")
    if not isinstance(rel, str) or not rel:
        return f"file {rel!r}"
    p = PurePosixPath(rel)
    if p.is_absolute() or ".." in p.parts or "\\" in rel:
        return f"file {rel!r} is outside the deployment folder"
    if not isinstance(sha, str) or len(sha) != 64:
        return f"{rel}: sha256 {sha!r}"
    if not _is_count(size):
        return f"{rel}: bytes {size!r}"
    return ""


def _size_and_hash(path: Path, expected_bytes: int, buf: bytearray) -> tuple[int, str]:
    """(size, hex SHA-256); the hash is '' when the size already differs (nothing read)."""
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        if size != expected_bytes:
            return size, ""
        h = hashlib.sha256()
        read = 0
        while n := f.readinto(view):
            h.update(view[:n])
            read += n
        return read, h.hexdigest()


def _entries(directory: Path) -> list[os.DirEntry[str]]:
    with os.scandir(directory) as it:
        return sorted(it, key=lambda e: e.name)
