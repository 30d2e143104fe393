"""Pixel formats: float to uint8, luma, and packed RGBX arithmetic (one uint32 per pixel)."""

from __future__ import annotations

import numpy as np


def luma(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of a float (..., 3) array."""
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Round and clip a float image to uint8."""
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


# --- packed pixels: colour frames are composed as one uint32 per pixel ------------------------
# Masked copies and gathers of 3-byte pixels are slow in numpy (short strided inner loops); one
# little-endian uint32 per pixel (R | G << 8 | B << 16, X byte unused) keeps every composition
# step a plain 2-D operation. Per-byte scaling uses shifts and masks (no carries between bytes).

RGBX = np.dtype("<u4")
_LOW7 = np.uint32(0x7F7F7F7F)
_LOW6 = np.uint32(0x3F3F3F3F)
_LOW5 = np.uint32(0x1F1F1F1F)


def pack(rgb: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) -> packed RGBX uint32 (...)."""
    four = np.zeros((*rgb.shape[:-1], 4), np.uint8)
    four[..., :3] = rgb
    return four.view(RGBX)[..., 0]


def pack_colour(rgb: tuple[int, int, int]) -> np.uint32:
    """One packed pixel."""
    return np.uint32(rgb[0] | rgb[1] << 8 | rgb[2] << 16)


def unpack(packed: np.ndarray) -> np.ndarray:
    """Packed RGBX (h, w) -> uint8 (h, w, 3)."""
    return np.ascontiguousarray(packed.view(np.uint8).reshape(*packed.shape, 4)[..., :3])


def scale_3_4(packed: np.ndarray) -> np.ndarray:
    """Every byte times 3/4 (a far leg in the body's shade)."""
    return ((packed >> 1) & _LOW7) + ((packed >> 2) & _LOW6)


def scale_5_8(packed: np.ndarray) -> np.ndarray:
    """Every byte times 5/8 (a cast shadow)."""
    return ((packed >> 1) & _LOW7) + ((packed >> 3) & _LOW5)


def average(packed: np.ndarray, other: np.ndarray | np.uint32) -> np.ndarray:
    """Per-byte mean of two packed pixel arrays (a faint far snowflake)."""
    return ((packed >> 1) & _LOW7) + ((other >> 1) & _LOW7)
