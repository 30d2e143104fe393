"""Motion evidence: where a frame differs from what it is compared with by more than the noise,
and whether that difference forms coherent regions.

Frames are cast to float32 before subtracting (uint8 differences wrap around). A comparison is
first matched for brightness (one robust gain: the ratio of the medians of a subsample of the
unmasked pixels), so a cloud or the sun moving changes little; what still changes over more
than half the frame is a whole-scene change (a light switch, IR switching, the camera knocked).
Changed pixels are pooled into blocks on a grid about 40 blocks wide; a block is active when a
good share of its pixels changed. Active blocks that touch (8-connected, labelled with
scipy.ndimage) form regions: an animal is one or a few compact regions, wind in grass or
falling snow is many small ones spread over the frame.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from device.triage.background import NOISE_FLOOR_DN, NOISE_SHARE

Z_CHANGED = 4.0  # a pixel changed when it differs by more than this many noise sigmas
BLOCK_ACTIVE_SHARE = 0.25  # a block is active when this share of its pixels changed
GRID_COLUMNS = 40  # blocks across the frame (8 px blocks at 320 wide, 16 px at 640)
WHOLE_SCENE_SHARE = 0.5  # changed share of the unmasked frame beyond which the scene changed
DIFF_NOISE_FLOOR = 3.0  # least noise sigma of a frame-to-frame difference, levels
SUBSAMPLE = 4  # every 4th pixel in each direction for the robust statistics
SHADING_NCC = 0.7  # a block whose content still correlates this well only changed its light
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
DESCRIBED_REGIONS = 8  # regions per comparison described in full (the tracks follow 4)


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
    """One comparison: changed share, active blocks, the largest regions described and the
    sizes of all regions (largest first)."""

    changed_share: float
    active_blocks: int
    regions: tuple[Region, ...]  # the DESCRIBED_REGIONS largest
    gain: float
    active: np.ndarray | None = None  # the active blocks (bool grid)
    sizes: tuple[int, ...] = ()  # blocks of every region

    @property
    def largest(self) -> int:
        return self.sizes[0] if self.sizes else 0

    @property
    def whole_scene(self) -> bool:
        return self.changed_share > WHOLE_SCENE_SHARE

    def scattered(self, min_blocks: int) -> bool:
        """Many small regions and no dominant one: vegetation, snow, sensor noise."""
        if self.active_blocks < 6:
            return False
        small = sum(1 for blocks in self.sizes if blocks < min_blocks)
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

    def prepare(self, frame: np.ndarray) -> Prepared:
        """The frame as float32 with its level (median of the kept subsample)."""
        image = frame.astype(np.float32, copy=False)
        level = float(np.median(image[::SUBSAMPLE, ::SUBSAMPLE][self.sub_keep]))
        return Prepared(image, level)

    def _pool(self, changed: np.ndarray) -> np.ndarray:
        """Changed pixels per block (int32 grid): rows first, in uint16, then columns (five
        times faster than one sum over both axes of a 4-D view)."""
        b = self.block
        cropped = changed[: self.height, : self.width].view(np.uint8)
        strips = cropped.reshape(self.rows, b, self.width).sum(axis=1, dtype=np.uint16)
        return strips.reshape(self.rows, self.cols, b).sum(axis=2, dtype=np.int32)

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
        if not active.any():
            return ChangeMap(share, 0, (), gain, active)
        anchors = None
        if shading is not None:
            active, anchors = self._structural(active, *shading)
        active, sizes, found = regions(active, pooled, self.block * self.block, busy, anchors)
        return ChangeMap(share, int(np.count_nonzero(active)), found, gain, active, sizes)

    def _structural(
        self, active: np.ndarray, frame: np.ndarray, reference: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Active blocks whose content changed, not only their light, and the anchors among
        them. A shadow or a sunlit patch scales the texture that was there (high correlation,
        proportional contrast); an animal brings texture of its own, or hides the texture
        behind it. Blocks flat in both images cannot tell: they count when they belong to a
        region that has an anchor (the inside of an animal whose outline changed), not when
        they stand alone (a shadow moving over snow or sky)."""
        b = self.block
        rows, cols = np.nonzero(active)
        f = frame[: self.height, : self.width].reshape(self.rows, b, self.cols, b)
        r = reference[: self.height, : self.width].reshape(self.rows, b, self.cols, b)
        fb = f[rows, :, cols, :].reshape(len(rows), -1)
        rb = r[rows, :, cols, :].reshape(len(rows), -1)
        n = fb.shape[1]
        # Per-block moments in float64 (sums, squares, cross products: five reductions).
        f_mean = fb.sum(axis=1, dtype=np.float64) / n
        r_mean = rb.sum(axis=1, dtype=np.float64) / n
        f_var = np.einsum("ij,ij->i", fb, fb, dtype=np.float64) / n - f_mean * f_mean
        r_var = np.einsum("ij,ij->i", rb, rb, dtype=np.float64) / n - r_mean * r_mean
        cov = np.einsum("ij,ij->i", fb, rb, dtype=np.float64) / n - f_mean * r_mean
        f_std = np.sqrt(np.maximum(f_var, 0.0))
        r_std = np.sqrt(np.maximum(r_var, 0.0))
        scale = np.maximum(f_mean, 1.0) / np.maximum(r_mean, 1.0)
        expected = r_std * scale  # the reference's contrast under the frame's local light
        noise = NOISE_FLOOR_DN + NOISE_SHARE * f_mean
        flat = (f_std < 2 * noise) & (expected < 2 * noise)
        texture_changed = (f_std > 2 * expected + 2 * noise) | (expected > 2 * f_std + 2 * noise)
        ncc = cov / np.maximum(f_std * r_std, 1e-6)
        strong = ~flat & (texture_changed | (ncc < SHADING_NCC))
        out = np.zeros_like(active)
        out[rows[strong | flat], cols[strong | flat]] = True
        anchors = np.zeros_like(active)
        anchors[rows[strong], cols[strong]] = True
        return out, anchors


@dataclass(frozen=True)
class Prepared:
    """A frame ready for comparisons: float32, and its level (the median of a subsample of its
    unmasked pixels), computed once per frame however many comparisons it is in."""

    image: np.ndarray
    level: float


def gain_between(level: float, reference_level: float) -> float:
    """The brightness ratio of two levels, bounded (a level near black gives no ratio)."""
    if reference_level < 1.0:
        return 1.0
    return max(0.05, min(20.0, level / reference_level))


def against_background(
    frame: Prepared,
    background: Prepared,
    sigma: np.ndarray,
    grid: Grid,
    busy: np.ndarray | None = None,
) -> ChangeMap:
    """Where a frame differs from the background model (its median image, prepared, and
    per-pixel noise) by more than that noise, after matching the brightness."""
    gain = gain_between(frame.level, background.level)
    expected = background.image * np.float32(gain)
    changed = np.abs(frame.image - expected) > sigma * np.float32(Z_CHANGED * max(gain, 0.25))
    return grid.change_map(changed, gain, (frame.image, expected), busy)


def between_frames(
    earlier: Prepared, later: Prepared, grid: Grid, busy: np.ndarray | None = None
) -> ChangeMap:
    """Where two frames of a burst differ by more than the difference's own noise."""
    gain = gain_between(later.level, earlier.level)
    expected = earlier.image * np.float32(gain)
    diff = np.abs(later.image - expected)
    sub = diff[::SUBSAMPLE, ::SUBSAMPLE][grid.sub_keep]
    # The median absolute difference of a mostly unchanged frame estimates its noise.
    noise = max(DIFF_NOISE_FLOOR, 1.4826 * float(np.median(sub)))
    changed = diff > np.float32(Z_CHANGED * noise)
    return grid.change_map(changed, gain, (later.image, expected), busy)


def regions(
    active: np.ndarray,
    changed_px: np.ndarray,
    block_px: int,
    busy: np.ndarray | None = None,
    anchors: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple[int, ...], tuple[Region, ...]]:
    """8-connected regions of active blocks (scipy.ndimage.label): the active blocks that
    remain, every region's size (largest first) and the `DESCRIBED_REGIONS` largest described.
    With `anchors`, only regions holding an anchor block remain. `changed_px`: changed pixels
    per block, for each region's density; `busy`: blocks that change often, for its busy
    share. Equal sizes keep raster order, so the result does not depend on timing."""
    labels, count = ndimage.label(active, structure=EIGHT_CONNECTED)
    if count == 0:
        return active, (), ()
    if anchors is not None:
        kept = np.zeros(count + 1, dtype=bool)
        kept[labels[anchors]] = True
        kept[0] = False
        if not kept.any():
            return np.zeros_like(active), (), ()
        active = kept[labels]
        candidates = np.flatnonzero(kept)
    else:
        candidates = np.arange(1, count + 1)
    flat = labels.ravel()
    blocks = np.bincount(flat, minlength=count + 1)
    order = candidates[np.argsort(-blocks[candidates], kind="stable")]
    sizes = tuple(blocks[order].tolist())
    described = order[:DESCRIBED_REGIONS]
    rows, cols = _block_indices(active.shape)

    def per_region(weights: np.ndarray) -> np.ndarray:
        return np.bincount(flat, weights=weights, minlength=count + 1)[described]

    changed = per_region(changed_px.ravel())
    row_sum, col_sum = per_region(rows), per_region(cols)
    busy_sum = per_region(busy.ravel()) if busy is not None else np.zeros(len(described))
    boxes = ndimage.find_objects(labels)
    found = []
    for k, label in enumerate(described.tolist()):
        n = sizes[k]
        top_rows, left_cols = boxes[label - 1]
        found.append(
            Region(
                n,
                top_rows.start,
                left_cols.start,
                top_rows.stop,
                left_cols.stop,
                float(row_sum[k]) / n,
                float(col_sum[k]) / n,
                float(changed[k]) / (n * block_px),
                float(busy_sum[k]) / n,
            )
        )
    return active, sizes, tuple(found)


@functools.cache
def _block_indices(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of every block of a grid, flattened (float64, for weighted counts)."""
    rows, cols = np.indices(shape, dtype=np.float64)
    return rows.ravel(), cols.ravel()
