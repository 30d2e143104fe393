"""The first-use capacity probe: honest and counterfeit cards (sim/block_device.py), its cost, its
backup file across power cuts, and the raw device on a real temporary file."""

from __future__ import annotations

import errno
import hashlib
import itertools
import json
import logging
import math
import os
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from device.errors import CardError
from device.hal.pi.block import RawBlockDevice
from device.hal.pi.card import SdCard
from device.storage.probe import (
    MIN_ALIAS_MODULUS_BYTES,
    RESERVED_HEAD_BYTES,
    ProbeRestoreError,
    ProbeResult,
    classify,
    encode_backup,
    max_sample_gap_bytes,
    probe_capacity,
    restore_from_backup,
    sample_offsets,
)
from sim.block_device import SimBlockDevice
from sim.card import PowerCut

KIB, MIB, GIB = 1024, 1024**2, 1024**3
GB = 10**9
BLOCK = 4096


def cost_bound_reads(dev: SimBlockDevice, samples: int) -> int:
    """3 reads per sample plus at most one alias read per power of two from 1 MiB up."""
    return samples * (3 + math.ceil(math.log2(dev.size_bytes / MIN_ALIAS_MODULUS_BYTES)))


def assert_within_edge(result: ProbeResult, real_bytes: int, samples: int = 64) -> None:
    gap = max_sample_gap_bytes(result.claimed_bytes, BLOCK, samples)
    assert result.result == "counterfeit"
    assert real_bytes - gap < result.verified_bytes <= real_bytes


# -- honest and counterfeit cards ----------------------------------------------------------------


def test_an_honest_card_is_ok_and_verified_in_full_at_the_documented_cost(tmp_path):
    dev = SimBlockDevice(64 * GB, fill_seed=1)
    result = probe_capacity(dev, samples=64, seed=7, backup=tmp_path / "probe.bak")
    assert result == ProbeResult(64 * GB, 64 * GB, 64, (), "ok", "raw-sampled")
    assert dev.writes == 2 * 64 and dev.bytes_written == 2 * 64 * BLOCK
    assert dev.flushes == 2
    assert 3 * 64 <= dev.reads <= cost_bound_reads(dev, 64)
    assert dev.changed_blocks() == []
    assert not (tmp_path / "probe.bak").exists()


def test_a_wrapping_counterfeit_claiming_64_gb_holding_8_gib_is_caught_near_8_gib():
    dev = SimBlockDevice(64 * GB, real_bytes=8 * GIB, mode="wrap", fill_seed=2)
    result = probe_capacity(dev, seed=3)
    assert_within_edge(result, 8 * GIB)
    assert result.verified_bytes >= 8 * GIB - max_sample_gap_bytes(64 * GB, BLOCK)
    assert all(offset >= 8 * GIB for offset in result.failed_offsets)
    assert dev.changed_blocks() == []


def test_a_dropping_counterfeit_is_caught_near_its_real_size():
    real_bytes = 8 * GB // BLOCK * BLOCK  # any multiple of the block: dropping needs no power of 2
    dev = SimBlockDevice(64 * GB, real_bytes=real_bytes, mode="drop", fill_seed=3)
    result = probe_capacity(dev, seed=4)
    assert_within_edge(result, real_bytes)
    assert dev.changed_blocks() == []


@settings(max_examples=40, deadline=None)
@given(
    claimed_blocks=st.integers(min_value=2 * 1024, max_value=64 * GB // BLOCK),
    real_exponent=st.integers(min_value=23, max_value=36),
    mode=st.sampled_from(["wrap", "drop"]),
    seed=st.integers(min_value=0, max_value=2**32),
    samples=st.integers(min_value=4, max_value=96),
)
def test_the_edge_guarantee_holds_for_power_of_two_wraps_and_drops(
    claimed_blocks, real_exponent, mode, seed, samples
):
    claimed_bytes = claimed_blocks * BLOCK + seed % BLOCK  # a claimed size need not be aligned
    real_bytes = 2**real_exponent
    offsets = sample_offsets(claimed_bytes, BLOCK, samples, seed)
    assume(offsets[0] + BLOCK <= real_bytes <= offsets[-1])  # the guarantee's range
    dev = SimBlockDevice(claimed_bytes, real_bytes=real_bytes, mode=mode, fill_seed=seed)
    result = probe_capacity(dev, samples=samples, seed=seed)
    assert result.samples == len(offsets)
    assert_within_edge(result, real_bytes, samples)
    assert dev.changed_blocks() == []
    assert dev.writes == 2 * len(offsets)


def test_a_wrap_that_lands_in_the_first_4_mib_is_caught_and_restored_there():
    dev = SimBlockDevice(256 * MIB, real_bytes=16 * MIB, mode="wrap", fill_seed=5)
    result = probe_capacity(dev, samples=32, seed=1)
    assert_within_edge(result, 16 * MIB, samples=32)
    head_blocks = {dev.physical_block(o) for o in result.failed_offsets} & set(range(1024))
    assert head_blocks, "some aliases landed below 4 MiB"
    assert dev.changed_blocks() == []


def test_when_samples_share_storage_the_lower_one_keeps_it():
    # Evenly spaced samples 1 GiB apart from 4 MiB: on an 8 GiB wrap, 4 MiB + 9 GiB lands on the
    # sample 4 MiB + 1 GiB, and so on; the genuine (lower) samples must still pass.
    claimed_bytes = RESERVED_HEAD_BYTES + 47 * GIB + BLOCK
    offsets = sample_offsets(claimed_bytes, BLOCK, 64, seed=0)
    shared = [o for o in offsets if o >= 8 * GIB and o % (8 * GIB) in offsets]
    assert len(shared) >= 30
    dev = SimBlockDevice(claimed_bytes, real_bytes=8 * GIB, mode="wrap", fill_seed=12)
    result = probe_capacity(dev, seed=0)
    assert_within_edge(result, 8 * GIB)
    assert dev.changed_blocks() == []


def test_scattered_bad_blocks_are_failing_not_counterfeit():
    offsets = sample_offsets(64 * GB, BLOCK, 64, seed=9)
    bad = {offsets[5] // BLOCK, offsets[20] // BLOCK}
    dev = SimBlockDevice(64 * GB, bad_blocks=bad, fill_seed=6)
    result = probe_capacity(dev, seed=9)
    assert result.result == "failing"
    assert result.failed_offsets == (offsets[5], offsets[20])
    assert result.verified_bytes == offsets[4] + BLOCK
    assert dev.changed_blocks() == []


def test_writes_refused_past_the_real_size_count_as_failed_samples():
    class Refusing(SimBlockDevice):
        def write_at(self, offset, data):
            if offset >= self.real_bytes:
                raise OSError(errno.EIO, "beyond the flash")
            super().write_at(offset, data)

    dev = Refusing(32 * GB, real_bytes=4 * GIB, mode="drop")
    assert_within_edge(probe_capacity(dev, seed=2), 4 * GIB)


def test_the_probe_never_writes_inside_the_first_4_mib():
    for claimed in (RESERVED_HEAD_BYTES + BLOCK, 5 * MIB, 64 * GB):
        dev = SimBlockDevice(claimed, fill_seed=1)
        probe_capacity(dev, seed=1)
        assert dev.written_offsets
        assert min(dev.written_offsets) >= RESERVED_HEAD_BYTES
        assert max(dev.written_offsets) == (claimed // BLOCK - 1) * BLOCK


def test_a_device_too_small_to_probe_is_refused_before_any_io():
    dev = SimBlockDevice(RESERVED_HEAD_BYTES)
    with pytest.raises(ValueError, match="too small"):
        probe_capacity(dev)
    assert dev.reads == dev.writes == 0


@settings(max_examples=60, deadline=None)
@given(
    size_bytes=st.integers(min_value=RESERVED_HEAD_BYTES + BLOCK, max_value=2 * 10**12),
    samples=st.integers(min_value=2, max_value=200),
    seed=st.integers(min_value=0, max_value=1000),
)
def test_sample_offsets_are_aligned_spread_and_seeded(size_bytes, samples, seed):
    offsets = sample_offsets(size_bytes, BLOCK, samples, seed)
    last = (size_bytes // BLOCK - 1) * BLOCK
    assert list(offsets) == sorted(set(offsets))
    assert all(o % BLOCK == 0 and RESERVED_HEAD_BYTES <= o <= last for o in offsets)
    assert offsets[0] == RESERVED_HEAD_BYTES and offsets[-1] == last
    assert len(offsets) == min(samples, (last - RESERVED_HEAD_BYTES) // BLOCK + 1)
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    assert max(gaps, default=0) <= max_sample_gap_bytes(size_bytes, BLOCK, samples)
    assert sample_offsets(size_bytes, BLOCK, samples, seed) == offsets


def test_the_random_part_of_the_sample_depends_on_the_seed():
    assert sample_offsets(64 * GB, BLOCK, 64, 1) != sample_offsets(64 * GB, BLOCK, 64, 2)


@settings(max_examples=200, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 10**6), min_size=2, max_size=40, unique=True).map(sorted),
    data=st.data(),
)
def test_classify_a_clean_edge_is_counterfeit_and_anything_else_failing(offsets, data):
    offsets = tuple(o * BLOCK for o in offsets)
    edge = data.draw(st.integers(1, len(offsets) - 1))
    assert classify(offsets, set(offsets[edge:]), 10**12, BLOCK) == (
        "counterfeit",
        offsets[edge - 1] + BLOCK,
    )
    hole = data.draw(st.integers(0, len(offsets) - 2))
    assert classify(offsets, {offsets[hole]}, 10**12, BLOCK) == (
        "failing",
        offsets[hole - 1] + BLOCK if hole else 0,
    )
    assert classify(offsets, set(offsets), 10**12, BLOCK) == ("failing", 0)
    assert classify(offsets, set(), 10**12, BLOCK) == ("ok", 10**12)


# -- restoring the originals ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["honest", "wrap", "drop"])
@pytest.mark.parametrize("writes_before_cut", [0, 1, 31, 63, 64, 65, 127])
def test_after_a_power_cut_mid_probe_the_backup_restores_every_original(
    tmp_path, mode, writes_before_cut
):
    real_bytes = None if mode == "honest" else 2 * GIB
    dev = SimBlockDevice(16 * GB, real_bytes, "drop" if mode == "drop" else "wrap", fill_seed=4)
    backup = tmp_path / "probe.bak"
    dev.arm_cut(writes_before_cut)
    with pytest.raises(PowerCut):
        probe_capacity(dev, seed=5, backup=backup)
    assert backup.exists()
    dev.power_on()
    assert restore_from_backup(dev, backup) == 64
    assert dev.changed_blocks() == []
    assert not backup.exists()


def test_the_probe_refuses_to_overwrite_a_backup_left_by_a_cut_probe(tmp_path):
    backup = tmp_path / "probe.bak"
    backup.write_bytes(b"left over")
    dev = SimBlockDevice(16 * GB)
    with pytest.raises(FileExistsError, match="restore_from_backup"):
        probe_capacity(dev, backup=backup)
    assert dev.writes == 0 and backup.read_bytes() == b"left over"


def test_an_error_mid_probe_restores_the_originals_and_is_raised(tmp_path):
    class FlushFails(SimBlockDevice):
        def flush(self):
            super().flush()
            if self.flushes == 1:
                raise RuntimeError("controller bug")

    dev = FlushFails(16 * GB, fill_seed=8)
    backup = tmp_path / "probe.bak"
    with pytest.raises(RuntimeError, match="controller bug"):
        probe_capacity(dev, seed=1, backup=backup)
    assert dev.changed_blocks() == []
    assert not backup.exists()


def test_a_restore_that_does_not_read_back_raises_and_keeps_the_backup(tmp_path):
    class StuckAfterOneWrite(SimBlockDevice):
        """While `stuck`, each block takes one write and ignores later ones (the pattern stays)."""

        stuck = True

        def write_at(self, offset, data):
            if self.stuck and offset in self.written_offsets:
                self.writes += 1
                return
            super().write_at(offset, data)

    dev = StuckAfterOneWrite(16 * GB, fill_seed=9)
    backup = tmp_path / "probe.bak"
    with pytest.raises(ProbeRestoreError, match=str(backup)) as info:
        probe_capacity(dev, seed=1, backup=backup)
    assert isinstance(info.value, OSError) and isinstance(info.value, CardError)
    assert len(info.value.offsets) == 64
    assert backup.exists()
    dev.stuck = False
    assert restore_from_backup(dev, backup) == 64
    assert dev.changed_blocks() == []


def originals_of(dev: SimBlockDevice, offsets) -> dict[int, bytes]:
    return {o: dev.read_at(o, BLOCK) for o in offsets}


def record_bytes() -> int:
    return 12 + BLOCK + 4


@pytest.mark.parametrize(
    ("cut_at", "complete"),
    [
        (0, 0),
        (5, 0),  # inside the magic
        (26, 0),  # just the header
        (26 + 11, 0),  # inside the first record's offset and length
        (26 + record_bytes() - 1, 0),  # the first record without its last CRC byte
        (26 + record_bytes(), 1),
        (26 + 3 * record_bytes() + 100, 3),
        (26 + 10 * record_bytes() + 15, 10),  # the end marker without its last CRC byte
    ],
)
def test_a_truncated_backup_restores_its_complete_records_and_says_so(
    tmp_path, caplog, cut_at, complete
):
    dev = SimBlockDevice(16 * GB, fill_seed=10)
    offsets = sample_offsets(16 * GB, BLOCK, 10, seed=1)
    originals = originals_of(dev, offsets)
    backup = tmp_path / "probe.bak"
    backup.write_bytes(encode_backup(16 * GB, BLOCK, originals)[:cut_at])
    for offset in offsets:  # overwrite every sample, to see which ones the restore writes back
        dev.write_at(offset, b"P" * BLOCK)
    with caplog.at_level(logging.WARNING, logger="irbis.storage"):
        assert restore_from_backup(dev, backup) == complete
    assert "truncated" in caplog.text and f"{complete} complete records" in caplog.text
    assert [dev.read_at(o, BLOCK) == originals[o] for o in offsets] == [True] * complete + [
        False
    ] * (10 - complete)
    assert not backup.exists()


def test_a_complete_backup_restores_without_warning(tmp_path, caplog):
    dev = SimBlockDevice(16 * GB, fill_seed=11)
    offsets = sample_offsets(16 * GB, BLOCK, 10, seed=1)
    backup = tmp_path / "probe.bak"
    backup.write_bytes(encode_backup(16 * GB, BLOCK, originals_of(dev, offsets)))
    with caplog.at_level(logging.WARNING, logger="irbis.storage"):
        assert restore_from_backup(dev, backup) == 10
    assert caplog.text == ""


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


GOOD_BACKUP = encode_backup(16 * GB, BLOCK, {8 * MIB: b"a" * BLOCK, 12 * MIB: b"b" * BLOCK})


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"#!/bin/sh\necho this is not a backup\n" * 4, "bad magic"),
        (b"JUNK", "bad magic"),
        (_flip(GOOD_BACKUP, 10), "header CRC"),
        (_flip(GOOD_BACKUP, 26 + 12 + 100), "CRC mismatch"),  # inside the first record's data
        (GOOD_BACKUP + b"\0", "after the end marker"),
        (GOOD_BACKUP[:26] + bytes(40), "out of range"),  # a zero-filled tail
        (encode_backup(32 * GB, BLOCK, {8 * MIB: b"a" * BLOCK}), "device of 32000000000"),
        (encode_backup(16 * GB, 512, {8 * MIB: b"a" * 512}), "512-byte blocks"),
    ],
)
def test_a_garbage_backup_is_a_value_error_and_is_left_in_place(tmp_path, content, reason):
    dev = SimBlockDevice(16 * GB)
    backup = tmp_path / "probe.bak"
    backup.write_bytes(content)
    with pytest.raises(ValueError, match=reason) as info:
        restore_from_backup(dev, backup)
    assert str(backup) in str(info.value) and "left in place" in str(info.value)
    assert backup.read_bytes() == content
    assert dev.writes == 0


# -- the result in card.json ---------------------------------------------------------------------


def test_the_result_round_trips_through_json():
    result = ProbeResult(64 * GB, 8 * GIB - 4096, 64, (8 * GIB, 9 * GIB), "counterfeit")
    text = json.dumps(result.to_json())
    assert ProbeResult.from_json(json.loads(text)) == result
    assert json.loads(text)["method"] == "raw-sampled"


GOOD_JSON = ProbeResult(64 * GB, 8 * GIB, 64, (8 * GIB, 9 * GIB), "counterfeit").to_json()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"claimed_bytes": "64GB"}, "claimed_bytes"),
        ({"verified_bytes": -1}, "verified_bytes"),
        ({"verified_bytes": 65 * GB}, "verified_bytes"),
        ({"samples": True}, "samples"),
        ({"samples": 1}, "failed_offsets"),
        ({"failed_offsets": "8589934592"}, "failed_offsets"),
        ({"failed_offsets": [9 * GIB, 8 * GIB]}, "failed_offsets"),
        ({"failed_offsets": [1.5]}, "failed_offsets"),
        ({"failed_offsets": [70 * GB]}, "failed_offsets"),
        ({"result": "fake"}, "result"),
        ({"result": "ok"}, "result"),
        ({"method": ""}, "method"),
        ({"method": None}, "method"),
    ],
)
def test_from_json_names_the_bad_field(change, field):
    with pytest.raises(ValueError, match=field):
        ProbeResult.from_json({**GOOD_JSON, **change})


@pytest.mark.parametrize("field", sorted(GOOD_JSON))
def test_from_json_names_a_missing_field(field):
    d = dict(GOOD_JSON)
    del d[field]
    with pytest.raises(ValueError, match=field):
        ProbeResult.from_json(d)


def test_from_json_refuses_a_non_object_and_ignores_unknown_keys():
    with pytest.raises(ValueError, match="object"):
        ProbeResult.from_json([GOOD_JSON])
    assert ProbeResult.from_json({**GOOD_JSON, "note": "newer"}).to_json() == GOOD_JSON


def test_an_ok_result_must_verify_the_whole_claim():
    with pytest.raises(ValueError, match="verified_bytes"):
        ProbeResult(64 * GB, 8 * GIB, 64, (), "ok")


# -- the simulated device ------------------------------------------------------------------------


def test_the_sim_models_wrap_drop_and_bad_blocks():
    wrap = SimBlockDevice(64 * MIB, real_bytes=16 * MIB, mode="wrap")
    wrap.write_at(16 * MIB + 8192, b"w" * BLOCK)
    assert wrap.read_at(8192, BLOCK) == b"w" * BLOCK
    drop = SimBlockDevice(64 * MIB, real_bytes=16 * MIB, mode="drop", fill_seed=1)
    drop.write_at(20 * MIB, b"d" * BLOCK)
    assert drop.read_at(20 * MIB, BLOCK) == bytes(BLOCK)
    assert drop.changed_blocks() == []
    bad = SimBlockDevice(64 * MIB, bad_blocks={3}, fill_seed=2)
    bad.write_at(3 * BLOCK, b"b" * BLOCK)
    assert bad.read_at(3 * BLOCK, BLOCK) == bad.initial(3) != b"b" * BLOCK
    honest = SimBlockDevice(64 * MIB, fill_seed=3)
    honest.write_at(BLOCK - 100, b"x" * 200)  # across a block boundary
    assert honest.read_at(BLOCK - 100, 200) == b"x" * 200
    assert honest.changed_blocks() == [0, 1]
    with pytest.raises(ValueError, match="outside"):
        honest.read_at(64 * MIB - 100, 200)


# -- the raw device ------------------------------------------------------------------------------


def sparse_file(path: Path, size_bytes: int) -> Path:
    with open(path, "wb") as f:
        f.truncate(size_bytes)
    return path


def test_raw_device_reads_back_what_it_wrote_after_a_flush(tmp_path):
    image = sparse_file(tmp_path / "card.img", 8 * MIB)
    data = os.urandom(3 * BLOCK)
    with RawBlockDevice(image) as dev:
        assert (dev.size_bytes, dev.block_bytes) == (8 * MIB, BLOCK)
        dev.write_at(5 * MIB, data)
        dev.flush()
        assert dev.read_at(5 * MIB, len(data)) == data
        assert dev.read_at(5 * MIB - BLOCK, BLOCK) == bytes(BLOCK)
    with open(image, "rb") as f:
        f.seek(5 * MIB)
        assert f.read(len(data)) == data


def test_raw_device_refuses_misaligned_out_of_range_and_closed_io(tmp_path):
    image = sparse_file(tmp_path / "card.img", 8 * MIB)
    with pytest.raises(ValueError, match="size_bytes"):
        RawBlockDevice(image, size_bytes=9 * MIB)
    dev = RawBlockDevice(image, size_bytes=6 * MIB)
    assert dev.size_bytes == 6 * MIB
    with pytest.raises(ValueError, match="multiples of 512"):
        dev.read_at(100, BLOCK)
    with pytest.raises(ValueError, match="outside"):
        dev.write_at(6 * MIB, b"\0" * BLOCK)
    dev.close()
    dev.close()
    with pytest.raises(ValueError, match="closed"):
        dev.read_at(0, BLOCK)


def test_raw_device_falls_back_without_o_direct_where_it_is_refused(tmp_path, monkeypatch):
    real_open = os.open

    def no_direct(path, flags, *args):
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", no_direct)
    image = sparse_file(tmp_path / "card.img", 8 * MIB)
    with RawBlockDevice(image) as dev:
        assert not dev.direct
        dev.write_at(4 * MIB, b"z" * BLOCK)
        dev.flush()
        assert dev.read_at(4 * MIB, BLOCK) == b"z" * BLOCK


def test_a_full_probe_of_a_64_mib_file_is_ok_and_leaves_it_unchanged(tmp_path):
    image = tmp_path / "card.img"
    image.write_bytes(hashlib.shake_256(b"card").digest(64 * MIB))
    before = hashlib.sha256(image.read_bytes()).digest()
    with RawBlockDevice(image) as dev:
        result = probe_capacity(dev, seed=1, backup=tmp_path / "probe.bak")
    assert result == ProbeResult(64 * MIB, 64 * MIB, 64, (), "ok")
    assert hashlib.sha256(image.read_bytes()).digest() == before
    assert not (tmp_path / "probe.bak").exists()


def test_a_probe_of_a_sparse_64_mib_file_is_ok(tmp_path):
    with RawBlockDevice(sparse_file(tmp_path / "card.img", 64 * MIB)) as dev:
        assert probe_capacity(dev).result == "ok"


# -- SdCard.block_device ---------------------------------------------------------------------------


def test_sd_card_block_device_is_none_off_an_mmcblk_device(tmp_path):
    assert SdCard(tmp_path, sys_root=tmp_path / "no-sys").block_device() is None


def fake_sys_on(mount: Path, sys_root: Path, disk: str) -> None:
    """A /sys where `mount`'s device is partition 1 of `disk`."""
    st_dev = os.stat(mount).st_dev
    part_dir = sys_root / "devices/platform/mmc0/block" / disk / f"{disk}p1"
    part_dir.mkdir(parents=True)
    (part_dir / "partition").write_text("1\n")
    (sys_root / "dev/block").mkdir(parents=True)
    (sys_root / "dev/block" / f"{os.major(st_dev)}:{os.minor(st_dev)}").symlink_to(part_dir)


def test_sd_card_block_device_opens_the_whole_mmcblk_disk(tmp_path, monkeypatch):
    opened = []
    monkeypatch.setattr("device.hal.pi.block.RawBlockDevice", lambda path: opened.append(path))
    fake_sys_on(tmp_path, tmp_path / "sys", "mmcblk0")
    SdCard(tmp_path, sys_root=tmp_path / "sys").block_device()
    assert opened == [Path("/dev/mmcblk0")]


def test_sd_card_block_device_that_cannot_be_opened_is_a_card_error(tmp_path, monkeypatch):
    def refuse(path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr("device.hal.pi.block.RawBlockDevice", refuse)
    fake_sys_on(tmp_path, tmp_path / "sys", "mmcblk0")
    with pytest.raises(CardError, match="/dev/mmcblk0"):
        SdCard(tmp_path, sys_root=tmp_path / "sys").block_device()


def test_sd_card_block_device_is_none_on_a_usb_reader(tmp_path):
    fake_sys_on(tmp_path, tmp_path / "sys", "sda")
    assert SdCard(tmp_path, sys_root=tmp_path / "sys").block_device() is None
