"""Motion evidence: where a frame differs from what it is compared with by more than the noise,
and whether that difference forms coherent regions.

Frames are cast to float32 before subtracting (uint8 differences wrap around). A comparison is
first matched for brightness (one robust gain over the unmasked frame), so a cloud or the sun
moving changes little; what still changes over more than half the frame is a whole-scene change
(a light switch, IR switching, the camera knocked). Changed pixels are pooled into blocks on a
grid about 40 blocks wide; a block is active when a good share of its pixels changed. Active
blocks that touch (8-connected) form regions: an animal is one or a few compact regions,
wind in grass or falling snow is many small ones spread over the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from device.triage.background import NOISE_FLOOR_DN, NOISE_SHARE

Z_CHANGED = 4.0  # a pixel changed when it differs by more than this many noise sigmas
BLOCK_ACTIVE_SHARE = 0.25  # a block is active when this share of its pixels changed
GRID_COLUMNS = 40  # blocks across the frame (8 px blocks at 320 wide, 16 px at 640)
WHOLE_SCENE_SHARE = 0.5  # changed share of the unmasked frame beyond which the scene changed
DIFF_NOISE_FLOOR = 3.0  # least noise sigma of a frame-to-frame difference, levels
SUBSAMPLE = 4  # every 4th pixel in each direction for the robust statistics
SHADING_NCC = 0.7  # a block whose content still correlates this well only changed its light


@dataclass(frozen=True)
class Region:
    blocks: int
    top: int  # bounding box in blocks (inclusive top/left, exclusive bottom/right)
    left: int
    bottom: int
    right: int
    row: float  # centroid, in blocks
    col: float
    density: float  # share of the region's pixels that changed
    busy: float = 0.0  # share of its blocks that changed in many recent events


@dataclass(frozen=True)
class ChangeMap:
    """One comparison: changed share, active blocks and their regions (largest first)."""

    changed_share: float
    active_blocks: int
    regions: tuple[Region, ...]
    gain: float
    active: np.ndarray | None = None  # the active blocks (bool grid)

    @property
    def largest(self) -> int:
        return self.regions[0].blocks if self.regions else 0

    @property
    def whole_scene(self) -> bool:
        return self.changed_share > WHOLE_SCENE_SHARE

    def scattered(self, min_blocks: int) -> bool:
        """Many small regions and no dominant one: vegetation, snow, sensor noise."""
        if self.active_blocks < 6:
            return False
        small = sum(1 for r in self.regions if r.blocks < min_blocks)
        return small >= 5 and self.largest < 0.3 * self.active_blocks


class Grid:
    """The block grid for one frame size, with the ignore mask pooled the same way."""

    def __init__(self, shape: tuple[int, int], ignore: np.ndarray | None) -> None:
        height, width = shape
        self.block = max(2, width // GRID_COLUMNS)
        self.rows = height // self.block
        self.cols = width // self.block
        self.height = self.rows * self.block
        self.width = self.cols * self.block
        keep = np.ones(shape, dtype=bool) if ignore is None else ~ignore
        self.keep = keep
        self.keep_count = max(1, int(keep.sum()))
        pooled = self._pool(keep)
        # A block counts only where most of it is not masked.
        self.block_keep = pooled >= 0.5 * self.block * self.block
        sub = keep[::SUBSAMPLE, ::SUBSAMPLE]
        self.sub_keep = sub if sub.any() else np.ones_like(sub)

    def _pool(self, changed: np.ndarray) -> np.ndarray:
        b = self.block
        cropped = changed[: self.height, : self.width]
        return cropped.reshape(self.rows, b, self.cols, b).sum(axis=(1, 3), dtype=np.int32)

    def change_map(
        self,
        changed: np.ndarray,
        gain: float,
        shading: tuple[np.ndarray, np.ndarray] | None = None,
        busy: np.ndarray | None = None,
    ) -> ChangeMap:
        """Pool changed pixels into blocks and find regions. With `shading` (frame, reference),
        active blocks whose change is only a local brightness change are dropped."""
        changed &= self.keep
        share = float(np.count_nonzero(changed)) / self.keep_count
        pooled = self._pool(changed)
        active = (pooled > BLOCK_ACTIVE_SHARE * self.block * self.block) & self.block_keep
        if share > WHOLE_SCENE_SHARE:
            return ChangeMap(share, int(np.count_nonzero(active)), (), gain)
        if shading is not None and active.any():
            active = self._structural(active, *shading)
        count = int(np.count_nonzero(active))
        if count == 0:
            return ChangeMap(share, 0, (), gain, active)
        found = regions(active, pooled, self.block * self.block, busy)
        return ChangeMap(share, count, found, gain, active)

    def _structural(
        self, active: np.ndarray, frame: np.ndarray, reference: np.ndarray
    ) -> np.ndarray:
        """Active blocks whose content changed, not only their light: a shadow or a sunlit
        patch scales the texture that was there (high correlation, proportional contrast); an
        animal brings texture of its own, or hides the texture behind it. Blocks flat in both
        images cannot tell: they count when they belong to a region that has a block that can
        (the inside of an animal whose outline changed), not when they stand alone (a shadow
        moving over snow or sky)."""
        b = self.block
        rows, cols = np.nonzero(active)
        f = frame[: self.height, : self.width].reshape(self.rows, b, self.cols, b)
        r = reference[: self.height, : self.width].reshape(self.rows, b, self.cols, b)
        fb = f[rows, :, cols, :].reshape(len(rows), -1)
        rb = r[rows, :, cols, :].reshape(len(rows), -1)
        f_mean = fb.mean(axis=1)
        fd = fb - f_mean[:, None]
        rd = rb - rb.mean(axis=1, keepdims=True)
        f_std = np.sqrt((fd * fd).mean(axis=1))
        r_std = np.sqrt((rd * rd).mean(axis=1))
        scale = np.maximum(f_mean, 1.0) / np.maximum(rb.mean(axis=1), 1.0)
        expected = r_std * scale  # the reference's contrast under the frame's local light
        noise = NOISE_FLOOR_DN + NOISE_SHARE * f_mean
        flat = (f_std < 2 * noise) & (expected < 2 * noise)
        texture_changed = (f_std > 2 * expected + 2 * noise) | (expected > 2 * f_std + 2 * noise)
        ncc = (fd * rd).mean(axis=1) / np.maximum(f_std * r_std, 1e-6)
        strong = ~flat & (texture_changed | (ncc < SHADING_NCC))
        out = np.zeros_like(active)
        out[rows[strong | flat], cols[strong | flat]] = True
        anchors = np.zeros_like(active)
        anchors[rows[strong], cols[strong]] = True
        return _anchored(out, anchors)


def robust_gain(frame: np.ndarray, reference: np.ndarray, keep: np.ndarray) -> float:
    """The brightness ratio frame/reference from the medians of a subsample of kept pixels."""
    f = frame[::SUBSAMPLE, ::SUBSAMPLE][keep]
    r = reference[::SUBSAMPLE, ::SUBSAMPLE][keep]
    ref_level = float(np.median(r))
    if ref_level < 1.0:
        return 1.0
    return max(0.05, min(20.0, float(np.median(f)) / ref_level))


def against_background(
    frame: np.ndarray,
    median: np.ndarray,
    sigma: np.ndarray,
    grid: Grid,
    busy: np.ndarray | None = None,
) -> ChangeMap:
    """Where a frame differs from the background model by more than its per-pixel noise."""
    f = frame.astype(np.float32)
    gain = robust_gain(f, median, grid.sub_keep)
    residual = np.abs(f - median * np.float32(gain))
    changed = residual > sigma * np.float32(Z_CHANGED * max(gain, 0.25))
    return grid.change_map(changed, gain, (f, median * np.float32(gain)), busy)


def between_frames(
    earlier: np.ndarray, later: np.ndarray, grid: Grid, busy: np.ndarray | None = None
) -> ChangeMap:
    """Where two frames of a burst differ by more than the difference's own noise."""
    a = earlier.astype(np.float32)
    b = later.astype(np.float32)
    gain = robust_gain(b, a, grid.sub_keep)
    diff = np.abs(b - a * np.float32(gain))
    sub = diff[::SUBSAMPLE, ::SUBSAMPLE][grid.sub_keep]
    # The median absolute difference of a mostly unchanged frame estimates its noise.
    noise = max(DIFF_NOISE_FLOOR, 1.4826 * float(np.median(sub)))
    return grid.change_map(
        diff > np.float32(Z_CHANGED * noise), gain, (b, a * np.float32(gain)), busy
    )


def regions(
    active: np.ndarray, changed_px: np.ndarray, block_px: int, busy: np.ndarray | None = None
) -> tuple[Region, ...]:
    """8-connected regions of active blocks, largest first (`changed_px`: changed pixels per
    block, for each region's density; `busy`: blocks that change often, for its busy share)."""
    rows, cols = active.shape
    seen = np.zeros_like(active)
    found = []
    for r0, c0 in zip(*np.nonzero(active), strict=True):
        if seen[r0, c0]:
            continue
        seen[r0, c0] = True
        stack = [(int(r0), int(c0))]
        count, top, left, bottom, right = 0, rows, cols, 0, 0
        row_sum = col_sum = changed = busy_count = 0
        while stack:
            r, c = stack.pop()
            count += 1
            changed += int(changed_px[r, c])
            if busy is not None and busy[r, c]:
                busy_count += 1
            row_sum += r
            col_sum += c
            top, bottom = min(top, r), max(bottom, r + 1)
            left, right = min(left, c), max(right, c + 1)
            for dr in (-1, 0, 1):
                rr = r + dr
                if rr < 0 or rr >= rows:
                    continue
                for dc in (-1, 0, 1):
                    cc = c + dc
                    if 0 <= cc < cols and active[rr, cc] and not seen[rr, cc]:
                        seen[rr, cc] = True
                        stack.append((rr, cc))
        found.append(
            Region(
                count,
                top,
                left,
                bottom,
                right,
                row_sum / count,
                col_sum / count,
                changed / (count * block_px),
                busy_count / count,
            )
        )
    found.sort(key=lambda reg: -reg.blocks)
    return tuple(found)


def _anchored(blocks: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """The 8-connected parts of `blocks` that contain at least one anchor block."""
    reached = anchors & blocks
    while True:
        grown = reached.copy()
        grown[1:, :] |= reached[:-1, :]
        grown[:-1, :] |= reached[1:, :]
        grown[:, 1:] |= reached[:, :-1]
        grown[:, :-1] |= reached[:, 1:]
        grown[1:, 1:] |= reached[:-1, :-1]
        grown[:-1, :-1] |= reached[1:, 1:]
        grown[1:, :-1] |= reached[:-1, 1:]
        grown[:-1, 1:] |= reached[1:, :-1]
        grown &= blocks
        if np.array_equal(grown, reached):
            return reached
        reached = grown
