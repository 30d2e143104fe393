"""Triage rules: from quality, background and frame-to-frame evidence to a score, a decision
and the reasons.

The rules, in order:
1. Frames that did not decode, are not 2-D images, or differ in size from the rest are set
   aside with a reason. No readable frame, or none with light enough to show anything: keep.
2. Each usable frame is compared with the background of the same light (the bank), and each
   frame with the one before it. Coherent regions count as evidence of an animal; a region that
   persists over the burst counts more. Whole-scene changes and scattered change do not count.
3. Score >= keep_from: keep. Score < discard_below and evidence that the event is empty (no
   change against a background of the same light, a whole-scene change, or only scattered
   change, seen in frames of good quality): discard. Otherwise: thumbnail.
   Never discard without evidence: a single frame with no background, frames too dark,
   unreadable or hazy keep the event (or its thumbnail) with the reason.
4. A share of discarded events (audit_share) keeps a thumbnail, so misses can be measured.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from time import perf_counter

import numpy as np

from device.triage.background import BackgroundBank, BackgroundModel
from device.triage.evidence import ChangeMap, Grid, Region, against_background, between_frames
from device.triage.quality import Quality, assess, sharpness
from device.triage.verdict import TriageSettings, Verdict

MIN_REGION_BLOCKS = 2  # the smallest region that counts as evidence (2 blocks of the 40-wide grid)
REGION_SCALE_BLOCKS = 3.0  # how fast evidence grows with the region's size
CORROBORATION = 0.5  # weight of a track's other sightings, in blocks, beside its largest region
MOVED_BLOCKS = 0.75  # a region this far from the one before it in a track is a new sighting
RESIZED = 0.5  # ... and so is one that grew or shrank by this share of the larger of the two
MAX_TRACKED = 4  # regions per comparison followed through the burst (largest first)
LINK_BLOCKS = 4.0  # regions of consecutive comparisons this close (plus their size) are linked
BUSY_SHARE = 0.6  # a track with more than this share of its blocks busy is in a busy area
BUSY_FACTOR = 0.15  # evidence left to a track in a busy area
MIN_SIDE_PX = 16  # frames smaller than this on a side are not images triage can read
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class Triage:
    """Judges bursts against the background bank; learns empty frames into it."""

    def __init__(
        self, settings: TriageSettings | None = None, bank: BackgroundBank | None = None
    ) -> None:
        self.settings = settings or TriageSettings()
        self.bank = bank if bank is not None else BackgroundBank(self.settings.background_frames)
        self._grids: dict[tuple[int, int], Grid] = {}

    # -- the trap's entry points ---------------------------------------------------------------
    def observe(
        self,
        frames: Sequence[np.ndarray | None],
        *,
        ir_on: bool,
        time_s: float,
        timelapse: bool = False,
        event_seq: int = 0,
    ) -> Verdict:
        """One event as the trap sees it: a time-lapse shot is kept and becomes background; a
        motion burst is judged, and a burst judged empty (discard) becomes background too."""
        if timelapse:
            self.learn(frames, ir_on=ir_on, time_s=time_s)
            return Verdict("keep", None, ("timelapse",))
        verdict = self.judge(frames, ir_on=ir_on, event_seq=event_seq)
        if verdict.decision == "discard":
            self.learn(frames, ir_on=ir_on, time_s=time_s)
        return verdict

    def learn(self, frames: Sequence[np.ndarray | None], *, ir_on: bool, time_s: float) -> None:
        """Add the readable, usable frames of an empty view to the bank."""
        readable, _ = _readable(frames)
        for _, frame in readable:
            if assess(frame).usable:
                self.bank.add(frame, ir_on=ir_on, time_s=time_s)

    def judge(
        self, frames: Sequence[np.ndarray | None], *, ir_on: bool = False, event_seq: int = 0
    ) -> Verdict:
        """The verdict for one burst of low-resolution frames (None: a frame not decoded)."""
        started = perf_counter()
        readable, notes = _readable(frames)
        if not readable:
            return Verdict("keep", None, ("no_readable_frame", *notes))
        quality = [assess(f) for _, f in readable]
        usable = [(i, f, q) for (i, f), q in zip(readable, quality, strict=True) if q.usable]
        if not usable:
            flags = sorted({flag for q in quality for flag in q.flags})
            return Verdict("keep", None, (*flags, *notes), best_frame=readable[0][0] + 1)
        shape = usable[0][1].shape
        grid = self._grid(shape)
        level = sum(q.mean for _, _, q in usable) / len(usable)
        background = self.bank.model(shape, ir_on=ir_on, level=level)
        verdict = self._decide(usable, grid, background, notes, event_seq)
        verdict.measures["triage_ms"] = (perf_counter() - started) * 1000
        return verdict

    # -- the rules -----------------------------------------------------------------------------
    def _decide(
        self,
        usable: list[tuple[int, np.ndarray, Quality]],
        grid: Grid,
        background: BackgroundModel | None,
        notes: list[str],
        event_seq: int,
    ) -> Verdict:
        s = self.settings
        shape = usable[0][1].shape
        busy = self.bank.busy(shape)
        prepared = [grid.prepare(f) for _, f, _ in usable]
        bg_maps: list[ChangeMap] = []
        if background is not None:
            reference = grid.prepare(background.median)
            bg_maps = [
                against_background(p, reference, background.sigma, grid, busy) for p in prepared
            ]
        pair_maps = [
            between_frames(prepared[k - 1], prepared[k], grid, busy)
            for k in range(1, len(prepared))
        ]
        seen = [m.active for m in (bg_maps or pair_maps) if m.active is not None]
        if seen:
            self.bank.note_activity(shape, np.logical_or.reduce(seen))
        bg_track = _best_track(bg_maps)
        pair_track = _best_track(pair_maps)
        s_bg, s_pair = bg_track.evidence, pair_track.evidence
        score = 1 - (1 - s_bg) * (1 - s_pair)

        maps = bg_maps + pair_maps
        whole = bool(maps) and all(m.whole_scene for m in maps if not _coherent(m))
        whole = whole and any(m.whole_scene for m in maps)
        scattered = any(m.scattered(MIN_REGION_BLOCKS) for m in maps)
        conclusive = all(q.conclusive for _, _, q in usable)
        flags = sorted({flag for _, _, q in usable for flag in q.flags})

        reasons: list[str] = []
        if score >= s.keep_from:
            decision = "keep"
            if s_bg > 0:
                reasons.append("region_against_background")
            if s_pair > 0:
                reasons.append("region_moving_in_burst")
            if bg_track.length >= 2 or pair_track.length >= 2:
                reasons.append("region_persists")
        else:
            empty_evidence = []
            if whole:
                empty_evidence.append("whole_scene_change")
            if scattered:
                empty_evidence.append("scattered_change")
            if bg_track.busy or pair_track.busy:
                empty_evidence.append("change_in_busy_area")
            if (bg_track.length and bg_track.length < 2 <= len(bg_maps)) or 0 < s_bg < 0.3:
                empty_evidence.append("small_change_not_persisting")
            if background is not None and not bg_track.length:
                empty_evidence.append("no_change_against_background")
            elif background is None and maps and not pair_track.length:
                empty_evidence.append("no_change_in_burst")
            can_discard = (
                score < s.discard_below
                and conclusive
                and bool(empty_evidence)
                and (background is not None or whole or scattered)
            )
            if can_discard:
                decision = "discard"
                reasons += empty_evidence
            elif background is None and len(usable) == 1:
                decision = "keep"
                reasons.append("single_frame_no_background")
            else:
                decision = "thumbnail"
                reasons += ["weak_evidence" if score > 0 else "no_evidence", *empty_evidence]
        if background is None:
            reasons.append("no_background")
        reasons += flags + notes

        audit = decision == "discard" and _audit_pick(event_seq, s.audit_share)
        if audit:
            reasons.append("audit_sample")
        best, best_sharpness = _best_frame(usable, bg_maps, pair_maps, grid)
        measures = {
            "frames_used": float(len(usable)),
            "background_frames": float(background.frames if background else 0),
            "evidence_background": s_bg,
            "evidence_burst": s_pair,
            "track_frames": float(max(bg_track.length, pair_track.length)),
            "track_shift_blocks": max(bg_track.shift, pair_track.shift),
            "track_density": max(bg_track.density, pair_track.density),
            "region_blocks": float(max((m.largest for m in maps), default=0)),
            "changed_share": max((m.changed_share for m in maps), default=0.0),
            "light_gain": bg_maps[0].gain if bg_maps else 1.0,
            "sharpness": best_sharpness,
        }
        return Verdict(decision, score, tuple(reasons), best, audit, measures)

    def _grid(self, shape: tuple[int, int]) -> Grid:
        grid = self._grids.get(shape)
        if grid is None:
            grid = Grid(shape, _ignore_mask(shape, self.settings.masks))
            self._grids[shape] = grid
        return grid


def _coherent(m: ChangeMap) -> int:
    """The largest region's size in blocks when the map's regions can be followed (neither a
    whole-scene change nor scattered change), else 0."""
    if m.whole_scene or m.scattered(MIN_REGION_BLOCKS):
        return 0
    return m.largest


def _strength(blocks: float) -> float:
    if blocks < MIN_REGION_BLOCKS:
        return 0.0
    return 1 - math.exp(-(blocks - 1) / REGION_SCALE_BLOCKS)


@dataclass(frozen=True)
class Track:
    """One region followed through successive comparisons, and the evidence it gives."""

    length: int = 0  # comparisons it appears in
    blocks: int = 0  # its largest size
    shift: float = 0.0  # its largest centroid move between comparisons, in blocks
    density: float = 0.0  # mean changed share of its pixels
    evidence: float = 0.0
    busy: bool = False  # mostly where the view changes often (vegetation, water)


def _best_track(maps: list[ChangeMap]) -> Track:
    """The strongest track of regions through the comparisons of one kind (against the
    background, or between frames).

    Regions of consecutive comparisons are linked when their centroids are close; a region of
    one block may continue a track (a camouflaged or distant animal shows only in part in some
    frames). Evidence grows with the track's largest region, with the other sightings that
    corroborate it, and with how many comparisons it persists through (something that shows
    once in a burst of three is weak: a snowflake). A track mostly in busy blocks (where recent
    events changed: vegetation, water) counts little.
    """
    per_map = [list(m.regions[:MAX_TRACKED]) if _coherent(m) else [] for m in maps]
    chains: list[list[Region]] = []
    open_chains: list[list[Region]] = []
    for found in per_map:
        extended: list[list[Region]] = []
        for region in found:
            near = [c for c in open_chains if _close(c[-1], region)]
            chain = [*max(near, key=len), region] if near else [region]
            extended.append(chain)
        chains += extended
        open_chains = extended
    best = Track()
    for chain in chains:
        track = _track(chain, len(maps))
        if track.evidence > best.evidence:
            best = track
    return best


def _track(chain: list[Region], comparisons: int) -> Track:
    """What one chain of linked regions is worth.

    Besides its largest region, the other sightings add CORROBORATION times their blocks. A
    sighting counts only when it differs from the one before (it moved, or grew or shrank by
    half): about the same blocks again are the same thing seen twice. Something in the middle
    frame alone shows in both differences between frames at the same place; a change that
    stays put against the background (a branch that fell, snow that settled) shows in every
    frame.
    """
    blocks = max(r.blocks for r in chain)
    moves = [math.hypot(a.row - b.row, a.col - b.col) for a, b in itertools.pairwise(chain)]
    density = sum(r.density for r in chain) / len(chain)
    sightings = [chain[0]] + [
        b
        for (a, b), move in zip(itertools.pairwise(chain), moves, strict=True)
        if move >= MOVED_BLOCKS or abs(b.blocks - a.blocks) >= RESIZED * max(a.blocks, b.blocks)
    ]
    others = sum(r.blocks for r in sightings) - max(r.blocks for r in sightings)
    evidence = _strength(blocks + CORROBORATION * others)
    if comparisons >= 2:
        evidence *= 0.6 + 0.4 * (len(chain) - 1) / (comparisons - 1)
    busy = sum(r.busy for r in chain) / len(chain) > BUSY_SHARE
    if busy:
        evidence *= BUSY_FACTOR
    return Track(len(chain), blocks, max(moves, default=0.0), density, evidence, busy)


def _close(a: Region, b: Region) -> bool:
    reach = LINK_BLOCKS + 0.5 * math.sqrt(max(a.blocks, b.blocks))
    return math.hypot(a.row - b.row, a.col - b.col) <= reach


def _best_frame(
    usable: list[tuple[int, np.ndarray, Quality]],
    bg_maps: list[ChangeMap],
    pair_maps: list[ChangeMap],
    grid: Grid,
) -> tuple[int, float]:
    """The sharpest frame among those with the largest coherent region (1-based), and its
    sharpness measured inside that region (the whole frame when there is none)."""
    sizes = []
    for k in range(len(usable)):
        own = [bg_maps[k]] if bg_maps else []
        own += [pair_maps[j] for j in (k - 1, k) if 0 <= j < len(pair_maps)]
        best_region = max(
            (m.regions[0] for m in own if _coherent(m)), default=None, key=lambda r: r.blocks
        )
        sizes.append(best_region)
    largest = max((r.blocks for r in sizes if r is not None), default=0)
    candidates = []
    for k, (index, frame, q) in enumerate(usable):
        region = sizes[k]
        if largest and (region is None or region.blocks < 0.5 * largest):
            continue
        if region is None:
            candidates.append((q.gradient, index))
            continue
        b = grid.block
        window = frame[region.top * b : region.bottom * b, region.left * b : region.right * b]
        candidates.append((sharpness(window), index))
    value, index = max(candidates)
    return index + 1, value


def _readable(
    frames: Sequence[np.ndarray | None],
) -> tuple[list[tuple[int, np.ndarray]], list[str]]:
    """The frames triage can read, as uint8 greyscale of one size, and notes on the rest."""
    notes: list[str] = []
    grey: list[tuple[int, np.ndarray]] = []
    for index, frame in enumerate(frames):
        image = _as_grey(frame)
        if image is None:
            notes.append("unreadable_frame")
        else:
            grey.append((index, image))
    if not grey:
        return [], notes
    shape = Counter(f.shape for _, f in grey).most_common(1)[0][0]
    same = [(i, f) for i, f in grey if f.shape == shape]
    if len(same) < len(grey):
        notes.append("frame_size_mismatch")
    return same, sorted(set(notes), key=notes.index)


def _as_grey(frame: object) -> np.ndarray | None:
    """A uint8 (h, w) view of a frame, or None when it is not an image triage can read."""
    if frame is None or not isinstance(frame, np.ndarray):
        return None
    image = frame
    if image.ndim == 3 and image.shape[2] in (3, 4):
        image = (image[:, :, :3].astype(np.float32) @ LUMA).round()
    if image.ndim != 2 or min(image.shape) < MIN_SIDE_PX:
        return None
    if image.dtype != np.uint8:
        if image.dtype == bool:
            image = image.astype(np.uint8) * 255
        elif np.issubdtype(image.dtype, np.number):
            image = np.clip(np.nan_to_num(image.astype(np.float32)), 0, 255).astype(np.uint8)
        else:
            return None
    return image


def _ignore_mask(
    shape: tuple[int, int], masks: tuple[tuple[float, float, float, float], ...]
) -> np.ndarray | None:
    if not masks:
        return None
    height, width = shape
    ignore = np.zeros(shape, dtype=bool)
    for left, top, right, bottom in masks:
        ignore[
            round(top * height) : round(bottom * height),
            round(left * width) : round(right * width),
        ] = True
    return ignore


def _audit_pick(event_seq: int, share: float) -> bool:
    """A fixed pseudo-random share of event numbers (the same on every run and every boot)."""
    if share <= 0:
        return False
    return (((event_seq + 1) * 2654435761) % 2**32) / 2**32 < share
