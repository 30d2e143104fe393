"""The scenario's card faults on short simulated deployments: the real trap and storage code on
the simulated card (sim/card_slot.py), asserted on the cards, the buffer and the metrics."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from device.storage.index import is_low_value
from device.storage.journal import scan
from sim import scenario as scenario_mod
from sim.metrics import collect
from sim.runner import simulate

DEP = "altai-winter-90d"


def run(tmp_path: Path, days: float = 3.0, hardware=None, trap=None, **faults):
    base = scenario_mod.load(DEP)
    scenario = replace(
        base,
        faults=scenario_mod.Faults(**faults),
        hardware=replace(base.hardware, **(hardware or {})),
        trap=base.trap.with_values(**(trap or {})),
    )
    out = tmp_path / "run"
    result = simulate(scenario, seed=3, out=out, days=days)
    return out, collect(result), result


def events(root: Path) -> list[dict]:
    return [r for r in scan(root / "journal.jsonl").records if r["kind"] == "event"]


def status(out: Path) -> dict:
    return json.loads((out / "internal" / "irbis" / "status.json").read_text())


def assert_nothing_lost(m: dict) -> None:
    assert m["data_loss"] == {"committed_media_missing": 0, "committed_media_corrupt": 0}


def test_a_full_card_stops_capture_and_still_counts_triggers(tmp_path):
    out, m, _ = run(
        tmp_path,
        hardware={"card_capacity_bytes": 6_000_000},
        trap={"storage__free_floor_mb": 1, "storage__reserve_mb": 1, "storage__probe_samples": 0},
    )
    assert m["events"]["not_captured"] > 0 and m["events"]["captured"] > 0
    assert status(out)["state"] == "card_full"
    recs = events(out / "card" / "irbis" / DEP)
    not_captured = [r for r in recs if r["status"] == "not_captured"]
    assert not_captured and all(r["media"] == [] for r in not_captured)
    # outside ring mode only what triage judged of little value may go (thumbnails of empty
    # or discarded events, low scores); then capture stops
    journal = scan(out / "card" / "irbis" / DEP / "journal.jsonl").records
    evictions = [r for r in journal if r["kind"] == "evict"]
    assert sum(len(r["files"]) for r in evictions) == m["storage"]["evicted_files"]
    assert {r["reason"] for r in evictions} <= {"demoted", "thumbnail"}
    assert_value_order(journal)
    assert_nothing_lost(m)


VALUE_ORDER = ("demoted", "thumbnail", "ring")  # what goes first (nothing is offloaded here)


def assert_value_order(journal: list[dict]) -> None:
    """Replay the journal: each eviction takes the lowest class still on the card (demoted
    frames, then thumbnails, then in ring mode the rest), and outside ring mode never an event
    triage kept as an animal."""
    on_card: dict[str, str] = {}  # file -> its class now
    for r in journal:
        if r["kind"] == "event":
            low = is_low_value(r.get("verdict") or {}, 0.5)
            for m in r["media"]:
                thumb = m["role"] == "thumb"
                on_card[m["file"]] = ("thumbnail" if thumb else "demoted") if low else "ring"
        elif r["kind"] == "evict":
            classes = {on_card.pop(f) for f in r["files"]}
            assert classes == {r["reason"]}, r
            lower = VALUE_ORDER[: VALUE_ORDER.index(r["reason"])]
            assert not [f for f, c in on_card.items() if c in lower], (r["rec"], r["reason"])


def test_ring_mode_on_a_full_card_keeps_capturing_oldest_out(tmp_path):
    out, m, _ = run(
        tmp_path,
        hardware={"card_capacity_bytes": 6_000_000},
        trap={
            "storage__free_floor_mb": 1,
            "storage__reserve_mb": 1,
            "storage__ring": True,
            "storage__probe_samples": 0,
        },
    )
    assert m["storage"]["evicted_files"] > 0 and m["events"]["not_captured"] == 0
    journal = scan(out / "card" / "irbis" / DEP / "journal.jsonl").records
    assert "ring" in {r.get("reason") for r in journal}
    assert_value_order(journal)
    assert_nothing_lost(m)


def test_io_errors_from_a_given_day_send_events_to_the_buffer(tmp_path):
    out, m, result = run(tmp_path, card_io_errors_from_day=1.0)
    card = events(out / "card" / "irbis" / DEP)
    buffered = events(out / "internal" / "irbis" / "buffer" / DEP)
    assert card and buffered
    assert max(r["seq"] for r in card) < min(r["seq"] for r in buffered)
    first_buffered = datetime.fromisoformat(buffered[0]["trigger_time"])
    assert (first_buffered - result.scenario.start_utc).total_seconds() >= 86400
    assert status(out)["state"] == "card_io_errors"
    assert_nothing_lost(m)


def test_a_ranger_visit_swaps_the_card_and_the_sequence_goes_on(tmp_path):
    out, m, _ = run(tmp_path, card_visits=[[1.0, 1.5]])
    first = events(out / "card" / "irbis" / DEP)
    second = events(out / "card-2" / "irbis" / DEP)
    assert first and second
    seqs = [r["seq"] for r in first + second]
    assert seqs == sorted(set(seqs))  # never reused across the two cards
    assert any(r.get("buffered") for r in second)  # taken while the slot was empty
    card2 = json.loads((out / "card-2" / "card.json").read_text())
    card1 = json.loads((out / "card" / "card.json").read_text())
    assert card2["card_id"] != card1["card_id"]
    assert not (out / "internal" / "irbis" / "buffer" / DEP).exists()
    assert m["storage"]["cards"] == 2
    assert_nothing_lost(m)


def test_slow_writes_take_virtual_time_in_the_storing_state(tmp_path):
    rate_mb_s = 0.5
    out, m, _ = run(tmp_path, days=1.0, card_write_mb_s=rate_mb_s)
    log = [json.loads(line) for line in (out / "trap.log").read_text().splitlines()]
    spans = []
    entered = None
    for rec in log:
        if rec.get("msg") != "transition":
            continue
        t = datetime.fromisoformat(rec["t"]).timestamp()
        if rec["to"] == "storing":
            entered = t
        elif rec["from"] == "storing" and entered is not None:
            spans.append((rec.get("seq"), t - entered))
    by_seq = {
        r["seq"]: sum(x["bytes"] for x in r["media"]) for r in events(out / "card" / "irbis" / DEP)
    }
    checked = 0
    for seq, span_s in spans:
        if by_seq.get(seq):
            assert span_s >= by_seq[seq] / (rate_mb_s * 1e6) * 0.99
            checked += 1
    assert checked > 3
    assert_nothing_lost(m)


def test_a_counterfeit_card_is_caught_by_the_first_use_probe(tmp_path):
    out, m, _ = run(
        tmp_path, days=0.5, hardware={"card_capacity_bytes": 8 * 2**30}, card_real_bytes=2**30
    )
    probe = json.loads((out / "card" / "card.json").read_text())["capacity_probe"]
    assert probe["result"] == "counterfeit" and probe["verified_bytes"] <= 2**30
    assert_nothing_lost(m)


@pytest.mark.parametrize("seed", [5])
def test_same_seed_same_cards_with_faults(tmp_path, seed):
    def tree(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file() and "internal" not in p.parts
        }

    a, _, _ = run(tmp_path / "a", card_visits=[[1.0, 1.5]], card_io_errors_from_day=2.5)
    b, _, _ = run(tmp_path / "b", card_visits=[[1.0, 1.5]], card_io_errors_from_day=2.5)
    ta, tb = tree(a), tree(b)
    ta.pop("trap.log", None), tb.pop("trap.log", None)
    assert ta == tb
