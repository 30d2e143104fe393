"""JPEG encoding of rendered frames, without copying an RGBX-backed frame."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    """Encode an (h, w, 3) uint8 image as baseline JPEG (deterministic: same pixels, same bytes)."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected a uint8 (h, w, 3) array, got {rgb.dtype} {rgb.shape}")
    rgbx = _rgbx_buffer(rgb)
    if rgbx is None:
        image = Image.fromarray(rgb)
    else:  # Pillow keeps RGB as RGBX: same pixels, same bytes, no conversion
        image = Image.frombuffer("RGBX", (rgb.shape[1], rgb.shape[0]), rgbx, "raw", "RGBX", 0, 1)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(quality), subsampling="4:2:0")
    return buffer.getvalue()


def _rgbx_buffer(rgb: np.ndarray) -> np.ndarray | None:
    """The compact (h, w, 4) buffer `rgb` is the first three channels of, if it is one."""
    base = rgb.base
    if not isinstance(base, np.ndarray) or base.dtype != np.uint8 or not base.flags.c_contiguous:
        return None
    h, w = rgb.shape[:2]
    same_start = base.__array_interface__["data"][0] == rgb.__array_interface__["data"][0]
    if base.shape == (h, w, 4) and rgb.strides == base.strides and same_start:
        return base
    return None
