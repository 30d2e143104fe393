"""A photo as the camera's view: the renderer's animals, snow and light changes composed over it.

`BackdropScene` renders like `Scene` (the same `render(light, actors, rng) -> Rendered`), but its
background is an empty photo (uint8 RGB at the main-stream size) instead of the painted ridge:

- day looks use the photo's colours; twilight and night without IR darken and desaturate it
  as `Scene` does (the same output stage);
- the IR look uses the photo's luma under the illuminator's beam falloff, auto-exposed to the
  renderer's IR mean level; a photo taken in IR (`infrared_photo=True`) is used as it is;
- `Animal`, `Snowfall` and `LightChange` are drawn by the renderer's own painters;
- `Wind` cannot move a photo's vegetation, so it has a stand-in: the lower part of the frame is
  shifted sideways by a smooth displacement field, `strength * sin(phase)` times at most
  `WIND_SHIFT_FRAC` of the width, growing from nothing at `WIND_TOP_FRAC` of the height to the
  full amount at the bottom. Textured ground, grass and shrubs shimmer; flat snow does not.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.render.animal import AnimalPainter
from sim.render.expose import IR_MEAN_LEVEL, Exposure, look_for
from sim.render.fields import fractal_noise, smoothstep
from sim.render.landscape import ir_beam
from sim.render.pixels import luma, pack, to_uint8, unpack
from sim.render.scene import animals_of, finish, sway_of
from sim.render.snow import make_snow_bank
from sim.render.types import (
    Actor,
    Light,
    Rendered,
    SceneSpec,
)

REFERENCE_IR_SCALE = 730.0  # a painted scene's typical IR scale: animals as bright as in `Scene`
WIND_SHIFT_FRAC = 0.006  # largest sideways shift at strength 1, fraction of the width (~4 px)
WIND_TOP_FRAC = 0.45  # the displacement starts at this fraction of the height
_WIND_FEATURE_FRAC = 0.08  # size of the displacement field's patches, fraction of the width


class BackdropScene:
    """One camera view over a photo: precomputed once, then rendered frame by frame."""

    def __init__(
        self,
        photo_rgb: np.ndarray,
        *,
        seed: int = 0,
        infrared_photo: bool = False,
        jpeg_quality: int = 80,
    ) -> None:
        """`photo_rgb`: uint8 (height, width, 3), the main stream; lores is half its size."""
        if photo_rgb.dtype != np.uint8 or photo_rgb.ndim != 3 or photo_rgb.shape[2] != 3:
            raise ValueError(
                f"backdrop: expected a uint8 (h, w, 3) photo, got {photo_rgb.dtype} "
                f"{photo_rgb.shape}"
            )
        h, w = photo_rgb.shape[:2]
        self._spec = SceneSpec(
            width=w,
            height=h,
            lores_width=w // 2,
            lores_height=h // 2,
            seed=seed,
            jpeg_quality=jpeg_quality,
        )
        streams = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 0xBAC0]).spawn(3)
        self._base_rgbx = pack(photo_rgb)
        self._base_ir = _ir_levels(photo_rgb, infrared_photo)
        self._base_rgbx.setflags(write=False)
        self._base_ir.setflags(write=False)
        ir_scale = REFERENCE_IR_SCALE * float(self._base_ir.mean()) / IR_MEAN_LEVEL
        self._wind_top = int(WIND_TOP_FRAC * h)
        self._wind_px = _wind_field(self._spec, self._wind_top, np.random.default_rng(streams[0]))
        self._snow = make_snow_bank(self._spec, np.random.default_rng(streams[1]))
        self._animals = AnimalPainter(streams[2], ir_scale)
        self._exposure = Exposure(self._spec)

    @property
    def spec(self) -> SceneSpec:
        """The frame sizes, seed and JPEG quality of this view."""
        return self._spec

    @property
    def background_rgb(self) -> np.ndarray:
        """The photo: uint8 (height, width, 3)."""
        return unpack(self._base_rgbx)

    def render(self, light: Light, actors: Sequence[Actor], rng: np.random.Generator) -> Rendered:
        """One frame of the photo under `light` with `actors`; sensor noise drawn from `rng`."""
        look = look_for(light)
        base = self._base_ir if look.infrared else self._base_rgbx
        canvas = base.copy()
        sway = sway_of(actors)
        if sway != 0.0:
            _shift_rows(canvas[self._wind_top :], base[self._wind_top :], self._wind_px * sway)
        w, h = self._spec.width, self._spec.height
        for animal in animals_of(actors):
            placement = self._animals.place(animal, w, h)
            if placement is not None:
                self._animals.draw(canvas, animal, placement, look)
        return finish(canvas, actors, look, self._snow, self._exposure, rng)


def _ir_levels(photo_rgb: np.ndarray, infrared_photo: bool) -> np.ndarray:
    """The photo as the IR look sees it: uint8 (h, w)."""
    grey = luma(photo_rgb.astype(np.float32))
    if infrared_photo:
        return to_uint8(grey)
    h, w = grey.shape
    cols = ((np.arange(w) + 0.5) / w)[None, :]
    rows = ((np.arange(h) + 0.5) / h)[:, None]
    grey *= ir_beam(cols, rows)
    grey *= np.float32(IR_MEAN_LEVEL / max(float(grey.mean()), 1.0))
    return to_uint8(grey)


def _wind_field(spec: SceneSpec, top: int, rng: np.random.Generator) -> np.ndarray:
    """Sideways shift in pixels per unit of sway for the rows from `top` down: float32."""
    rows, w = spec.height - top, spec.width
    field = fractal_noise(rng, rows, w, _WIND_FEATURE_FRAC * w, 2)
    field /= np.float32(max(float(np.abs(field).max()), 1e-6))
    weight = smoothstep((np.arange(rows, dtype=np.float32) + 0.5) / rows)
    return (field * weight[:, None] * np.float32(WIND_SHIFT_FRAC * w)).astype(np.float32)


def _shift_rows(region: np.ndarray, source: np.ndarray, shift_px: np.ndarray) -> None:
    """`region` = `source` resampled at x - shift (linear in x, edges held); packed or grey."""
    h, w = shift_px.shape
    x = np.arange(w, dtype=np.float32)[None, :] - shift_px
    np.clip(x, 0, w - 1, out=x)
    x0 = x.astype(np.intp)
    x1 = np.minimum(x0 + 1, w - 1)
    frac = x - x0
    rows = np.arange(h)[:, None]
    if source.dtype == np.uint8:
        a, b = source[rows, x0].astype(np.float32), source[rows, x1].astype(np.float32)
        region[...] = to_uint8(a + (b - a) * frac)
        return
    channels = source.view(np.uint8).reshape(h, w, 4)
    a, b = channels[rows, x0].astype(np.float32), channels[rows, x1].astype(np.float32)
    mixed = to_uint8(a + (b - a) * frac[..., None])
    region[...] = mixed.view(region.dtype)[..., 0]
