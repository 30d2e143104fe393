"""The simulated card: what a power cut keeps and drops, the faults it injects (full, failing,
pulled out, slow), and that its cuts are the same for the same rng."""

from __future__ import annotations

import errno
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from device.storage.atomic import temp_name, write_atomic
from sim.card import PowerCut, SimCardIO
from sim.clock import VirtualClock

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def new_card(tmp_path: Path, name: str = "card", **kwargs) -> SimCardIO:
    root = tmp_path / name
    root.mkdir()
    return SimCardIO(root, **kwargs)


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_everything_present_at_the_start_is_durable(tmp_path):
    (tmp_path / "card").mkdir()
    (tmp_path / "card" / "old.jpg").write_bytes(b"o" * 300)
    card = SimCardIO(tmp_path / "card", capacity_bytes=1000)
    assert (card.used_bytes(), card.free_bytes()) == (300, 700)
    card.power_cut(random.Random(0))
    assert tree(card.root) == {"old.jpg": b"o" * 300}


def test_a_full_card_refuses_the_write_and_nothing_is_half_visible(tmp_path):
    card = new_card(tmp_path, capacity_bytes=1000)
    write_atomic(card, card.root / "a.jpg", b"a" * 600)
    with pytest.raises(OSError) as err:
        write_atomic(card, card.root / "b.jpg", b"b" * 600)
    assert err.value.errno == errno.ENOSPC
    assert tree(card.root) == {"a.jpg": b"a" * 600}  # no b.jpg, no .b.jpg.tmp
    assert (card.used_bytes(), card.free_bytes()) == (600, 400)
    card.unlink(card.root / "a.jpg")
    write_atomic(card, card.root / "b.jpg", b"b" * 600)  # room again once a.jpg is gone
    assert tree(card.root) == {"b.jpg": b"b" * 600}
    assert card.used_bytes() == 600


def test_io_errors_start_at_the_given_virtual_time_and_reach_reads(tmp_path):
    clock = VirtualClock(T0)
    card = new_card(tmp_path, clock=clock, io_errors_from_s=10.0)
    card.create(card.root / "log", b"before\n", sync=True)
    clock.advance(9.5)
    card.append(card.root / "log", b"still fine\n", sync=True)
    clock.advance(0.5)
    for op in (
        lambda: card.append(card.root / "log", b"lost\n", sync=True),
        lambda: card.create(card.root / "new", b"x", sync=True),
        lambda: card.sync_dir(card.root),
        lambda: card.read(card.root / "log"),
    ):
        with pytest.raises(OSError) as err:
            op()
        assert err.value.errno == errno.EIO
    assert tree(card.root) == {"log": b"before\nstill fine\n"}


def test_a_pulled_card_fails_every_operation_and_an_inserted_one_works(tmp_path):
    card = new_card(tmp_path)
    card.create(card.root / "a", b"on the first card", sync=True)
    card.remove()
    assert not card.present
    for op in (
        lambda: card.create(card.root / "b", b"x", sync=True),
        lambda: card.read(card.root / "a"),
        lambda: card.mkdir(card.root / "d"),
    ):
        with pytest.raises(OSError) as err:
            op()
        assert err.value.errno == errno.EIO
    second = tmp_path / "second"
    second.mkdir()
    (second / "there.jpg").write_bytes(b"t" * 50)
    card.insert(second)
    assert card.present and card.root == second and card.used_bytes() == 50
    card.create(second / "b", b"on the second card", sync=True)
    assert card.read(second / "b") == b"on the second card"
    assert tree(tmp_path / "card") == {"a": b"on the first card"}


def test_pulling_a_card_with_cached_bytes_can_lose_them(tmp_path):
    card = new_card(tmp_path)
    card.create(card.root / "a", b"synced", sync=True)
    card.sync_dir(card.root)
    card.append(card.root / "a", b" cached", sync=False)
    card.create(card.root / "z", b"newest", sync=True)  # written last: only it may tear
    report = card.remove(random.Random(3))
    assert report is not None
    assert (card.root / "a").read_bytes() == b"synced"


def test_slow_writes_advance_the_virtual_clock_and_fire_timers_on_the_way(tmp_path):
    clock = VirtualClock(T0)
    fired: list[float] = []
    clock.call_later(0.3, lambda: fired.append(clock.monotonic_s()))
    card = new_card(tmp_path, clock=clock, write_bytes_per_s=1000.0)
    card.create(card.root / "a.jpg", b"x" * 500, sync=True)
    assert clock.monotonic_s() == pytest.approx(0.5)
    assert fired == [pytest.approx(0.3)]
    card.append(card.root / "a.jpg", b"y" * 250, sync=False)
    assert clock.monotonic_s() == pytest.approx(0.75)
    card.sync_dir(card.root)  # no data: no time
    assert clock.monotonic_s() == pytest.approx(0.75)


def test_a_cut_drops_what_was_not_synced(tmp_path):
    seen_new = set()
    for seed in range(40):
        card = new_card(tmp_path, f"card{seed}")
        card.create(card.root / "durable", b"D" * 100, sync=True)
        card.create(card.root / "log", b"A" * 100, sync=True)
        card.sync_dir(card.root)
        card.append(card.root / "log", b"B" * 50, sync=False)  # cached, not written last
        card.create(card.root / "new", b"N" * 80, sync=False)  # never synced, entry neither
        report = card.power_cut(random.Random(seed))
        files = tree(card.root)
        assert files["durable"] == b"D" * 100
        assert files["log"] == b"A" * 100
        assert len(files.get("new", b"")) <= 80
        seen_new.add("new" in files)
        assert ("+new" in report.dropped) == ("new" not in files)
    assert seen_new == {True, False}


def test_a_synced_file_unlinked_before_its_directory_was_synced_can_come_back(tmp_path):
    outcomes = set()
    for seed in range(30):
        card = new_card(tmp_path, f"card{seed}")
        write_atomic(card, card.root / "photo.jpg", b"P" * 700)
        card.unlink(card.root / "photo.jpg")
        assert not (card.root / "photo.jpg").exists()
        card.power_cut(random.Random(seed))
        outcomes.add(tree(card.root).get("photo.jpg"))
        assert not any(card.root.parent.glob(f"{card.root.name}/.*held*"))
    assert outcomes == {None, b"P" * 700}  # gone or whole, never partial


def test_a_file_unlinked_after_its_directory_was_synced_stays_gone(tmp_path):
    card = new_card(tmp_path)
    write_atomic(card, card.root / "photo.jpg", b"P" * 700)
    card.unlink(card.root / "photo.jpg")
    card.sync_dir(card.root)
    card.power_cut(random.Random(0))
    assert tree(card.root) == {}


def test_a_replace_not_yet_synced_leaves_the_old_or_the_new_file_whole(tmp_path):
    outcomes = set()
    for seed in range(30):
        card = new_card(tmp_path, f"card{seed}")
        write_atomic(card, card.root / "deployment.json", b"old" * 10)
        card.create(temp_name(card.root / "deployment.json"), b"new" * 20, sync=True)
        card.replace(temp_name(card.root / "deployment.json"), card.root / "deployment.json")
        card.power_cut(random.Random(seed))
        files = tree(card.root)
        outcomes.add(files["deployment.json"])
        if files["deployment.json"] == b"old" * 10:
            assert files.get(".deployment.json.tmp", b"new" * 20) == b"new" * 20
    assert outcomes == {b"old" * 10, b"new" * 20}


def test_an_unsynced_rewrite_of_a_durable_file_rolls_back(tmp_path):
    card = new_card(tmp_path)
    card.create(card.root / "card.json", b'{"v":1}', sync=True)
    card.sync_dir(card.root)
    card.create(card.root / "card.json", b'{"v":2,"longer":true}', sync=False)
    card.create(card.root / "other", b"x", sync=True)  # so card.json is not the last write
    card.power_cut(random.Random(1))
    assert (card.root / "card.json").read_bytes() == b'{"v":1}'


def test_a_cut_mid_write_tears_only_the_last_write(tmp_path):
    line = b'{"rec":3,"some":"record"}\n'
    torn_lengths = set()
    for seed in range(40):
        card = new_card(tmp_path, f"card{seed}")
        journal = card.root / "journal.jsonl"
        card.create(journal, b"line 1\nline 2\n", sync=True)
        card.sync_dir(card.root)
        card.create(card.root / "side", b"S" * 10, sync=True)
        card.sync_dir(card.root)
        card.append(card.root / "side", b"cached", sync=False)
        card.arm_cut(1, random.Random(seed))
        with pytest.raises(PowerCut) as cut:
            try:
                card.append(journal, line, sync=True)
            except Exception:  # the firmware's handlers do not swallow a power cut
                pytest.fail("PowerCut caught as an Exception")
        assert cut.value.step == card.ops_done and cut.value.report is card.last_cut
        data = journal.read_bytes()
        assert data.startswith(b"line 1\nline 2\n") and len(data) <= 14 + len(line)
        torn_lengths.add(len(data) - 14)
        assert (card.root / "side").read_bytes() == b"S" * 10  # not the last write: cut back
    assert 0 in torn_lengths and len(torn_lengths) > 5


def test_after_a_cut_every_operation_raises_until_the_reboot(tmp_path):
    card = new_card(tmp_path)
    card.create(card.root / "a", b"a", sync=True)
    card.sync_dir(card.root)
    card.arm_cut(2, random.Random(0))
    card.mkdir(card.root / "d")  # step 1 of 2
    with pytest.raises(PowerCut):
        card.sync_dir(card.root)  # step 2: the cut
    for op in (lambda: card.read(card.root / "a"), lambda: card.unlink(card.root / "a")):
        with pytest.raises(PowerCut):
            op()
    card.reset_after_cut()
    assert card.read(card.root / "a") == b"a"
    assert card.used_bytes() == 1


def test_ops_done_counts_the_steps_so_a_protocol_can_be_cut_at_each(tmp_path):
    card = new_card(tmp_path, "count")
    before = card.ops_done
    write_atomic(card, card.root / "a.jpg", b"A" * 400)
    steps = card.ops_done - before
    assert steps == 4  # data write, fsync, replace, sync_dir
    for step in range(1, steps + 1):
        for seed in range(10):
            card = new_card(tmp_path, f"cut{step}-{seed}")
            card.arm_cut(step, random.Random(seed))
            with pytest.raises(PowerCut):
                write_atomic(card, card.root / "a.jpg", b"A" * 400)
            assert tree(card.root).get("a.jpg", b"A" * 400) == b"A" * 400


def test_the_same_rng_gives_the_same_card(tmp_path):
    def run(name: str, seed: int) -> tuple[dict[str, bytes], object]:
        card = new_card(tmp_path, name)
        (card.root / "day").mkdir()
        card.sync_dir(card.root)
        card.create(card.root / "j", b"0123456789" * 20, sync=True)
        for i in range(6):
            write_atomic(card, card.root / "day" / f"{i}.jpg", bytes([i]) * 300)
            if i >= 2:
                card.unlink(card.root / "day" / f"{i - 2}.jpg")
            card.mkdir(card.root / "day" / f"sub{i}")
            card.append(card.root / "j", b"x" * 37, sync=i % 2 == 0)
        card.arm_cut(3, random.Random(seed))
        with pytest.raises(PowerCut) as cut:
            card.append(card.root / "j", b"tail" * 40, sync=False)
            card.create(card.root / "day" / "9.jpg", b"9" * 90, sync=True)
        return tree(card.root), cut.value.report

    assert run("a", 5) == run("b", 5)
    assert len({repr(run(f"s{seed}", seed)) for seed in range(8)}) > 1


def test_advance_moves_virtual_time_and_fires_due_timers_in_order():
    clock = VirtualClock(T0)
    fired: list[str] = []
    clock.call_later(2.0, lambda: fired.append("2s"))
    clock.call_later(1.0, lambda: fired.append("1s"))
    clock.call_later(5.0, lambda: fired.append("5s"))
    clock.advance(2.5)
    assert clock.monotonic_s() == 2.5 and fired == ["1s", "2s"]
    with pytest.raises(ValueError):
        clock.advance(-1.0)


def test_a_card_path_that_is_not_there_is_an_empty_slot_until_it_appears(tmp_path):
    from sim.card_slot import SimCard
    from sim.scenario import Faults

    with pytest.raises(FileNotFoundError):
        SimCardIO(tmp_path / "nope")  # the card model itself still needs its folder
    clock = VirtualClock(T0)
    slot = SimCard(tmp_path, tmp_path / "card", 10**9, "test", clock, Faults(), seed=0)
    assert not slot.present() and not (tmp_path / "card").exists()
    with pytest.raises(OSError) as info:
        slot.io.create(tmp_path / "card" / "x", b"x", sync=True)
    assert info.value.errno == errno.EIO  # as a pulled card: nothing is written anywhere
    (tmp_path / "card").mkdir()  # a card put in
    assert slot.present()
    write_atomic(slot.io, tmp_path / "card" / "card.json", b"{}")
    assert tree(tmp_path / "card") == {"card.json": b"{}"}
