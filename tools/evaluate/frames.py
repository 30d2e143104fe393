"""One image file to the trap's low-resolution view: greyscale uint8, 320 px wide.

The trap judges its camera's lores stream (320 px wide, greyscale), not the full picture, so a
labelled photo is shrunk the same way: EXIF orientation applied, JPEG decoded at reduced scale
(`Image.draft`, several times faster than a full decode and resize), greyscale, 320 px wide with
the aspect kept and an even height (the ISP's lores planes have even sizes).

The colour is looked at before it goes: a frame whose colour saturation is near zero has the
greyscale look of an IR-lit night frame, which is what the trap knows as `ir_on`.

A file that cannot be read gives no frame and a reason, never an exception: to the trap that is
a frame it could not decode. A truncated JPEG counts as unreadable (`LOAD_TRUNCATED_IMAGES`
stays False), as the trap would not judge half a picture.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps

LORES_WIDTH_PX = 320
# Mean chroma (max - min of R, G, B, in 8-bit levels) below which a frame looks like IR: an IR
# frame's JPEG chroma is a level or two; a dim daylight scene still has several.
IR_CHROMA_MAX_DN = 4.0
_CHROMA_SAMPLE_PX = 64  # chroma is measured on a thumbnail this wide (cheap, noise averaged)


@dataclass(frozen=True)
class LoresFrame:
    """A decoded frame (uint8 (h, w), 320 wide) or None with the reason it could not be read."""

    frame: np.ndarray | None
    ir_look: bool | None  # greyscale (IR) look; None when not decoded
    reason: str | None = None  # why `frame` is None
    source_size_px: tuple[int, int] | None = None  # (width, height) of the file's picture


def decode_lores(path: Path, width_px: int = LORES_WIDTH_PX) -> LoresFrame:
    """The trap's lores view of the image at `path`; never raises."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Someone in this process allowed partial images; a truncated file must stay unreadable.
        ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        size_bytes = path.stat().st_size
    except FileNotFoundError:
        return LoresFrame(None, None, "missing_file")
    except OSError as exc:
        return LoresFrame(None, None, f"unreadable_file: {exc}")
    if size_bytes == 0:
        return LoresFrame(None, None, "empty_file")
    try:
        with Image.open(path) as img:
            source = img.size
            img.draft(None, (width_px, width_px))  # either side may become the width (EXIF)
            upright = ImageOps.exif_transpose(img)
            grey, ir_look = _grey_and_look(upright)
            frame = _resize(grey, width_px)
    except Image.UnidentifiedImageError:
        return LoresFrame(None, None, "not_an_image")
    except Exception as exc:  # any decoder failure is an unreadable frame
        return LoresFrame(None, None, f"decode_error: {type(exc).__name__}: {exc}")
    return LoresFrame(frame, ir_look, None, source)


def _grey_and_look(img: Image.Image) -> tuple[Image.Image, bool]:
    """The picture in mode L, and whether it has the greyscale look of an IR frame."""
    mode = img.mode
    if mode in ("L", "LA", "1"):
        return img.convert("L"), True
    if mode.startswith("I") or mode == "F":
        return _wide_to_grey(img), True
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    rgb = img.convert("RGB")  # CMYK, YCbCr, RGBA, RGBX, LAB... to RGB
    return rgb.convert("L"), _chroma_dn(rgb) < IR_CHROMA_MAX_DN


def _wide_to_grey(img: Image.Image) -> Image.Image:
    """16-bit (I;16...) to 8 bits, 65535 to 255; 32-bit integer likewise, unless its values fit
    in 8 bits; float (F) as 8-bit levels."""
    values = np.asarray(img, dtype=np.float64)
    eight_bit = img.mode == "F" or (img.mode == "I" and values.max(initial=0.0) <= 255)
    full_scale = 255.0 if eight_bit else 65535.0
    grey = np.clip(np.rint(values * (255.0 / full_scale)), 0, 255).astype(np.uint8)
    return Image.fromarray(grey)


def _chroma_dn(rgb: Image.Image) -> float:
    """Mean chroma (max - min of R, G, B) of a small copy, 8-bit levels."""
    small = rgb.copy()
    small.thumbnail((_CHROMA_SAMPLE_PX, _CHROMA_SAMPLE_PX))
    arr = np.asarray(small, dtype=np.int16)
    return float((arr.max(axis=2) - arr.min(axis=2)).mean())


def _resize(grey: Image.Image, width_px: int) -> np.ndarray:
    """`width_px` wide, the aspect kept, the height rounded to an even number (at least 2)."""
    w, h = grey.size
    height_px = max(2, 2 * round(h * width_px / w / 2))
    if (w, h) != (width_px, height_px):
        grey = grey.resize((width_px, height_px), Image.Resampling.BILINEAR)
    return np.asarray(grey, dtype=np.uint8).copy()
