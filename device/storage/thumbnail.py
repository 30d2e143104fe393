"""A small JPEG of one frame: from its main-stream JPEG (decoded at a reduced DCT scale, which is
fast on a Pi), or, when that cannot be decoded, from its low-resolution greyscale array.

Pillow (and numpy, for the array) are imported only when a thumbnail is made.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from PIL.Image import Image as PilImage

    from device.hal.interfaces import Frame

THUMB_WIDTH_PX = 320
THUMB_QUALITY = 75


class ThumbnailError(ValueError):
    """Neither the frame's JPEG nor its low-resolution array could be made into a thumbnail."""


def from_jpeg(jpeg: bytes, width_px: int = THUMB_WIDTH_PX, quality: int = THUMB_QUALITY) -> bytes:
    """`jpeg` scaled to `width_px` wide (never up), re-encoded. Raises on an undecodable JPEG."""
    from PIL import Image

    with Image.open(io.BytesIO(jpeg)) as img:
        width, height = img.size
        size = _scaled(width, height, width_px)
        img.draft("RGB", size)  # the decoder's DCT scaling: 1/2, 1/4 or 1/8 of the full size
        small = img.convert("RGB").resize(size, Image.Resampling.BILINEAR)
    return _encode(small, quality)


def from_grey(
    lores: np.ndarray, width_px: int = THUMB_WIDTH_PX, quality: int = THUMB_QUALITY
) -> bytes:
    """A greyscale uint8 (h, w) array scaled to `width_px` wide (never up), as a JPEG."""
    from PIL import Image

    if lores.ndim != 2 or lores.dtype.name != "uint8" or lores.size == 0:
        raise ValueError(
            f"expected a non-empty uint8 (h, w) array, got {lores.dtype} {lores.shape}"
        )
    img = Image.fromarray(lores)
    size = _scaled(img.width, img.height, width_px)
    return _encode(img.resize(size, Image.Resampling.BILINEAR), quality)


def thumbnail(frame: Frame) -> tuple[bytes, str]:
    """The frame's thumbnail and what it was made from ("main" or "lores").

    Raises ThumbnailError naming both failures when neither source can be used.
    """
    try:
        return from_jpeg(frame.image_jpeg), "main"
    except Exception as exc:  # undecodable, truncated, or the encode itself failed
        main_error = f"{type(exc).__name__}: {exc}"
    try:
        lores = frame.lores
        if lores is None:
            raise ValueError("no low-resolution frame")
        return from_grey(lores), "lores"
    except Exception as exc:
        raise ThumbnailError(f"main: {main_error}; lores: {type(exc).__name__}: {exc}") from None


def _scaled(width: int, height: int, width_px: int) -> tuple[int, int]:
    out_w = max(1, min(width_px, width))
    return out_w, max(1, round(height * out_w / width))


def _encode(img: PilImage, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()
