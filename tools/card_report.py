"""`irbis card check`'s report: findings, counts, exit status and the text a ranger reads.

Exit status: 0 sound (warnings allowed), 1 not sound (an error), 3 DIR is not a card, 4 some of
the card could not be read (or, with --repair, written): permissions, a read-only card. (2 is a
usage error, from argparse.)
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from device.storage import layout
from device.storage.card_meta import MAX_DOC_BYTES
from device.storage.card_paths import is_plain_file, read_plain

ERROR, WARNING = "error", "warning"
EXIT_SOUND, EXIT_NOT_SOUND, EXIT_NOT_A_CARD, EXIT_ACCESS = 0, 1, 3, 4


@dataclass(frozen=True)
class Finding:
    file: str  # relative to the checked folder, "/"-separated ("." for the folder itself)
    problem: str  # a short word: missing, corrupt, orphan, hostile_path, history_lost, ...
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
    hostile_paths: int = 0
    lost_records: int = 0  # records a high-water mark proves the journal held
    unjournaled_events: int = 0  # events whose media are on the card but not in the journal
    unjournaled_media: int = 0


@dataclass
class CardReport:
    """What `check_card` found in `root` (a "card" or a single "deployment" folder)."""

    root: Path
    kind: str
    deployments: list[str] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    findings: list[Finding] = field(default_factory=list)
    repairs: list[dict[str, Any]] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # what could not be read or written

    def add(self, file: str, problem: str, detail: str, severity: str = ERROR) -> None:
        self.findings.append(Finding(file, problem, detail, severity))

    def access_denied(self, file: str, problem: str, exc: OSError) -> None:
        """An error that also means the check is incomplete (exit 4)."""
        self.add(file, problem, f"{type(exc).__name__}: {exc.strerror or exc}")
        self.unreadable.append(file)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def exit_status(self) -> int:
        """0 sound (warnings allowed), 4 when some of it could not be read or written, else 1
        when any finding is an error."""
        if self.unreadable:
            return EXIT_ACCESS
        return EXIT_NOT_SOUND if self.errors else EXIT_SOUND

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
        if c.lost_records or c.unjournaled_events or c.hostile_paths:
            lines.append(
                f"lost: {c.lost_records} journal records, {c.unjournaled_events} events "
                f"({c.unjournaled_media} media) not in the journal; {c.hostile_paths} hostile paths"
            )
        for r in self.repairs:
            lines.append(f"repaired {r['deployment']}: {_repair_words(r)}")
        errors = len(self.errors)
        lines.append(f"findings: {errors} errors, {len(self.findings) - errors} warnings")
        lines += [f"  {f.severity:<7} {f.file}: {f.problem}: {f.detail}" for f in self.findings]
        verdict = "SOUND" if not errors else "NOT SOUND"
        if self.unreadable:
            verdict += ", and some of it could not be read or written"
        lines.append(f"result: {verdict} (exit {self.exit_status})")
        return "\n".join(lines)


def _repair_words(r: dict[str, Any]) -> str:
    did = [f"cut {r['cut_bytes']} B of journal tail"] if r.get("cut_bytes") else []
    did += [f"removed temp {n}" for n in r.get("removed_temp", [])]
    did += [f"finished eviction of {n}" for n in r.get("finished_evictions", [])]
    did += [f"found {d['file']} {d['found']}" for d in r.get("damaged", [])]
    did += [f"adopted {n} (a commit a power cut interrupted)" for n in r.get("adopted", [])]
    did += [f"refused {x['what']} {x['path']}: {x['why']}" for x in r.get("refused", [])]
    lost = r.get("lost")
    if lost:
        did.append(
            f"history lost, journaled as such (not mended): {lost['lost_records']} records, "
            f"{lost['unjournaled_events']} events ({lost['unjournaled_media']} media) "
            "not in the journal"
        )
    return "; ".join(did) or "nothing to do"


def check_doc(path: Path, fmt: str, report: CardReport, expect: dict[str, str | None]) -> None:
    """Warn when card.json / deployment.json is missing, unparsable, foreign or mismatched;
    `expect` maps keys to their value (None: any non-empty string). A link is an error."""
    name = path.relative_to(report.root).as_posix()
    if path.is_symlink() or (path.exists() and not is_plain_file(path)):
        report.counts.hostile_paths += 1
        report.add(name, "hostile_path", "not a plain file (a link or a folder); not read")
        return
    try:
        raw = read_plain(path, MAX_DOC_BYTES, path.name)  # an OversizedFile is a ValueError
        if raw is None:
            raise FileNotFoundError(path)
        doc = json.loads(raw)
    except FileNotFoundError:
        report.add(name, "missing_file", f"no {path.name} (the trap writes it)", WARNING)
        return
    except OSError as exc:
        report.access_denied(name, "unreadable", exc)
        return
    except (ValueError, RecursionError) as exc:
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


def entries(directory: Path, report: CardReport, shown: str) -> list[os.DirEntry[str]]:
    """A folder's entries by name; an unreadable folder is reported (exit 4) and empty."""
    try:
        with os.scandir(directory) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError as exc:
        report.access_denied(shown, "unreadable", exc)
        return []
