"""Crash-consistency torture: power cuts at random steps of the commit protocol (media writes,
folder creation, journal appends, evictions) and of recovery itself, on the simulated card,
with the store's invariants checked after every recovery.

Each trial is one card living through ROUNDS rounds. A round plans a few commits and maybe an
eviction, counts their primitive steps on a copy of the card, then runs them on the card with a
cut armed at a random one of those steps. After the cut the card reboots and the store is
reopened (recovery); sometimes recovery is itself cut at a random step of it (counted the same
way) and run again. Then the invariants are checked. Everything is seeded by the trial number.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from device.errors import CardError
from device.hal.cardio import OS_IO
from device.storage import layout
from device.storage.atomic import is_temp_name
from device.storage.event_store import EventStore, Media
from device.storage.journal import scan
from sim.card import PowerCut, SimCardIO

TRIALS = 300
ROUNDS = 5
RECOVERY_CUT_CHANCE = 0.35
DEPLOYMENT = ("irbis", "dep-1")
# Violations counted instead of failing (none: the three this test found are fixed, and their
# exact reproductions below are regression tests).
KNOWN: set[str] = set()

_Op = tuple[str, Any]  # ("commit", (day, [Media])) or ("evict", [files])


@dataclass
class History:
    """What the test knows about one card across its cuts."""

    attempted: dict[str, bytes] = field(default_factory=dict)  # media path -> bytes written
    started: set[int] = field(default_factory=set)  # seqs whose commit began
    journaled: set[int] = field(default_factory=set)  # seqs ever seen in the journal
    on_media: set[int] = field(default_factory=set)  # seqs ever seen in a final media name
    returned: list[dict[str, Any]] = field(default_factory=list)  # what commit returned
    in_op: str = ""  # the kind of operation running


@dataclass
class Counts:
    cuts_in: dict[str, int] = field(default_factory=lambda: {"commit": 0, "evict": 0})
    recovery_cuts: int = 0
    checked_media: int = 0
    commits_returned: int = 0
    recoveries: int = 0
    torn_journal_tails: int = 0
    traceless_renumbered: int = 0  # commits cut before leaving a trace, number given again
    known: dict[str, int] = field(default_factory=dict)  # known violations (KNOWN) by kind
    first_known: dict[str, str] = field(default_factory=dict)


def violation(counts: Counts, kind: str, message: str) -> None:
    """Fail, unless `kind` is a known violation (KNOWN): then count it and keep the first."""
    if kind not in KNOWN:
        raise AssertionError(f"{kind}: {message}")
    counts.known[kind] = counts.known.get(kind, 0) + 1
    counts.first_known.setdefault(kind, message)


def deployment(card_root: Path) -> Path:
    return card_root.joinpath(*DEPLOYMENT)


def new_media(rng: random.Random) -> list[Media]:
    frames: list[int | str] = list(range(1, rng.choice([0, 1, 2, 3, 3]) + 1))
    if frames and rng.random() < 0.5:
        frames.append(layout.THUMB)
    return [Media(f, rng.randbytes(rng.randint(20, 1500)), {"lux": 1.0}) for f in frames]


def live_media(dep: Path) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The journal's records, and every media an event lists that no later eviction lists."""
    records = scan(dep / layout.JOURNAL_FILE).records
    live: dict[str, dict[str, Any]] = {}
    for r in records:
        if r.get("kind") == "event":
            live.update({m["file"]: m for m in r["media"]})
        elif r.get("kind") == "evict":
            for rel in r["files"]:
                live.pop(rel, None)
    return records, live


def plan_round(rng: random.Random, dep: Path, day: int) -> tuple[list[_Op], int]:
    ops: list[_Op] = []
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.3:
            day += 1
        ops.append(("commit", (f"2026-12-{day:02d}", new_media(rng))))
    records, live = live_media(dep)
    events = [r for r in records if r.get("kind") == "event" and r["media"]]
    alive = [r for r in events if all(m["file"] in live for m in r["media"])]
    if alive and rng.random() < 0.4:
        victim = alive[0] if rng.random() < 0.7 else rng.choice(alive)
        ops.insert(rng.randint(0, len(ops)), ("evict", [m["file"] for m in victim["media"]]))
    return ops, day


def run_round(store: EventStore, ops: list[_Op], history: History | None) -> None:
    for kind, arg in ops:
        if history is not None:
            history.in_op = kind
        if kind == "evict":
            store.evict(arg, "low_score")
            continue
        day, media = arg
        seq = store.next_seq()
        record = {
            "seq": seq,
            "trigger_time": f"{day}T02:00:00.000+07:00",
            "source": "pir",
            "status": "ok",
        }
        if history is not None:
            history.started.add(seq)
            for m in media:
                history.attempted[layout.media_path(day, seq, m.frame)] = m.data
        returned = store.commit(record, media)
        if history is not None:
            history.returned.append(returned)


def count_steps(card_root: Path, action: Callable[[SimCardIO, Path], list[int]]) -> list[int]:
    """The steps `action` takes on a copy of the card (it returns them, per operation)."""
    copy = card_root.with_name(card_root.name + "-dry")
    shutil.copytree(card_root, copy, copy_function=_link_or_copy)
    try:
        return action(SimCardIO(copy), copy)
    finally:
        shutil.rmtree(copy)


def _link_or_copy(src: str, dst: str) -> None:
    """Media are only ever created, renamed and deleted, so the copy may share them (fast);
    the journal is appended to and truncated in place, so it is copied."""
    if src.endswith(layout.JOURNAL_FILE):
        shutil.copyfile(src, dst)
    else:
        os.link(src, dst)


def round_steps(ops: list[_Op]) -> Callable[[SimCardIO, Path], list[int]]:
    def action(io: SimCardIO, root: Path) -> list[int]:
        store = EventStore(deployment(root), io)
        steps = []
        for op in ops:
            before = io.ops_done
            run_round(store, [op], None)
            steps.append(io.ops_done - before)
        return steps

    return action


def recovery_steps(io: SimCardIO, root: Path) -> list[int]:
    EventStore(deployment(root), io)
    return [io.ops_done]


def pick_step(rng: random.Random, ops: list[_Op], steps: list[int]) -> int:
    """A step of the round, uniformly; half the time one inside its eviction, if it has one
    (evictions take few steps, so a uniform pick seldom lands in them)."""
    evictions = [i for i, (kind, _) in enumerate(ops) if kind == "evict" and steps[i]]
    if evictions and rng.random() < 0.5:
        return sum(steps[: evictions[0]]) + rng.randint(1, steps[evictions[0]])
    return rng.randint(1, sum(steps))


def reopen(card: SimCardIO, rng: random.Random, counts: Counts) -> EventStore:
    """The trap's start after a cut: recovery, itself cut now and then."""
    dep = deployment(card.root)
    while rng.random() < RECOVERY_CUT_CHANCE:
        steps = count_steps(card.root, recovery_steps)[0]
        if not steps:
            break
        card.arm_cut(rng.randint(1, steps), rng)
        try:
            EventStore(dep, card)
        except PowerCut:
            counts.recovery_cuts += 1
            card.reset_after_cut()
        else:
            raise AssertionError(f"a cut armed within recovery's {steps} steps did not fire")
    store = EventStore(dep, card)
    counts.recoveries += 1
    return store


def check(store: EventStore, dep: Path, history: History, counts: Counts, where: str) -> None:
    """The invariants after recovery: the chain verifies; every media an event lists and no
    later eviction lists is there with its size and sha256; no temporary file is left; a file
    under a final media name holds exactly the bytes a commit wrote for it; evicted files are
    gone; every commit that returned is still journaled, unchanged; next_seq is past every seq
    ever journaled or seen on media (a commit cut before leaving any trace leaves its number
    unused)."""
    result = scan(dep / layout.JOURNAL_FILE)
    assert result.problems == [], f"{where}: journal problems after recovery {result.problems}"
    records, live = live_media(dep)
    for rel, m in live.items():
        data = (dep / rel).read_bytes() if (dep / rel).exists() else None
        assert data is not None, f"{where}: committed media {rel} is missing"
        assert len(data) == m["bytes"], f"{where}: {rel} has {len(data)} B, not {m['bytes']}"
        assert hashlib.sha256(data).hexdigest() == m["sha256"], f"{where}: {rel} hash differs"
        counts.checked_media += 1
    for path in dep.rglob("*"):
        assert not is_temp_name(path.name), f"{where}: temporary file {path} after recovery"
        if path.is_file() and layout.parse_media_name(path.name):
            rel = str(path.relative_to(dep))
            history.on_media.add(int(layout.parse_media_name(path.name)[0]))
            assert path.read_bytes() == history.attempted.get(rel), (
                f"{where}: {rel} under a final name does not hold the bytes written for it"
            )
    evicted = {f for r in records if r.get("kind") == "evict" for f in r["files"]}
    left_over = sorted(rel for rel in evicted - set(live) if (dep / rel).exists())
    if left_over:
        violation(counts, "eviction_unfinished", f"{where}: evicted yet still there {left_over}")
    by_rec = {r["rec"]: r for r in records}
    for r in history.returned:
        assert by_rec.get(r["rec"]) == r, f"{where}: returned commit seq {r['seq']} lost"
    history.journaled |= {int(r["seq"]) for r in records if r.get("kind") == "event"}
    next_seq = store.next_seq()
    if next_seq <= max(history.journaled, default=0):
        violation(
            counts,
            "seq_of_journaled_event_reused",
            f"{where}: next_seq {next_seq} but seq {max(history.journaled)} was journaled",
        )
    elif next_seq <= max(history.on_media, default=0):
        violation(
            counts,
            "seq_of_orphan_media_reused",
            f"{where}: next_seq {next_seq} but seq {max(history.on_media)} is on the card's media",
        )
    elif next_seq <= max(history.started, default=0):
        # A commit cut before anything carrying its number became durable leaves the number
        # unused (docs/card-format.md): the next event may take it. Counted, not a violation.
        counts.traceless_renumbered += 1


def trial(seed: int, base: Path, counts: Counts) -> None:
    rng = random.Random(seed)
    root = base / f"card{seed}"
    root.mkdir()
    card = SimCardIO(root)
    dep = deployment(root)
    history = History()
    store = EventStore(dep, card)
    day = 1
    for round_no in range(ROUNDS):
        ops, day = plan_round(rng, dep, day)
        per_op = count_steps(root, round_steps(ops))
        step, steps = pick_step(rng, ops, per_op), sum(per_op)
        card.arm_cut(step, rng)
        try:
            run_round(store, ops, history)
        except PowerCut as cut:
            report = cut.report
        else:
            raise AssertionError(f"seed {seed} round {round_no}: cut at {step}/{steps} missed")
        counts.cuts_in[history.in_op] += 1
        counts.torn_journal_tails += any(
            f.path.endswith(layout.JOURNAL_FILE) and f.kept_bytes > f.durable_bytes
            for f in (report.files if report else [])
        )
        card.reset_after_cut()
        where = f"seed {seed} round {round_no} cut at step {step}/{steps} ({report})"
        try:
            store = reopen(card, rng, counts)
        except CardError as exc:
            violation(counts, "journal_refused", f"{where}: {exc}")
            break
        check(store, dep, history, counts, where)
    counts.commits_returned += len(history.returned)
    shutil.rmtree(root)


def test_power_cuts_at_every_step_never_lose_a_commit_or_reuse_a_seq(tmp_path):
    counts = Counts()
    started = time.perf_counter()
    for seed in range(TRIALS):
        trial(seed, tmp_path, counts)
    elapsed_s = time.perf_counter() - started
    print(
        f"\ntorture: {counts.cuts_in['commit']} cuts in commits, {counts.cuts_in['evict']} in "
        f"evictions, {counts.recovery_cuts} in recovery; {counts.recoveries} recoveries "
        f"checked, {counts.checked_media} media "
        f"verified, {counts.commits_returned} commits returned, {counts.torn_journal_tails} "
        f"torn journal tails, {counts.traceless_renumbered} traceless commits renumbered, "
        f"{elapsed_s:.1f} s"
    )
    for kind, n in counts.known.items():
        print(f"KNOWN VIOLATION {kind} x{n}, first: {counts.first_known[kind]}")
    assert sum(counts.cuts_in.values()) >= 1000


# -- exact reproductions of what this test found, kept as regression tests -------------------
def record(seq: int, day: str) -> dict[str, Any]:
    return {
        "seq": seq,
        "trigger_time": f"{day}T02:00:00.000+07:00",
        "source": "pir",
        "status": "ok",
    }


def test_a_commit_cut_before_leaving_any_trace_leaves_its_number_unused(tmp_path):
    card = SimCardIO(tmp_path)
    store = EventStore(tmp_path / "dep", card)
    store.commit(record(1, "2026-12-01"), [Media(1, b"one", {})])
    card.arm_cut(1, random.Random(0))  # the first step of commit 2: mkdir of its day folder
    with pytest.raises(PowerCut):
        store.commit(record(2, "2026-12-02"), [Media(1, b"two", {})])
    card.reset_after_cut()
    assert not [p for p in (tmp_path / "dep").rglob("*") if p.name.startswith("00000002")]
    assert EventStore(tmp_path / "dep", card).next_seq() == 2  # nothing carries 2: unused


def test_orphan_media_older_than_the_two_newest_day_folders_keep_their_seq(tmp_path):
    dep = tmp_path / "dep"
    EventStore(dep, OS_IO)
    # A cut after event 1's media but before its journal record, then two commits cut right
    # after creating their (empty, durable) day folders:
    (dep / "2026-12-01").mkdir()
    (dep / "2026-12-01" / layout.media_name(1, 1)).write_bytes(b"orphan of event 1")
    (dep / "2026-12-02").mkdir()
    (dep / "2026-12-03").mkdir()
    assert EventStore(dep, OS_IO).next_seq() == 2


def test_a_torn_first_journal_record_holding_a_newline_is_cut_not_refused(tmp_path):
    dep = tmp_path / "dep"
    EventStore(dep, OS_IO)
    # The first append (a record of 200-odd bytes) cut after 40 of them; the card's block held
    # junk after them, a 0x0a among it (what a FAT card shows when the size got out first).
    torn = b'{"kind":"event","media":[],"prev":"0000' + bytes([0x97, 0x0A, 0x03, 0xB1])
    (dep / layout.JOURNAL_FILE).write_bytes(torn)
    store = EventStore(dep, OS_IO)
    assert store.recovery.cut_bytes == len(torn) and store.next_seq() == 1
