"""Reading a labels CSV and arranging it the way a trap would have seen it.

Columns: dataset, deployment, file, label, species, day_night, sequence_id, timestamp, trigger
(others are ignored). Rows are grouped per camera, (dataset, deployment), and put in time order
per camera. A blank deployment means the camera is unknown: such a row shares no background
with any other row; only the rows of one sequence (same non-blank sequence_id) stay together,
since one burst is necessarily one camera's.

Per camera, each time-lapse row (trigger = timelapse) is an event that feeds the background, and
each motion sequence (rows with the same non-blank sequence_id; a blank sequence_id makes the row
a sequence of its own) is one burst to triage. A sequence's truth: animal if any frame shows
one, empty if every frame is empty, otherwise the other label (uncertain, human, vehicle...).
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

COLUMNS = (
    "dataset",
    "deployment",
    "file",
    "label",
    "species",
    "day_night",
    "sequence_id",
    "timestamp",
    "trigger",
)
REQUIRED = ("dataset", "file", "label")  # may not be blank
TRIGGERS = ("motion", "timelapse", "")
EXIF_FORMAT = "%Y:%m:%d %H:%M:%S"


class LabelsError(ValueError):
    """A labels file that cannot be used; the message names the file, line and column."""


@dataclass(frozen=True)
class LabelRow:
    line: int  # in the CSV file (the header is line 1)
    dataset: str
    deployment: str
    file: str
    label: str
    species: str
    day_night: str
    sequence_id: str
    time_s: float | None  # seconds since 1970 (a time without offset is taken as UTC)
    trigger: str

    @property
    def timelapse(self) -> bool:
        return self.trigger == "timelapse"


@dataclass(frozen=True)
class Event:
    """One thing the camera did: a time-lapse shot (one row) or a motion burst (a sequence)."""

    camera: tuple[str, str]  # (dataset, deployment or a stand-in for an unknown camera)
    rows: tuple[LabelRow, ...]  # in time order
    timelapse: bool
    time_s: float  # for the background bank (the first row's time, or the last known before it)

    @property
    def dataset(self) -> str:
        return self.rows[0].dataset

    @property
    def deployment(self) -> str:
        return self.rows[0].deployment

    @property
    def sequence_id(self) -> str:
        return self.rows[0].sequence_id

    @property
    def truth(self) -> str:
        return sequence_truth([r.label for r in self.rows])

    @property
    def day_night(self) -> str:
        return sequence_day_night([r.day_night for r in self.rows])


def sequence_truth(labels: list[str]) -> str:
    """animal if any frame is animal, empty if all are empty, else the first other label."""
    if "animal" in labels:
        return "animal"
    others = [label for label in labels if label != "empty"]
    return others[0] if others else "empty"


def sequence_day_night(values: list[str]) -> str:
    """The most common non-blank day_night of a sequence's rows, else unknown."""
    counts = Counter(v for v in values if v)
    return counts.most_common(1)[0][0] if counts else "unknown"


def parse_time_s(text: str) -> float | None:
    """ISO 8601 with or without offset, EXIF `YYYY:MM:DD HH:MM:SS`, or blank (None).

    A time without offset is taken as UTC: only the order within one camera matters here.
    Raises ValueError for anything else."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.strptime(text, EXIF_FORMAT)
    except ValueError:
        moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def read_labels(path: Path) -> list[LabelRow]:
    """The rows of a labels CSV, in file order. Raises LabelsError naming what is wrong."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise LabelsError(f"{path}: no such labels file") from None
    except OSError as exc:
        raise LabelsError(f"{path}: cannot read: {exc}") from None
    with handle:
        try:
            return _read_rows(path, csv.DictReader(handle))
        except UnicodeDecodeError as exc:
            raise LabelsError(f"{path}: not UTF-8 text: {exc}") from None
        except csv.Error as exc:
            raise LabelsError(f"{path}: not a readable CSV: {exc}") from None


def _read_rows(path: Path, reader: csv.DictReader) -> list[LabelRow]:
    header = reader.fieldnames
    if not header:
        raise LabelsError(f"{path}: empty file, expected a header with {', '.join(COLUMNS)}")
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise LabelsError(
            f"{path} line 1: missing column(s) {', '.join(missing)} (expected {', '.join(COLUMNS)})"
        )
    rows: list[LabelRow] = []
    for record in reader:
        line = reader.line_num
        extra = record.pop(None, None)  # type: ignore[call-overload]
        if extra or any(v is None for v in record.values()):
            got = sum(v is not None for v in record.values()) + len(extra or [])
            raise LabelsError(f"{path} line {line}: expected {len(header)} fields, got {got}")
        values = {c: (record[c] or "").strip() for c in COLUMNS}
        for column in REQUIRED:
            if not values[column]:
                raise LabelsError(f"{path} line {line}, column {column}: blank")
        if values["trigger"] not in TRIGGERS:
            raise LabelsError(
                f"{path} line {line}, column trigger: {values['trigger']!r}, "
                "expected motion, timelapse or blank"
            )
        try:
            time_s = parse_time_s(values["timestamp"])
        except ValueError:
            raise LabelsError(
                f"{path} line {line}, column timestamp: {values['timestamp']!r}, expected "
                "ISO 8601 (with or without offset), YYYY:MM:DD HH:MM:SS, or blank"
            ) from None
        rows.append(
            LabelRow(
                line=line,
                dataset=values["dataset"],
                deployment=values["deployment"],
                file=values["file"],
                label=values["label"].lower(),
                species=values["species"],
                day_night=values["day_night"].lower(),
                sequence_id=values["sequence_id"],
                time_s=time_s,
                trigger=values["trigger"],
            )
        )
    return rows


def camera_of(row: LabelRow) -> tuple[str, str]:
    """The camera a row comes from: its deployment; when unknown, its own sequence or itself."""
    if row.deployment:
        return (row.dataset, row.deployment)
    if row.sequence_id and not row.timelapse:
        return (row.dataset, f"?sequence {row.sequence_id}")
    return (row.dataset, f"?line {row.line}")


def cameras(rows: list[LabelRow]) -> dict[tuple[str, str], list[Event]]:
    """Per camera (in order of first appearance), its events in time order.

    Rows are sorted by time, stably; a row without a time keeps its place after the row before it
    in the file (of the same camera). A sequence is placed at its first row's time."""
    per_camera: dict[tuple[str, str], list[LabelRow]] = {}
    for row in rows:
        per_camera.setdefault(camera_of(row), []).append(row)
    return {camera: _events(camera, camera_rows) for camera, camera_rows in per_camera.items()}


def _events(camera: tuple[str, str], rows: list[LabelRow]) -> list[Event]:
    keys: list[float] = []
    last = float("-inf")
    for row in rows:  # a blank time sorts just after the row before it in the file
        last = row.time_s if row.time_s is not None else last
        keys.append(last)
    order = sorted(range(len(rows)), key=lambda i: keys[i])
    groups: dict[tuple[str, object], list[int]] = {}
    for i in order:
        row = rows[i]
        key: tuple[str, object]
        if row.timelapse or not row.sequence_id:
            key = ("row", row.line)
        else:
            key = ("sequence", row.sequence_id)
        groups.setdefault(key, []).append(i)
    events = []
    for members in groups.values():  # dicts keep insertion order: by the first member's time
        first_key = keys[members[0]]
        events.append(
            Event(
                camera=camera,
                rows=tuple(rows[i] for i in members),
                timelapse=rows[members[0]].timelapse,
                time_s=first_key if first_key != float("-inf") else 0.0,
            )
        )
    return events
