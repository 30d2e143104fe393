"""Triage on synthetic frames: decisions, reasons, never discarding without evidence, the bank."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from device.triage import DECISIONS, BackgroundBank, Triage, TriageSettings
from device.triage.engine import _best_track
from device.triage.evidence import ChangeMap, Region

H, W = 240, 320


def scene(seed: int = 0) -> np.ndarray:
    """A textured empty view: smooth hills plus fine texture, uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:H, 0:W]
    base = 90 + 40 * np.sin(x / 37.0) * np.cos(y / 23.0) + rng.normal(0, 12, (H, W))
    return np.clip(base, 0, 255).astype(np.uint8)


def noisy(frame: np.ndarray, rng: np.random.Generator, sd: float = 2.0) -> np.ndarray:
    return np.clip(frame + rng.normal(0, sd, frame.shape), 0, 255).astype(np.uint8)


def with_animal(frame: np.ndarray, x: int, y: int = 140, level: int = 30) -> np.ndarray:
    """A dark body 40x20 px (darker than the view: a uint8 subtraction would wrap)."""
    out = frame.copy()
    out[y : y + 20, x : x + 40] = level
    return out


def trained(seed: int = 0, **kw: object) -> tuple[Triage, np.ndarray, np.random.Generator]:
    rng = np.random.default_rng(seed + 100)
    view = scene(seed)
    triage = Triage(TriageSettings(**kw))  # type: ignore[arg-type]
    for k in range(4):
        triage.observe([noisy(view, rng)], ir_on=False, time_s=k, timelapse=True)
    return triage, view, rng


def test_moving_animal_is_kept_with_the_region_frame_as_best() -> None:
    triage, view, rng = trained()
    frames = [noisy(with_animal(view, 60 + 30 * k), rng) for k in range(3)]
    v = triage.judge(frames, event_seq=3)
    assert v.decision == "keep"
    assert v.score is not None and v.score >= 0.9
    assert "region_against_background" in v.reasons and "region_persists" in v.reasons
    assert v.best_frame in (1, 2, 3)
    assert v.to_record()["decision"] == "keep"


def test_noise_only_burst_is_discarded_with_evidence_and_learned() -> None:
    triage, view, rng = trained()
    before = len(triage.bank)
    v = triage.observe([noisy(view, rng) for _ in range(3)], ir_on=False, time_s=10)
    assert v.decision == "discard"
    assert v.reasons[0] == "no_change_against_background"
    assert v.score == 0.0
    assert len(triage.bank) > before  # an empty burst refreshes the background


def test_whole_frame_brightness_change_is_not_an_animal() -> None:
    triage, view, rng = trained()
    frames = [noisy(np.clip(view * 1.6, 0, 255).astype(np.uint8), rng) for _ in range(3)]
    v = triage.judge(frames)
    assert v.decision == "discard"
    assert v.measures["light_gain"] == pytest.approx(1.6, rel=0.1)


def test_moving_soft_shadow_band_is_shading_not_an_animal() -> None:
    triage, view, rng = trained()
    frames = []
    x = np.arange(W, dtype=np.float32)
    for k in range(3):
        centre = 110 + 40 * k  # a cloud's shadow: soft edges, drifting across
        shade = 1 - 0.4 * np.exp(-(((x - centre) / 45.0) ** 2))
        frames.append(noisy((view * shade[None, :]).astype(np.uint8), rng))
    assert triage.judge(frames).decision != "keep"


def test_scattered_specks_like_snow_are_not_kept() -> None:
    triage, view, rng = trained()
    frames = []
    for _ in range(3):
        f = noisy(view, rng)
        ys, xs = rng.integers(0, H - 2, 60), rng.integers(0, W - 2, 60)
        for y, x in zip(ys, xs, strict=True):
            f[y : y + 2, x : x + 2] = 250
        frames.append(f)
    assert triage.judge(frames).decision != "keep"


def test_single_frame_without_background_is_kept_with_reason() -> None:
    v = Triage().judge([scene()])
    assert v.decision == "keep"
    assert "single_frame_no_background" in v.reasons and "no_background" in v.reasons


def test_identical_frames_without_background_are_never_discarded() -> None:
    view = scene()
    v = Triage().judge([view, view.copy(), view.copy()])
    assert v.decision == "thumbnail"
    assert "no_change_in_burst" in v.reasons


def test_unreadable_and_dark_bursts_are_kept_with_reasons() -> None:
    assert Triage().judge([None, None]).reasons[0] == "no_readable_frame"
    assert Triage().judge([]).decision == "keep"
    dark = np.full((H, W), 5, np.uint8)
    v = Triage().judge([dark, dark])
    assert (v.decision, v.score) == ("keep", None)
    assert "too_dark" in v.reasons
    white = np.full((H, W), 255, np.uint8)
    assert "overexposed" in Triage().judge([white]).reasons


def test_hazy_frames_cannot_prove_an_event_empty() -> None:
    triage = Triage()
    fog = np.full((H, W), 180, np.uint8)
    rng = np.random.default_rng(1)
    for k in range(3):
        triage.observe([noisy(fog, rng, 1.0)], ir_on=False, time_s=k, timelapse=True)
    v = triage.judge([noisy(fog, rng, 1.0) for _ in range(3)])
    assert v.decision == "thumbnail"
    assert "hazy" in v.reasons


def test_odd_frames_are_set_aside_not_crashed_on() -> None:
    triage, view, _rng = trained()
    colour = np.stack([view] * 3, axis=2)
    small = np.zeros((120, 160), np.uint8)
    as_float = view.astype(np.float64)
    v = triage.judge([colour, small, as_float, "not a frame"])  # type: ignore[list-item]
    assert "frame_size_mismatch" in v.reasons and "unreadable_frame" in v.reasons
    assert v.decision in DECISIONS


def test_masked_change_is_ignored() -> None:
    triage, view, rng = trained(masks=((0.0, 0.5, 1.0, 1.0),))
    frames = [noisy(with_animal(view, 60 + 30 * k, y=180), rng) for k in range(3)]
    assert triage.judge(frames).decision == "discard"
    unmasked, view2, rng2 = trained()
    frames = [noisy(with_animal(view2, 60 + 30 * k, y=180), rng2) for k in range(3)]
    assert unmasked.judge(frames).decision == "keep"


def test_audit_share_keeps_a_fixed_sample_of_discards() -> None:
    picked = []
    for share in (0.0, 0.25, 1.0):
        triage, view, rng = trained(audit_share=share)
        audited = 0
        for seq in range(40):
            v = triage.judge([noisy(view, rng) for _ in range(2)], event_seq=seq)
            assert v.decision == "discard"
            audited += v.audit
        picked.append(audited)
    assert picked[0] == 0 and picked[2] == 40
    assert 4 <= picked[1] <= 16


def _region(blocks: int, col: float, row: float = 15.0) -> Region:
    return Region(blocks, int(row), int(col), int(row) + 1, int(col) + blocks, row, col, 0.5)


def _maps(*found: tuple[Region, ...]) -> list[ChangeMap]:
    return [
        ChangeMap(0.01, sum(r.blocks for r in f), f, 1.0, sizes=tuple(r.blocks for r in f))
        for f in found
    ]


def test_a_small_region_that_moves_on_is_corroborated_by_each_sighting() -> None:
    """A distant or camouflaged animal: three blocks in each comparison, a block further on each
    time. Every new sighting adds to its evidence; about the same blocks at the same place
    again (something in the middle frame only, seen by both differences) do not."""
    moving = _best_track(_maps((_region(3, 10.0),), (_region(3, 11.0),)))
    repeated = _best_track(_maps((_region(3, 10.0),), (_region(3, 10.2),)))
    assert moving.length == repeated.length == 2
    assert moving.evidence >= TriageSettings().keep_from > repeated.evidence
    once = _best_track(_maps((_region(3, 10.0),)))
    assert repeated.evidence == pytest.approx(once.evidence)  # seen twice, counted once


def test_a_one_block_sighting_continues_the_track_of_an_animal_coming_into_view() -> None:
    """An animal walking in at the frame's edge: one block, then two, then three."""
    entering = _best_track(_maps((_region(1, 39.0),), (_region(2, 38.5),), (_region(3, 38.0),)))
    assert entering.length == 3 and entering.blocks == 3
    alone = _best_track(_maps((), (), (_region(3, 38.0),)))
    assert entering.evidence > alone.evidence
    assert _best_track(_maps((_region(1, 39.0),), (), ())).evidence == 0.0  # one block: nothing


def test_busy_blocks_weaken_change_that_recurs_in_place() -> None:
    triage, view, rng = trained()

    def swaying(phase: int) -> list[np.ndarray]:
        """Grass along the bottom: its blades in new places in every frame."""
        out = []
        for _ in range(3):
            f = noisy(view, rng)
            f[200:236, :] = rng.integers(40, 200, (36, W), dtype=np.uint8)
            out.append(f)
        return out

    first = triage.judge(swaying(0))
    for phase in range(1, 6):
        later = triage.judge(swaying(phase))
    assert later.score is not None and first.score is not None
    assert later.score < first.score
    assert later.decision != "keep"


def test_bank_keeps_lights_apart_and_round_trips(tmp_path) -> None:
    bank = BackgroundBank(per_light=2)
    day, night = scene(1), scene(2) // 4
    bank.add(night, ir_on=True, time_s=0)  # first in the list: removal must not compare arrays
    for t in range(1, 4):
        bank.add(day, ir_on=False, time_s=t)
    assert len(bank) == 3  # the oldest day frame made room
    assert bank.model((H, W), ir_on=True, level=30) is not None
    assert bank.model((100, 100), ir_on=False, level=30) is None
    bank.add(day[::2, ::2].copy(), ir_on=False, time_s=5)  # another lores size: its own light
    bank.note_activity((H, W), np.ones((30, 40), bool))
    path = tmp_path / "background.npz"
    path.write_bytes(bank.to_bytes())
    again = BackgroundBank.load(path, per_light=2)
    assert len(again) == 4 and not again.dirty
    assert again.model((H // 2, W // 2), ir_on=False, level=float(day.mean())) is not None
    model = again.model((H, W), ir_on=False, level=float(day.mean()))
    assert model is not None and np.array_equal(model.median, day.astype(np.float32))
    assert again.busy((H, W)) is not None
    path.write_bytes(b"not an npz")
    assert len(BackgroundBank.load(path)) == 0
    with pytest.raises(ValueError, match="background bank unreadable"):
        BackgroundBank.from_bytes(b"\x00" * 10)
    buf = io.BytesIO()
    np.savez(buf, frames_4x4=np.zeros((2, 4, 4), np.uint8), meta_4x4=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="frames_4x4"):
        BackgroundBank.from_bytes(buf.getvalue())


def test_settings_refuse_bad_values() -> None:
    with pytest.raises(ValueError, match="discard_below"):
        TriageSettings(keep_from=0.2, discard_below=0.5)
    with pytest.raises(ValueError, match="mask"):
        TriageSettings(masks=((0.5, 0.0, 0.2, 1.0),))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            hnp.arrays(
                st.sampled_from([np.uint8, np.float32, np.int32, bool]),
                st.sampled_from([(24, 32), (24, 32, 3), (30, 40), (5,), (0, 0)]),
            ),
        ),
        max_size=4,
    )
)
def test_any_burst_gets_a_verdict(frames: list[np.ndarray | None]) -> None:
    v = Triage().judge(frames)
    assert v.decision in DECISIONS
    assert v.score is None or 0.0 <= v.score <= 1.0
    assert v.reasons
