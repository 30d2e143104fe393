"""The card is untrusted input, and lost history is never sound.

Hostile cards (records naming paths off the card, links on it) must not make the trap or a host
tool touch anything outside the card; the trap keeps running and `irbis card check` says NOT
SOUND naming what it refused. A journal that lost committed history (emptied, deleted, cut
short, rewritten) is found by `card check`, before and after `--repair`, and by the trap at its
next start, which never reuses a sequence number or overwrites a media file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device.config import validate
from device.hal import cardio
from device.storage.card_paths import HostilePath, inside, media_path, relative_parts
from device.storage.event_store import Media
from device.storage.journal import Journal, scan
from device.storage.manager import Storage
from sim.clock import VirtualClock
from tests.test_storage_manager import START, DirCard
from tools.card_check import check_card
from tools.cli import main

DEP = "dep1"
MB = 1_000_000


# -- a real card, written by the trap's own storage ----------------------------------------------
def config(base: Path, **storage: object):
    return validate(
        {
            "backend": "sim",
            "deployment_id": DEP,
            "device_id": "trap-7",
            "storage": {
                "card_path": str(base / "card"),
                "data_path": str(base / "data"),
                "probe_samples": 0,
                **storage,
            },
        }
    )


def open_storage(base: Path, capacity_bytes: int = 10**9, **storage: object) -> Storage:
    (base / "data").mkdir(exist_ok=True)
    card = DirCard(base / "card", capacity_bytes=capacity_bytes)
    s = Storage(config(base, **storage), VirtualClock(START, 0), card, cardio.OS_IO, cardio.OS_IO)
    s.open()
    return s


def commit(s: Storage, decision: str = "keep", score: float | None = 0.9, size: int = 2000):
    seq = s.next_seq()
    low = decision != "keep" or (score is not None and score < 0.5)
    media = [Media(i, os.urandom(size), {}) for i in (1, 2, 3)]
    media += [Media("t", os.urandom(size // 10), {"thumb_of": 1})] if low else []
    record = {
        "seq": seq,
        "source": "pir",
        "trigger_time": f"2026-12-{1 + seq % 3:02d}T03:00:00.000+07:00",
        "status": "ok",
        "verdict": {"decision": decision, "score": score, "reasons": []},
    }
    return s.commit(record, media)


def write_card(base: Path, events: int = 6) -> Storage:
    """A card with `events` events, closed as at a halt (checkpoint and state marks written)."""
    s = open_storage(base)
    for i in range(events):
        commit(s, *(("discard", 0.05) if i % 2 else ("keep", 0.9)))
    s.close()
    return s


def folder(base: Path) -> Path:
    return base / "card" / "irbis" / DEP


def journal_path(base: Path) -> Path:
    return folder(base) / "journal.jsonl"


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under `root` (links not followed): kind, size, content hash, mtime."""
    out: dict[str, tuple] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            st = p.lstat()
            data = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""
            out[str(p.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns, data)
    return out


def append_forged(base: Path, record: dict) -> None:
    """A record an attacker wrote: CRC and chain are right (anyone can compute them)."""
    Journal(journal_path(base), cardio.OS_IO).append(record)


# -- the path helper ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "",
        "/etc/passwd",
        "../x",
        "a/../../x",
        "a/./b",
        "a//b",
        "a/",
        "a\\..\\b",
        "a\x00b",
        "a\nb",
        "x" * 2000,
        7,
        None,
        ["a"],
    ],
)
def test_hostile_relative_paths_are_refused_with_a_reason(tmp_path, path):
    with pytest.raises(HostilePath) as caught:
        inside(tmp_path, path, "journal media")
    assert "journal media" in str(caught.value) and caught.value.why
    assert isinstance(caught.value, OSError) and isinstance(caught.value, ValueError)


def test_links_on_the_way_are_refused_whether_they_point_on_or_off_the_card(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "00000001-01.jpg").write_bytes(b"x")
    (tmp_path / "2026-12-01").symlink_to(tmp_path / "real")
    with pytest.raises(HostilePath, match="symbolic link"):
        media_path(tmp_path, "2026-12-01/00000001-01.jpg")
    (tmp_path / "2026-12-02").mkdir()
    (tmp_path / "2026-12-02" / "00000002-01.jpg").symlink_to(tmp_path / "real" / "00000001-01.jpg")
    with pytest.raises(HostilePath, match="symbolic link"):
        media_path(tmp_path, "2026-12-02/00000002-01.jpg")
    assert (
        media_path(tmp_path, "2026-12-03/00000003-t.jpg") == tmp_path / "2026-12-03/00000003-t.jpg"
    )
    with pytest.raises(HostilePath, match="not a media path"):
        media_path(tmp_path, "2026-12-03/passwd")
    assert relative_parts("2026-12-03/00000003-t.jpg") == ("2026-12-03", "00000003-t.jpg")


# -- hostile cards: nothing outside is touched, the trap runs on, card check says NOT SOUND --------
OUTSIDE_NAMES = ["00000001-01.jpg", ".00000002-01.jpg.tmp", "journal.jsonl", "secret"]


def _outside(base: Path) -> Path:
    out = base / "outside"
    out.mkdir()
    for name in OUTSIDE_NAMES:
        (out / name).write_bytes(b"not the card's: " + name.encode())
    (out / "2026-12-01").mkdir()
    (out / "2026-12-01" / "00000001-01.jpg").write_bytes(b"a media name, off the card")
    return out


def _hostile_path(base: Path, kind: str, name: str, depth: int) -> str:
    outside = base / "outside"
    return {
        "dotdot": "/".join([".."] * depth + ["outside", name]),
        "absolute": str(outside / name),
        "dotdot_in_day": "2026-12-01/" + "/".join([".."] * (depth + 1) + ["outside", name]),
        "backslash": "..\\..\\..\\outside\\" + name,
        "nul": f"2026-12-01/{name}\x00.jpg",
        "linked_day": "2026-12-09/00000001-01.jpg",  # 2026-12-09 is a link to outside/2026-12-01
    }[kind]


def _plant_links(base: Path) -> None:
    """Links on the card that lead off it, named like what the trap reads and writes."""
    dep = folder(base)
    (dep / "2026-12-09").symlink_to(base / "outside" / "2026-12-01")
    (dep / "2026-12-01" / ".00000099-01.jpg.tmp").symlink_to(base / "outside" / "secret")
    (dep / "2026-12-02" / "00000098-01.jpg").symlink_to(base / "outside" / "secret")


HOSTILE_KINDS = ["dotdot", "absolute", "dotdot_in_day", "backslash", "nul", "linked_day"]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    kind=st.sampled_from(HOSTILE_KINDS),
    name=st.sampled_from(OUTSIDE_NAMES),
    depth=st.integers(min_value=1, max_value=6),
    where=st.sampled_from(["evict_at_tail", "event_media", "receipt"]),
    links=st.booleans(),
)
def test_no_hostile_record_touches_a_file_outside_the_card(kind, name, depth, where, links):
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        outside = _outside(base)
        write_card(base)
        if links or kind == "linked_day":  # that path is hostile through its link
            _plant_links(base)
        rel = _hostile_path(base, kind, name, depth)
        if where == "evict_at_tail":
            append_forged(base, {"kind": "evict", "reason": "demoted", "files": [rel], "bytes": 1})
        elif where == "event_media":
            sha = hashlib.sha256(b"x").hexdigest()
            append_forged(
                base,
                {
                    "kind": "event",
                    "seq": 50,
                    "trigger_time": "2026-12-01T05:00:00.000+07:00",
                    "verdict": {"decision": "discard", "score": 0.0},
                    "media": [{"file": rel, "role": "frame", "sha256": sha, "bytes": 1}],
                },
            )
        else:
            receipts = folder(base) / "receipts"
            receipts.mkdir()
            doc = {
                "format": "irbis-receipt",
                "version": 1,
                "deployment_id": DEP,
                "files": {rel: hashlib.sha256(b"x").hexdigest()},
            }
            (receipts / "20270101T000000Z-lab.json").write_text(json.dumps(doc))
        before = snapshot(outside)

        # the trap starts on this card and fills it (eviction runs) and halts
        s = open_storage(base, capacity_bytes=folder_bytes(base) + 3 * MB, free_floor_mb=1)
        s.reserve_bytes = 100_000
        for _ in range(8):
            commit(s, "keep", 0.9, size=200_000)
        s.close()
        assert s.state in ("card", "card_full", "card_foreign")  # it kept running

        repaired = check_card(base / "card", repair=True)
        checked = check_card(base / "card")
        assert snapshot(outside) == before
        assert repaired.exit_status == checked.exit_status == 1
        assert checked.counts.hostile_paths >= 1 or any(
            f.problem in ("hostile_path", "bad_receipt") for f in checked.findings
        )


def folder_bytes(base: Path) -> int:
    return sum(p.stat().st_size for p in (base / "card").rglob("*") if p.is_file())


@pytest.mark.parametrize(
    "linked",
    ["irbis", f"irbis/{DEP}", f"irbis/{DEP}/journal.jsonl", f"irbis/{DEP}/deployment.json"],
)
def test_a_card_whose_folders_or_files_are_links_off_it_is_set_aside_untouched(tmp_path, linked):
    outside = _outside(tmp_path)
    write_card(tmp_path)
    target = tmp_path / "card" / linked
    copy = outside / "copy"
    (shutil.copytree if target.is_dir() else shutil.copy2)(target, copy)
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    target.symlink_to(copy)
    before = snapshot(outside)
    s = open_storage(tmp_path)
    assert s.state == "card_foreign" and "symbolic link" in s.reason
    assert "hostile_card_paths" in s.faults
    commit(s)  # the trap goes on, into its internal buffer
    s.close()
    repaired = check_card(tmp_path / "card", repair=True)
    assert snapshot(outside) == before
    assert repaired.exit_status == 1
    assert any(f.problem == "hostile_path" for f in repaired.findings)


def test_a_forged_evict_record_at_the_tail_is_refused_journaled_and_reported(tmp_path):
    outside = _outside(tmp_path)
    write_card(tmp_path)
    victim = outside / "secret"
    append_forged(tmp_path, {"kind": "evict", "files": ["../../../outside/secret"], "bytes": 1})
    s = open_storage(tmp_path)  # the trap's start: recovery would finish this "eviction"
    assert victim.read_bytes() == b"not the card's: secret"
    assert s.state == "card" and "hostile_card_paths" in s.faults
    recovery = [r for r in scan(journal_path(tmp_path)).records if r["kind"] == "recovery"][-1]
    assert recovery["refused"][0]["path"] == "'../../../outside/secret'"
    commit(s)  # and the trap keeps storing events on this card
    report = check_card(tmp_path / "card")
    assert report.exit_status == 1
    assert any(
        f.problem == "hostile_path" and "../../../outside/secret" in f.detail
        for f in report.findings
    )


def test_a_record_cannot_make_another_events_file_its_own(tmp_path):
    s = write_card(tmp_path)
    animal = next(r for r in scan(journal_path(tmp_path)).records if r.get("seq") == 1)
    stolen = [{**animal["media"][0]}]
    append_forged(
        tmp_path,
        {
            "kind": "event",
            "seq": 40,
            "trigger_time": "2026-12-01T05:00:00.000+07:00",
            "verdict": {"decision": "discard", "score": 0.0},
            "media": stolen,
        },
    )
    s = open_storage(tmp_path, capacity_bytes=folder_bytes(tmp_path) + 2 * MB, free_floor_mb=1)
    s.reserve_bytes = 100_000
    for _ in range(6):
        commit(s, "keep", 0.9, size=200_000)
    assert (folder(tmp_path) / animal["media"][0]["file"]).exists()  # event 1, an animal
    report = check_card(tmp_path / "card")
    assert any("another event's file" in f.detail for f in report.findings)


# -- lost history ----------------------------------------------------------------------------------
def media_count(base: Path) -> int:
    return sum(1 for _ in folder(base).glob("2026-*/*.jpg"))


def test_an_empty_journal_beside_media_is_not_sound_before_or_after_repair(tmp_path, capsys):
    s = open_storage(tmp_path)
    for _ in range(147):
        commit(s, "keep", 0.9, size=100)
    s.close()
    assert media_count(tmp_path) == 441
    journal_path(tmp_path).write_bytes(b"")
    status = main(["card", "check", str(tmp_path / "card")])
    out = capsys.readouterr().out
    assert status == 1 and "NOT SOUND" in out
    report = check_card(tmp_path / "card")
    assert (report.counts.unjournaled_events, report.counts.unjournaled_media) == (147, 441)
    assert report.counts.lost_records > 0  # the checkpoint says how far the journal had grown
    status = main(["card", "check", "--repair", str(tmp_path / "card")])
    out = capsys.readouterr().out
    assert status == 1 and "history lost, journaled as such (not mended)" in out
    assert media_count(tmp_path) == 441  # nothing deleted
    (lost,) = [r for r in scan(journal_path(tmp_path)).records if r["kind"] == "lost"]
    assert lost["unjournaled_events"] == 147 and lost["unjournaled_media"] == 441
    assert main(["card", "check", str(tmp_path / "card")]) == 1  # and it stays NOT SOUND


def test_a_journal_cut_in_half_is_not_sound_after_repair(tmp_path):
    write_card(tmp_path, events=20)
    data = journal_path(tmp_path).read_bytes()
    journal_path(tmp_path).write_bytes(data[: len(data) // 2])
    assert check_card(tmp_path / "card").exit_status == 1
    repaired = check_card(tmp_path / "card", repair=True)
    assert repaired.exit_status == 1
    assert {"history_lost"} <= {f.problem for f in repaired.errors}
    assert repaired.repairs[0]["lost"]["lost_records"] > 0


def test_a_missing_journal_and_checkpoint_still_leave_the_media_as_evidence(tmp_path):
    write_card(tmp_path)
    journal_path(tmp_path).unlink()
    (folder(tmp_path) / "checkpoint.json").unlink()
    report = check_card(tmp_path / "card")
    assert report.exit_status == 1
    assert {"journal_missing", "history_lost"} <= {f.problem for f in report.errors}


def _damage(base: Path, how: str, where: float) -> tuple[bool, bool]:
    """Damage the journal: (a committed record was lost, the lost ones include the last)."""
    path = journal_path(base)
    data = path.read_bytes()
    lines = data.split(b"\n")[:-1]
    if how == "truncate":
        cut = int(where * len(data))
        path.write_bytes(data[:cut])
        lost = cut < len(data) - 1  # only the final newline gone: every record is still whole
        return lost, lost
    if how == "drop_tail_lines":
        keep = int(where * (len(lines) - 1))
        path.write_bytes(b"".join(line + b"\n" for line in lines[:keep]))
        return True, True
    if how == "drop_a_line":
        i = min(len(lines) - 1, int(where * len(lines)))
        path.write_bytes(b"".join(line + b"\n" for j, line in enumerate(lines) if j != i))
        return True, i == len(lines) - 1
    if how == "empty":
        path.write_bytes(b"")
        return True, True
    path.unlink()
    return True, True


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    how=st.sampled_from(["truncate", "drop_tail_lines", "drop_a_line", "empty", "delete"]),
    where=st.floats(min_value=0.0, max_value=1.0),
    events=st.integers(min_value=1, max_value=12),
    repair=st.booleans(),
)
def test_every_way_of_losing_committed_history_is_found(how, where, events, repair):
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        write_card(base, events=events)
        lost, tail_lost = _damage(base, how, where)
        report = check_card(base / "card", repair=repair)
        if lost:
            assert report.exit_status == 1, report.render()
        # The trap's start reads only the journal's tail: it finds a loss at the end (against
        # its marks), and a loss in the middle is card check's to find (the chain breaks).
        s = open_storage(base)
        if tail_lost:
            assert any(r["kind"] == "lost" for r in scan(journal_path(base)).records)
        assert s.next_seq() > events  # never a number used before
        assert check_card(base / "card").exit_status == (1 if lost else 0)


def test_the_trap_notices_a_shortened_journal_from_its_data_partition(tmp_path):
    write_card(tmp_path, events=6)
    lines = journal_path(tmp_path).read_bytes().split(b"\n")[:-1]
    journal_path(tmp_path).write_bytes(b"".join(line + b"\n" for line in lines[:3]))
    (folder(tmp_path) / "checkpoint.json").unlink()  # only the data partition remembers
    s = open_storage(tmp_path)
    assert "journal_history_lost" in s.faults
    (lost,) = [r for r in scan(journal_path(tmp_path)).records if r["kind"] == "lost"]
    assert [m["source"] for m in lost["marks"]] == ["data_partition"]
    assert lost["marks"][0]["found"] == "shorter" and lost["lost_records"] == 4
    seq = s.next_seq()
    assert seq == 7  # after every number the lost records used
    commit(s)  # no media file of the lost events is overwritten
    assert check_card(tmp_path / "card").exit_status == 1
    s.close()
    again = open_storage(tmp_path)  # the loss is journaled once, not at every start
    assert len([r for r in scan(journal_path(tmp_path)).records if r["kind"] == "lost"]) == 1
    assert "journal_history_lost" not in again.faults


def test_a_commit_never_overwrites_a_file_on_the_card(tmp_path):
    s = write_card(tmp_path, events=2)
    seq = s.next_seq()
    day = folder(tmp_path) / f"2026-12-{1 + seq % 3:02d}"  # where event `seq` will go
    day.mkdir(exist_ok=True)
    planted = day / f"{seq:08d}-02.jpg"
    planted.write_bytes(b"a file the card already holds")
    s2 = open_storage(tmp_path)
    # the start's recovery looks only at the newest folders, not this older one: the next
    # event is numbered `seq` and its commit meets the planted file
    assert s2.next_seq() == seq
    done = commit(s2)
    assert done["stored_in"] == "buffer" and s2.state == "card_foreign"  # saved, elsewhere
    assert "media_name_taken" in s2.faults
    assert planted.read_bytes() == b"a file the card already holds"
    assert not (day / f"{seq:08d}-01.jpg").exists()  # nothing of that event half-written


# -- exit codes ------------------------------------------------------------------------------------
def test_card_check_exit_codes_are_distinct(tmp_path, capsys, monkeypatch):
    write_card(tmp_path)
    card = str(tmp_path / "card")
    assert main(["card", "check", card]) == 0
    with pytest.raises(SystemExit) as usage:
        main(["card", "check", "--no-such-flag", card])
    assert usage.value.code == 2
    (tmp_path / "photos").mkdir()
    assert main(["card", "check", str(tmp_path / "photos")]) == 3
    real_open = os.open

    def denied(path, flags, *args, **kwargs):
        if str(path).endswith(".jpg"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    assert main(["card", "check", card]) == 4
    out = capsys.readouterr().out
    assert "could not be read or written" in out
    monkeypatch.setattr(os, "open", real_open)
    journal_path(tmp_path).write_bytes(journal_path(tmp_path).read_bytes()[:-30])
    assert main(["card", "check", card]) == 1


def test_repair_of_a_read_only_card_exits_4_and_changes_nothing(tmp_path, capsys):
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)])
    if made.returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        write_card(mnt)
        with journal_path(mnt).open("ab") as f:
            f.write(b'{"kind":"event","seq":9,"tor')  # a torn tail --repair would cut
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        before = snapshot(mnt)
        status = main(["card", "check", "--repair", str(mnt / "card")])
        out = capsys.readouterr().out
        assert status == 4 and "not_repaired" in out
        assert snapshot(mnt) == before
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


PATH_ALPHABET = st.sampled_from(["/", ".", "..", "\\", "\x00", "outside", "secret", "2026-12-01"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(st.one_of(PATH_ALPHABET, st.text(max_size=12)), min_size=1, max_size=12),
    absolute=st.booleans(),
)
def test_any_path_an_eviction_names_leaves_everything_outside_the_card_alone(parts, absolute):
    """Whatever string an `evict` record at the journal's tail names, the trap's recovery and
    a host's repair touch nothing outside the card (they finish only media evictions in it)."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        outside = _outside(base)
        write_card(base, events=2)
        rel = "".join(parts)
        if absolute:
            rel = str(outside) + "/" + rel
        append_forged(base, {"kind": "evict", "reason": "demoted", "files": [rel, *parts]})
        before = snapshot(outside)
        open_storage(base).close()
        check_card(base / "card", repair=True)
        assert snapshot(outside) == before


def test_oversized_files_on_a_card_are_not_read_whole(tmp_path):
    """A card cannot make the trap or a host read gigabytes: card.json, deployment.json and
    receipts have size limits; over them they are refused, named, and nothing is touched."""
    write_card(tmp_path)
    big = b'{"format": "irbis-card", "pad": "' + b"x" * (1 << 20) + b'"}'
    (tmp_path / "card" / "card.json").write_bytes(big)
    s = open_storage(tmp_path)
    assert s.state == "card_foreign" and "larger than" in s.reason
    report = check_card(tmp_path / "card")
    card_json = [f for f in report.findings if f.file == "card.json"]
    assert card_json and "larger than" in card_json[0].detail
    assert (tmp_path / "card" / "card.json").read_bytes() == big
