"""`irbis card check`: real cards in tmp_path (a journal written by `Journal`, media files with
their hashes), damaged one way at a time; each damage is found and names its file."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from device.hal.cardio import OS_IO
from device.storage.highwater import Mark, write_checkpoint
from device.storage.journal import Journal, decode, encode, scan
from tools.card_check import check_card
from tools.cli import main

DEPLOYMENT = "altai-2026"
DEVICE = "trap-07"
CARD_ID = "c0ffee0123456789"
FRAMES = 2
SHOT = {"time": "2026-12-01T03:00:01+07:00", "exposure_us": 8000, "analogue_gain": 2.0, "lux": 0.5}
EVENT = {"kind": "event", "source": "pir", "status": "ok", "error": None, "buffered": False}
EVENT["verdict"] = {"decision": "keep", "score": 0.9, "reasons": ["animal"]}


@dataclass
class Card:
    root: Path
    folder: Path  # the deployment folder
    media: dict[int, list[str]]  # seq -> its media, relative to the deployment folder
    bytes: int

    @property
    def journal(self) -> Path:
        return self.folder / "journal.jsonl"

    def lines(self) -> list[bytes]:
        return self.journal.read_bytes().splitlines()

    def write_lines(self, lines: list[bytes]) -> None:
        self.journal.write_bytes(b"".join(line + b"\n" for line in lines))


def make_card(root: Path, seqs: list[int] | None = None, after_seq: int = 0) -> Card:
    """A card with one deployment: an `open` record and one event per seq, each with FRAMES
    frames and a thumbnail, on two days."""
    root.mkdir(parents=True, exist_ok=True)
    write_json(root / "card.json", {"format": "irbis-card", "version": 1, "card_id": CARD_ID})
    folder = root / "irbis" / DEPLOYMENT
    folder.mkdir(parents=True)
    deployment = {"format": "irbis-deployment", "version": 1, "deployment_id": DEPLOYMENT}
    write_json(folder / "deployment.json", {**deployment, "device_id": DEVICE})
    journal = Journal(folder / "journal.jsonl", OS_IO)
    journal.append(
        {
            "kind": "open",
            "deployment_id": DEPLOYMENT,
            "device_id": DEVICE,
            "card_id": CARD_ID,
            "firmware": "0.1.0",
            "after_seq": after_seq,
            "time": "2026-12-01T00:00:00+07:00",
        }
    )
    card = Card(root, folder, {}, 0)
    for seq in seqs if seqs is not None else [1, 2, 3]:
        day = f"2026-12-{1 + seq % 2:02d}"
        (folder / day).mkdir(exist_ok=True)
        media = []
        for frame in [*(f"{i:02d}" for i in range(1, FRAMES + 1)), "t"]:
            rel = f"{day}/{seq:08d}-{frame}.jpg"
            data = f"JPEG event {seq} frame {frame} ".encode() * (50 + 7 * seq)
            (folder / rel).write_bytes(data)
            card.bytes += len(data)
            sha256 = hashlib.sha256(data).hexdigest()
            role = "thumb" if frame == "t" else "frame"
            media.append({"file": rel, "role": role, "sha256": sha256, "bytes": len(data), **SHOT})
        card.media[seq] = [m["file"] for m in media]
        time = f"{day}T03:00:00+07:00"
        journal.append({**EVENT, "seq": seq, "trigger_time": time, "media": media})
    return card


def write_json(path: Path, doc: object) -> None:
    path.write_text(json.dumps(doc))


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    status = main(["card", "check", *args])
    out = capsys.readouterr()
    return status, out.out, out.err


def problems(report) -> dict[str, set[str]]:
    """file -> the problems found in it."""
    found: dict[str, set[str]] = {}
    for f in report.findings:
        found.setdefault(f.file, set()).add(f.problem)
    return found


def test_a_sound_card_exits_0_and_counts_right(tmp_path, capsys):
    card = make_card(tmp_path / "card")
    status, out, _ = run_cli(capsys, str(card.root))
    assert status == 0, out
    assert "result: SOUND (exit 0)" in out and "findings: 0 errors, 0 warnings" in out
    status, out, _ = run_cli(capsys, str(card.root), "--json")
    doc = json.loads(out)
    assert status == 0 and doc["sound"] and doc["findings"] == []
    assert doc["kind"] == "card" and doc["deployments"] == [f"irbis/{DEPLOYMENT}"]
    media = 3 * (FRAMES + 1)
    assert doc["counts"] == {
        **dict.fromkeys(doc["counts"], 0),  # missing, corrupt, orphans, temps, seq_gaps, ...
        **{"deployments": 1, "records": 4, "events": 3, "verified": media},
        **{"committed_media": media, "committed_bytes": card.bytes},
    }


def test_a_deployment_folder_can_be_checked_on_its_own(tmp_path, capsys):
    card = make_card(tmp_path / "card")
    status, out, _ = run_cli(capsys, str(card.folder), "--json")
    doc = json.loads(out)
    assert status == 0 and doc["kind"] == "deployment" and doc["deployments"] == ["."]
    assert doc["counts"]["verified"] == 3 * (FRAMES + 1)


def test_missing_and_corrupt_media_exit_1_and_are_named(tmp_path, capsys):
    card = make_card(tmp_path / "card")
    missing, corrupt = card.media[1][0], card.media[2][1]
    (card.folder / missing).unlink()
    data = bytearray((card.folder / corrupt).read_bytes())
    data[len(data) // 2] ^= 0x01
    (card.folder / corrupt).write_bytes(bytes(data))
    status, out, _ = run_cli(capsys, str(card.root))
    assert status == 1 and "NOT SOUND (exit 1)" in out
    prefix = f"irbis/{DEPLOYMENT}/"
    assert f"error   {prefix}{missing}: missing: committed by event 1 (rec 2)" in out
    assert f"error   {prefix}{corrupt}: corrupt: committed by event 2 (rec 3): SHA-256" in out
    report = check_card(card.root)
    assert (report.counts.missing, report.counts.corrupt) == (1, 1)
    assert report.counts.verified == 3 * (FRAMES + 1) - 2


def test_a_truncated_media_is_corrupt_by_its_size(tmp_path):
    card = make_card(tmp_path / "card")
    path = card.folder / card.media[3][0]
    path.write_bytes(path.read_bytes()[:-10])
    report = check_card(card.root)
    [finding] = report.findings
    assert finding.problem == "corrupt" and "B on the card, journal says" in finding.detail


def test_an_edited_journal_line_fails_its_crc_and_breaks_the_chain(tmp_path):
    card = make_card(tmp_path / "card")
    lines = card.lines()
    lines[2] = lines[2].replace(b'"source":"pir"', b'"source":"pit"')
    card.write_lines(lines)
    report = check_card(card.root)
    assert report.exit_status == 1
    journal = f"irbis/{DEPLOYMENT}/journal.jsonl"
    # the line is dropped, so the next one also shows a record gap and an event gap, and the
    # edited event's media are on the card without a record: history lost
    assert problems(report)[journal] == {
        "bad_crc",
        "chain_break",
        "rec_gap",
        "seq_gap",
        "history_lost",
    }
    assert any(f.problem == "bad_crc" and f.detail.startswith("line 3 ") for f in report.findings)
    assert {f.file for f in report.findings if f.problem == "unjournaled"} == {
        f"irbis/{DEPLOYMENT}/{rel}" for rel in card.media[2]
    }
    assert (report.counts.unjournaled_events, report.counts.unjournaled_media) == (1, FRAMES + 1)


def test_a_resealed_edit_still_breaks_the_chain(tmp_path):
    card = make_card(tmp_path / "card")
    lines = card.lines()
    record = decode(lines[1])
    edited = {k: v for k, v in record.items() if k not in ("v", "rec", "prev")}
    lines[1] = encode({**edited, "source": "timelapse"}, record["rec"], record["prev"])
    card.write_lines(lines)
    report = check_card(card.root)
    assert report.exit_status == 1
    [finding] = report.findings
    assert finding.problem == "chain_break" and finding.detail.startswith("line 3 ")


def test_a_deleted_journal_line_breaks_the_chain_and_orphans_its_media(tmp_path, capsys):
    card = make_card(tmp_path / "card")
    lines = card.lines()
    del lines[2]  # event 2
    card.write_lines(lines)
    status, out, _ = run_cli(capsys, str(card.root))
    assert status == 1
    journal = f"irbis/{DEPLOYMENT}/journal.jsonl"
    assert f"{journal}: chain_break: line 3 " in out and f"{journal}: rec_gap: line 3 " in out
    assert f"{journal}: seq_gap: rec 4: no event 2 (event 3 after 1)" in out
    assert f"irbis/{DEPLOYMENT}/{card.media[2][0]}: unjournaled: event 2 is not in" in out
    assert f"{journal}: history_lost: 1 events (3 media, events 2-2) are on the card" in out


def test_orphans_and_temporaries_are_warnings_named_by_file(tmp_path, capsys):
    card = make_card(tmp_path / "card")
    (card.folder / "2026-12-02" / "00000009-01.jpg").write_bytes(b"uncommitted")
    (card.folder / "2026-12-02" / ".00000010-01.jpg.tmp").write_bytes(b"half")
    (card.folder / ".journal.jsonl.tmp").write_bytes(b"")
    status, out, _ = run_cli(capsys, str(card.root), "--json")
    doc = json.loads(out)
    assert status == 0 and doc["sound"]
    assert (doc["counts"]["orphans"], doc["counts"]["temps"]) == (1, 2)
    by_file = {f["file"]: f for f in doc["findings"]}
    orphan = by_file[f"irbis/{DEPLOYMENT}/2026-12-02/00000009-01.jpg"]  # one event, the last
    assert orphan["problem"] == "uncommitted" and "a power cut interrupted" in orphan["detail"]
    assert by_file[f"irbis/{DEPLOYMENT}/2026-12-02/.00000010-01.jpg.tmp"]["problem"] == "temp_file"
    assert by_file[f"irbis/{DEPLOYMENT}/.journal.jsonl.tmp"]["severity"] == "warning"


def test_sequence_gaps_are_reported_not_failed(tmp_path):
    card = make_card(tmp_path / "card", seqs=[11, 12, 15, 16, 18], after_seq=10)
    report = check_card(card.root)
    assert report.exit_status == 0 and report.counts.seq_gaps == 2
    assert [f.detail for f in report.findings if f.problem == "seq_gap"] == [
        "rec 4: no event 13-14 (event 15 after 12)",
        "rec 6: no event 17 (event 18 after 16)",
    ]


def test_a_gap_after_the_open_records_after_seq_and_a_repeated_seq(tmp_path):
    card = make_card(tmp_path / "card", seqs=[12, 13], after_seq=10)
    journal = Journal(card.journal, OS_IO)
    journal.append({"kind": "event", "seq": 13, "trigger_time": "2026-12-02T09:00:00+07:00"})
    report = check_card(card.root)
    assert [f.detail for f in report.findings] == [
        "rec 2: no event 11 (event 12 after 10)",
        "rec 4: event 13 after 13",
    ]
    assert report.exit_status == 0


@pytest.mark.parametrize(
    ("content", "problem", "detail"),
    [
        ({"format": "other-camera", "id": 7}, "foreign", "format is 'other-camera'"),
        ({"format": "irbis-card", "version": 2, "card_id": "x"}, "bad_version", "version 2"),
        ({"format": "irbis-card", "version": 1}, "bad_field", "card_id is None"),
        (b"\x00\xffnot json", "not_json", "does not parse"),
        ([1, 2], "foreign", "format is 'list'"),
    ],
)
def test_a_foreign_or_broken_card_json_is_named(tmp_path, content, problem, detail):
    card = make_card(tmp_path / "card")
    path = card.root / "card.json"
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    report = check_card(card.root)
    [finding] = report.findings
    assert (finding.file, finding.problem) == ("card.json", problem)
    assert detail in finding.detail and finding.severity == "warning"


def test_deployment_json_missing_or_for_another_deployment_is_named(tmp_path):
    card = make_card(tmp_path / "card")
    name = f"irbis/{DEPLOYMENT}/deployment.json"
    doc = {"format": "irbis-deployment", "version": 1, "deployment_id": "elsewhere"}
    write_json(card.folder / "deployment.json", doc)
    [finding] = check_card(card.root).findings
    assert (finding.file, finding.problem) == (name, "bad_field")
    assert "deployment_id is 'elsewhere', expected 'altai-2026'" in finding.detail
    (card.folder / "deployment.json").unlink()
    [finding] = check_card(card.root).findings
    assert (finding.file, finding.problem) == (name, "missing_file")


def test_a_garbage_receipt_is_named_and_a_sound_one_is_not(tmp_path):
    card = make_card(tmp_path / "card")
    receipts = card.folder / "receipts"
    receipts.mkdir()
    files = {rel: hashlib.sha256((card.folder / rel).read_bytes()).hexdigest()
             for rel in card.media[1]}  # fmt: skip
    sound = {
        "format": "irbis-receipt",
        "version": 1,
        "deployment_id": DEPLOYMENT,
        "card_id": CARD_ID,
        "host": "lab",
        "copied_utc": "2027-03-01T08:00:00Z",
        "files": files,
    }
    write_json(receipts / "20270301T080000Z-lab.json", sound)
    (receipts / "20270302T080000Z-lab.json").write_bytes(b'{"format": "irbis-rec')
    report = check_card(card.root)
    [finding] = report.findings
    assert finding.file == f"irbis/{DEPLOYMENT}/receipts/20270302T080000Z-lab.json"
    assert finding.problem == "bad_receipt" and "not JSON" in finding.detail
    assert report.exit_status == 0


def evict(card: Card, files: list[str], delete: bool) -> None:
    Journal(card.journal, OS_IO).append(
        {"kind": "evict", "reason": "low_score", "files": files, "bytes": 1, "time": "t"}
    )
    for rel in files if delete else []:
        (card.folder / rel).unlink()


def test_evicted_media_absent_is_fine(tmp_path):
    card = make_card(tmp_path / "card")
    evict(card, card.media[2], delete=True)
    report = check_card(card.root)
    assert report.findings == [] and report.exit_status == 0
    assert report.counts.committed_media == report.counts.verified == 2 * (FRAMES + 1)


def test_evicted_media_still_present_are_orphans(tmp_path):
    card = make_card(tmp_path / "card")
    evict(card, card.media[2], delete=False)
    report = check_card(card.root)
    assert report.exit_status == 0 and report.counts.orphans == FRAMES + 1
    assert all(
        f.problem == "orphan" and f.detail == "evicted at rec 5 (low_score) but still on the card"
        for f in report.findings
    )


def test_a_torn_tail_exits_1_until_repair_cuts_it(tmp_path, capsys):
    card = make_card(tmp_path / "card")
    sound = card.journal.read_bytes()
    (card.folder / "2026-12-02" / ".00000004-01.jpg.tmp").write_bytes(b"half a frame")
    with card.journal.open("ab") as f:
        f.write(b'{"kind":"event","seq":4,"sou')
    status, out, _ = run_cli(capsys, str(card.root))
    journal = f"irbis/{DEPLOYMENT}/journal.jsonl"
    assert status == 1
    assert f"{journal}: torn_tail: 28 B at byte {len(sound)} after rec 4; --repair cuts it" in out

    status, out, _ = run_cli(capsys, str(card.root), "--repair")
    assert status == 0, out
    assert f"repaired irbis/{DEPLOYMENT}: cut 28 B of journal tail; removed temp " in out
    assert not (card.folder / "2026-12-02" / ".00000004-01.jpg.tmp").exists()
    after = scan(card.journal)
    assert after.problems == [] and card.journal.read_bytes().startswith(sound)
    assert after.records[-1]["kind"] == "recovery" and after.records[-1]["cut_bytes"] == 28
    assert len(after.records) == 5  # nothing lost: the four records and recovery's own

    status, out, _ = run_cli(capsys, str(card.root), "--repair")
    assert status == 0 and f"repaired irbis/{DEPLOYMENT}: nothing to do" in out
    assert len(scan(card.journal).records) == 5


def test_repair_never_deletes_committed_media_and_cannot_mend_a_broken_chain(tmp_path):
    card = make_card(tmp_path / "card")
    lines = card.lines()
    del lines[1]
    card.write_lines(lines)
    report = check_card(card.root, repair=True)
    assert report.exit_status == 1
    assert {f.problem for f in report.errors} == {"chain_break", "rec_gap", "history_lost"}
    assert all((card.folder / rel).exists() for files in card.media.values() for rel in files)


def test_repair_cuts_a_damaged_last_record_and_adopts_its_whole_media(tmp_path):
    card = make_card(tmp_path / "card")
    lines = card.lines()
    lines[-1] = lines[-1].replace(b'"pir"', b'"pyr"')
    card.write_lines(lines)
    # after the last sound record, a damaged whole line looks like a torn append: with nothing
    # that proves the record was committed, it is a commit a power cut interrupted
    assert [f.problem for f in check_card(card.root).errors] == ["torn_tail"]
    report = check_card(card.root, repair=True)
    assert report.exit_status == 0 and report.counts.orphans == 0
    assert report.repairs[0]["adopted"] == card.media[3]
    last = scan(card.journal).records[-2]
    assert (last["seq"], last["status"], last["time_source"]) == (3, "recovered", "day_folder")
    assert all((card.folder / rel).exists() for rel in card.media[3])


def test_repair_of_a_record_the_checkpoint_vouches_for_says_history_was_lost(tmp_path):
    card = make_card(tmp_path / "card")
    mark = Mark.of(Journal(card.journal, OS_IO))
    write_checkpoint(OS_IO, card.folder, DEPLOYMENT, CARD_ID, mark, "2026-12-02T00:00:00+07:00")
    lines = card.lines()
    lines[-1] = lines[-1].replace(b'"pir"', b'"pyr"')
    card.write_lines(lines)
    report = check_card(card.root, repair=True)
    assert report.exit_status == 1  # the mark proves event 3's record existed: not mended
    assert [f.problem for f in report.errors] == ["history_lost"]
    records = scan(card.journal).records
    lost, adopted = records[-3], records[-2]
    assert lost["kind"] == "lost" and lost["marks"][0]["found"] == "shorter"
    assert (lost["lost_records"], lost["unjournaled_seqs"]) == (1, [3, 3])
    # the media are kept and journaled after the record that says their history was lost
    assert adopted["seq"] == 3 and adopted["verdict"]["reasons"] == ["recovered_after_lost_history"]
    assert report.repairs[0]["adopted"] == card.media[3]
    assert all((card.folder / rel).exists() for rel in card.media[3])  # nothing deleted
    again = check_card(card.root, repair=True)  # a second repair adds nothing, stays NOT SOUND
    assert again.exit_status == 1 and again.repairs[0]["adopted"] == []
    assert len([r for r in scan(card.journal).records if r["kind"] == "lost"]) == 1


def test_a_missing_journal_is_an_error(tmp_path):
    card = make_card(tmp_path / "card")
    card.journal.unlink()
    report = check_card(card.root)
    assert report.exit_status == 1
    assert (report.errors[0].file, report.errors[0].problem) == (
        f"irbis/{DEPLOYMENT}/journal.jsonl",
        "journal_missing",
    )
    assert report.counts.orphans == 3 * (FRAMES + 1)


def test_a_folder_that_is_not_a_card_exits_3_with_a_clear_message(tmp_path, capsys):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "IMG_0001.jpg").write_bytes(b"x")
    status, out, err = run_cli(capsys, str(tmp_path / "photos"))
    assert status == 3 and out == ""
    assert "is neither a card (no card.json, no irbis/ folder) nor a deployment folder" in err
    status, _, err = run_cli(capsys, str(tmp_path / "nowhere"))
    assert status == 3 and "does not exist" in err
    make_card(tmp_path / "card")
    status, _, err = run_cli(capsys, str(tmp_path / "card" / "irbis"))
    assert status == 3 and "give the card's root, its parent" in err


def test_a_card_with_no_deployment_yet_is_sound(tmp_path, capsys):
    write_json(tmp_path / "card.json", {"format": "irbis-card", "version": 1, "card_id": "c"})
    status, out, _ = run_cli(capsys, str(tmp_path))
    assert status == 0 and "deployments: none" in out
