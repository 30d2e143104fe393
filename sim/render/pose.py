"""The canonical snow-leopard sprite's shape: body parts and gait poses as pixel labels."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SPRITE_BODY_PX = 200  # body length of the canonical animal sprite
BOX_X = (-1.45, 0.86)  # sprite box around the body centre, in body lengths (x forward)
BOX_Y = (-0.34, 0.62)  # (y down)
GAIT_POSES = 8  # leg poses per stride
BODY, FAR_LEG, EYE, SHADOW = 1, 2, 3, 4  # pose labels


class Grid:
    """Pixel centres of the canonical animal box, in body lengths from the body centre."""

    def __init__(self) -> None:
        px = SPRITE_BODY_PX
        self.x0, self.y0 = BOX_X[0], BOX_Y[0]
        self.width = round((BOX_X[1] - BOX_X[0]) * px)
        self.height = round((BOX_Y[1] - BOX_Y[0]) * px)
        self.x = self.x0 + (np.arange(self.width, dtype=np.float32) + 0.5) / px
        self.y = self.y0 + (np.arange(self.height, dtype=np.float32) + 0.5) / px

    def window(self, x_lo: float, x_hi: float, y_lo: float, y_hi: float) -> tuple[slice, slice]:
        """Row and column slices covering a rectangle given in body lengths."""
        px = SPRITE_BODY_PX
        c0 = max(0, int((x_lo - self.x0) * px) - 1)
        c1 = min(self.width, int((x_hi - self.x0) * px) + 2)
        r0 = max(0, int((y_lo - self.y0) * px) - 1)
        r1 = min(self.height, int((y_hi - self.y0) * px) + 2)
        return slice(r0, max(r0, r1)), slice(c0, max(c0, c1))


def _paint_ellipse(
    mask: np.ndarray, grid: Grid, centre: tuple[float, float], axes: tuple[float, float]
) -> None:
    """Set the pixels inside an axis-aligned ellipse (body lengths)."""
    (cx, cy), (ax, ay) = centre, axes
    rows, cols = grid.window(cx - ax, cx + ax, cy - ay, cy + ay)
    dx = ((grid.x[cols] - cx) / ax)[None, :]
    dy = ((grid.y[rows] - cy) / ay)[:, None]
    mask[rows, cols] |= dx * dx + dy * dy <= 1


def _paint_capsule(
    mask: np.ndarray,
    grid: Grid,
    start: tuple[float, float],
    end: tuple[float, float],
    radii: tuple[float, float],
) -> None:
    """Set the pixels within a tapering radius of a segment (body lengths)."""
    (x0, y0), (x1, y1) = start, end
    r = max(radii)
    rows, cols = grid.window(min(x0, x1) - r, max(x0, x1) + r, min(y0, y1) - r, max(y0, y1) + r)
    px = grid.x[cols][None, :] - x0
    py = grid.y[rows][:, None] - y0
    dx, dy = x1 - x0, y1 - y0
    t = np.clip((px * dx + py * dy) / max(dx * dx + dy * dy, 1e-9), 0, 1)
    ex, ey = px - t * dx, py - t * dy
    radius = radii[0] + (radii[1] - radii[0]) * t
    mask[rows, cols] |= ex * ex + ey * ey <= radius * radius


def _tail_points(gait_phase: float) -> np.ndarray:
    """Points along the long tail: droops from the rump, tip curled up, swinging with the gait."""
    t = np.linspace(0, 1, 17)[:, None]
    controls = np.array([[-0.46, -0.03], [-0.82, 0.06], [-1.02, 0.42], [-1.3, 0.1]])
    controls[3, 1] += 0.05 * math.sin(gait_phase)
    weights = np.hstack([(1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3])
    return weights @ controls


def paint_tail(mask: np.ndarray, grid: Grid, gait_phase: float, tip_only: bool = False) -> None:
    """The thick tail (snow leopards' are nearly body length), or just its dark tip."""
    points = _tail_points(gait_phase)
    first = len(points) - 3 if tip_only else 0
    for i in range(first, len(points) - 1):
        radius_a, radius_b = 0.062 + 0.012 * i / 16, 0.062 + 0.012 * (i + 1) / 16
        _paint_capsule(mask, grid, tuple(points[i]), tuple(points[i + 1]), (radius_a, radius_b))


def paint_torso(mask: np.ndarray, grid: Grid) -> None:
    """Body, chest, haunch and neck."""
    _paint_ellipse(mask, grid, (0.0, 0.0), (0.5, 0.17))
    _paint_ellipse(mask, grid, (0.27, 0.03), (0.24, 0.19))
    _paint_ellipse(mask, grid, (-0.3, 0.0), (0.22, 0.19))
    _paint_capsule(mask, grid, (0.36, -0.02), (0.56, -0.1), (0.12, 0.1))


def paint_head(mask: np.ndarray, grid: Grid) -> None:
    """Round head, short muzzle, small rounded ears."""
    _paint_ellipse(mask, grid, (0.63, -0.12), (0.13, 0.115))
    _paint_ellipse(mask, grid, (0.735, -0.075), (0.065, 0.06))
    _paint_ellipse(mask, grid, (0.565, -0.215), (0.04, 0.04))
    _paint_ellipse(mask, grid, (0.625, -0.232), (0.037, 0.037))


_LEGS = (  # hip/shoulder x, phase offset (walk: near hind, near fore, far hind, far fore), far
    (-0.3, 0.0, False),
    (0.3, 0.5 * math.pi, False),
    (-0.27, math.pi, True),
    (0.33, 1.5 * math.pi, True),
)


def _paint_leg(mask: np.ndarray, grid: Grid, root_x: float, phase: float, far: bool) -> None:
    """A thick two-segment leg swinging with the stride; the foot folds back as it swings."""
    root_y = 0.04 if far else 0.06
    swing = 0.34 * math.sin(phase)
    fold = 0.7 * max(0.0, math.cos(phase))
    knee = (root_x + 0.2 * math.sin(swing), root_y + 0.2 * math.cos(swing))
    lower = swing - fold
    paw = (knee[0] + 0.19 * math.sin(lower), knee[1] + 0.19 * math.cos(lower))
    thigh = 0.1 if root_x < 0 else 0.085
    _paint_capsule(mask, grid, (root_x, root_y), knee, (thigh, 0.068))
    _paint_capsule(mask, grid, knee, paw, (0.062, 0.058))
    _paint_ellipse(mask, grid, (paw[0] + 0.025, paw[1]), (0.075, 0.045))


@dataclass(frozen=True)
class Pose:
    """One gait pose as uint8 labels, and the sprite rows each label occupies."""

    labels: np.ndarray
    row_spans: dict[int, tuple[int, int]]  # label -> (first row, past-last row)


def make_pose(grid: Grid, gait_phase: float) -> Pose:
    """Rasterize one gait pose and note where the far legs and the shadow lie."""
    labels = _pose_labels(grid, gait_phase)
    spans = {}
    for label in (FAR_LEG, EYE, SHADOW):
        rows = np.nonzero((labels == label).any(axis=1))[0]
        spans[label] = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, 0)
    return Pose(labels, spans)


def _pose_labels(grid: Grid, gait_phase: float) -> np.ndarray:
    """Rasterize one gait pose: body, far legs, eye and ground shadow as uint8 labels."""
    near = np.zeros((grid.height, grid.width), bool)
    far = np.zeros_like(near)
    for root_x, offset, is_far in _LEGS:
        _paint_leg(far if is_far else near, grid, root_x, gait_phase + offset, is_far)
    paint_tail(near, grid, gait_phase)
    paint_torso(near, grid)
    paint_head(near, grid)
    eyes = np.zeros_like(near)
    _paint_ellipse(eyes, grid, (0.69, -0.145), (0.018, 0.014))
    shadow = np.zeros_like(near)
    _paint_ellipse(shadow, grid, (-0.05, 0.52), (0.62, 0.05))
    labels = np.zeros(near.shape, np.uint8)
    labels[shadow] = SHADOW
    labels[far] = FAR_LEG
    labels[near] = BODY
    labels[eyes & near] = EYE
    return labels
