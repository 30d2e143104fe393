"""Real empty photos from the shared evaluation data, used as backdrops for semi-synthetic bursts.

The photos are found through the data's own index, `<shared_data>/all_labels.csv`, and read
from there at generation time; nothing of them is copied into the repository. Sources:

- `snowpoles`: snowpoles-snow-empty-images, empty daytime time-lapse frames (snow, fog, sun);
- `tunnel`: the time-lapse frames of small-mammal-camtrap-vestre-jakobselv (greyscale IR
  inside a tunnel box);
- `lila`: the rows of lila-test-images labelled empty, less the one night photo (assorted
  camera traps by day).

Each photo is centre-cropped to the output's aspect and downscaled (the JPEG decoder's draft
mode first: the snowpoles frames are 6080x3420).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
# source name -> (dataset in all_labels.csv, the column and value a row must have)
SOURCES: dict[str, tuple[str, str, str]] = {
    "snowpoles": ("snowpoles-snow-empty-images", "label", "empty"),
    "tunnel": ("small-mammal-camtrap-vestre-jakobselv", "trigger", "timelapse"),
    "lila": ("lila-test-images", "label", "empty"),
}
GREY_SPREAD_DN = 3.0  # mean channel spread below this: a greyscale (IR) photo


def default_shared_data() -> Path | None:
    """`../shared/data` next to the repository when it is there, else None."""
    return DEFAULT_SHARED_DATA if (DEFAULT_SHARED_DATA / "all_labels.csv").is_file() else None


def find_photos(shared_data: Path | None) -> dict[str, list[Path]]:
    """The readable photos of each source that has any, in index order (empty: none found)."""
    if shared_data is None:
        return {}
    index = shared_data / "all_labels.csv"
    if not index.is_file():
        return {}
    found: dict[str, list[Path]] = {}
    with index.open(newline="") as f:
        for row in csv.DictReader(f):
            for source, (dataset, column, value) in SOURCES.items():
                if row.get("dataset") != dataset or row.get(column) != value:
                    continue
                if row.get("day_night") == "night":  # the night looks are rendered from day
                    continue
                path = shared_data / row.get("file", "")
                if row.get("file") and path.is_file():
                    found.setdefault(source, []).append(path)
    return {source: found[source] for source in SOURCES if source in found}


def load_photo(path: Path, width: int, height: int) -> tuple[np.ndarray, bool]:
    """The photo centre-cropped to width:height and resized: uint8 (height, width, 3), and
    whether it is greyscale (an IR photo)."""
    with Image.open(path) as image:
        image.draft("RGB", (width, height))
        rgb = image.convert("RGB")
    src_w, src_h = rgb.size
    crop_w = min(src_w, round(src_h * width / height))
    crop_h = min(src_h, round(crop_w * height / width))
    left, top = (src_w - crop_w) // 2, (src_h - crop_h) // 2
    box = (left, top, left + crop_w, top + crop_h)
    pixels = np.asarray(rgb.resize((width, height), Image.Resampling.LANCZOS, box=box))
    spread = float(np.mean(np.ptp(pixels[::4, ::4].astype(np.int16), axis=2)))
    return np.ascontiguousarray(pixels, dtype=np.uint8), spread < GREY_SPREAD_DN
