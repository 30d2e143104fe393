"""Semi-synthetic camera-trap events to evaluate triage on: JPEGs and a labels.csv.

Each simulated camera has one backdrop and one kind of motion event. The backdrop is a real
empty photo from the shared evaluation data when it is there (`sim.real_backdrops`: snowpoles,
tunnel, lila; rendered over by `sim.render.BackdropScene`) or the simulator's painted ridge view
(`sim.render.Scene`, source `procedural`); without the shared data every camera is procedural.
A camera's rows, in timestamp order, are 3-4 time-lapse frames of the empty view (by day and by
night, trigger `timelapse`, label empty), then its motion bursts of 3 frames 0.5 s apart
(trigger `motion`, one `sequence_id` per burst, one burst a day, by day or night):

- `animal` bursts: a snow leopard moving across the view (`sim.synth_events`); a frame is
  labelled animal (species `snow-leopard`) when enough of it is in view, else empty;
- false triggers, label empty and species the kind: `wind`, `light`, `snow`
  (see `sim.synth_events`; on a photo, wind is a small displacement of its lower part).

Cameras cycle through the kinds animal, wind, animal, light, animal, snow (as many animal
bursts as false triggers, split evenly over the three kinds) and through the backdrop sources.
`labels.csv` has the columns of the shared data's all_labels.csv, with file paths relative to
the output folder; the dataset is `synth-<backdrop source>-<kind>` and the deployment the
camera, so (dataset, deployment) is one camera. Day frames are colour; night frames have the IR
illuminator's greyscale look. `animal_boxes.csv` gives the animal's box in each animal frame.
Frames are 640x480 JPEGs. The same seed and the same shared data give identical files.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from sim.real_backdrops import default_shared_data, find_photos, load_photo
from sim.render import BackdropScene, Scene, SceneSpec, encode_jpeg
from sim.synth_events import (
    FRAME_INTERVAL_S,
    Shot,
    burst_shots,
    timelapse_shot,
    visible_box,
)

COLUMNS = (
    "dataset",
    "deployment",
    "file",
    "label",
    "species",
    "day_night",
    "sequence_id",
    "timestamp",
    "trigger",
)
BOX_COLUMNS = ("file", "left_px", "top_px", "right_px", "bottom_px")
KIND_CYCLE = ("animal", "wind", "animal", "light", "animal", "snow")
PROCEDURAL = "procedural"
SPECIES = "snow-leopard"
WIDTH_PX, HEIGHT_PX = 640, 480
DEFAULT_CAMERAS = 48
DEFAULT_EVENTS_PER_CAMERA = 8
NIGHT_SHARE = 0.35  # of the bursts of a camera that has day and night
START = datetime(2024, 1, 15)
# time-lapse shots (day offset + hour, night?) of a camera with day and night, and of an IR one
TIMELAPSE_HOURS = ((9.0, False), (13.5, False), (22.0, True), (27.0, True))
IR_TIMELAPSE_HOURS = ((21.0, True), (25.0, True), (28.5, True))
DAY_HOURS, NIGHT_HOURS = (8.0, 17.0), (21.0, 28.0)
FIRST_BURST_DAY = 2


@dataclass(frozen=True)
class CameraPlan:
    """One simulated camera: its id, backdrop source (photo or None) and event kind."""

    index: int
    camera: str
    source: str
    kind: str
    photo: Path | None

    @property
    def dataset(self) -> str:
        """The labels' dataset name: backdrop source and event kind."""
        return f"synth-{self.source}-{self.kind}"


def plan_cameras(count: int, photos: dict[str, list[Path]], seed: int) -> list[CameraPlan]:
    """Kinds cycle per camera; sources rotate so that each kind meets every source."""
    sources = [PROCEDURAL, *photos]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED]))
    order = {s: rng.permutation(len(paths)) for s, paths in photos.items()}
    used: dict[str, int] = {}
    plans = []
    for i in range(count):
        kind = KIND_CYCLE[i % len(KIND_CYCLE)]
        source = sources[(i + i // len(KIND_CYCLE)) % len(sources)]
        photo = None
        if source != PROCEDURAL:
            k = used[source] = used.get(source, -1) + 1
            photo = photos[source][int(order[source][k % len(photos[source])])]
        plans.append(CameraPlan(i, f"cam{i:03d}", source, kind, photo))
    return plans


def generate(
    out_dir: Path,
    *,
    seed: int = 1,
    shared_data: Path | None,
    cameras: int = DEFAULT_CAMERAS,
    events_per_camera: int = DEFAULT_EVENTS_PER_CAMERA,
) -> Path:
    """Write the frames and labels of `cameras` cameras into `out_dir`; the labels.csv path."""
    if cameras < 1 or events_per_camera < 1:
        raise ValueError(f"cameras {cameras}, events {events_per_camera}: expected >= 1 each")
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, ...]] = []
    boxes: list[tuple[str, ...]] = []
    for plan in plan_cameras(cameras, find_photos(shared_data), seed):
        _write_camera(plan, out_dir, seed, events_per_camera, rows, boxes)
    labels = out_dir / "labels.csv"
    _write_csv(labels, COLUMNS, rows)
    _write_csv(out_dir / "animal_boxes.csv", BOX_COLUMNS, boxes)
    return labels


def _write_camera(
    plan: CameraPlan,
    out_dir: Path,
    seed: int,
    events: int,
    rows: list[tuple[str, ...]],
    boxes: list[tuple[str, ...]],
) -> None:
    """Render one camera's time-lapse frames and bursts; append their label and box rows."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, plan.index]))
    view_seed = int(rng.integers(2**31))
    if plan.photo is None:
        view: Scene | BackdropScene = Scene(SceneSpec(WIDTH_PX, HEIGHT_PX, seed=view_seed))
        ir_only = False
    else:
        photo, ir_only = load_photo(plan.photo, WIDTH_PX, HEIGHT_PX)
        view = BackdropScene(photo, seed=view_seed, infrared_photo=ir_only)
    folder = out_dir / "images" / plan.camera
    folder.mkdir(parents=True, exist_ok=True)

    def write(name: str, shot: Shot, time_s: float, sequence: str, trigger: str) -> None:
        rendered = view.render(shot.light, shot.actors, rng)
        relative = f"images/{plan.camera}/{plan.camera}_{name}.jpg"
        (out_dir / relative).write_bytes(encode_jpeg(rendered.rgb, view.spec.jpeg_quality))
        box = None if shot.animal is None else visible_box(shot.animal, WIDTH_PX, HEIGHT_PX)
        if box is not None:
            boxes.append((relative, *map(str, box)))
        label, species = ("animal", SPECIES) if box is not None else ("empty", "")
        if trigger == "motion" and plan.kind != "animal":
            species = plan.kind
        at = START + timedelta(milliseconds=round(time_s * 1000))
        stamp = at.isoformat(timespec="milliseconds")
        day_night = "night" if shot.light.ir_on else "day"
        row = (plan.dataset, plan.camera, relative, label, species, day_night, sequence, stamp)
        rows.append((*row, trigger))

    for n, (hour, night) in enumerate(IR_TIMELAPSE_HOURS if ir_only else TIMELAPSE_HOURS):
        time_s = 3600.0 * (hour + float(rng.uniform(0, 0.5)))
        write(f"tl{n}", timelapse_shot(rng, night), time_s, f"{plan.camera}-tl{n}", "timelapse")
    for k in range(events):
        night = ir_only or bool(rng.random() < NIGHT_SHARE)
        low, high = NIGHT_HOURS if night else DAY_HOURS
        start_s = 3600.0 * (24.0 * (FIRST_BURST_DAY + k) + float(rng.uniform(low, high)))
        sequence = f"{plan.camera}-ev{k:03d}"
        for f, shot in enumerate(burst_shots(plan.kind, rng, night)):
            write(f"ev{k:03d}_{f}", shot, start_s + f * FRAME_INTERVAL_S, sequence, "motion")


def _write_csv(path: Path, columns: Sequence[str], rows: list[tuple[str, ...]]) -> None:
    """A CSV with a header, written whole."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m sim.synth_bursts --out DIR [--seed N]`: generate and print the CSV path."""
    p = argparse.ArgumentParser(
        prog="python -m sim.synth_bursts", description="Semi-synthetic triage bursts."
    )
    p.add_argument("--out", type=Path, required=True, help="output folder (images/, labels.csv)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--cameras", type=int, default=DEFAULT_CAMERAS)
    p.add_argument("--events-per-camera", type=int, default=DEFAULT_EVENTS_PER_CAMERA)
    p.add_argument(
        "--shared-data",
        type=Path,
        default=None,
        help="the shared evaluation data (default: ../shared/data next to the repo, if present)",
    )
    p.add_argument("--procedural", action="store_true", help="painted backdrops only")
    args = p.parse_args(argv)
    if args.cameras < 1 or args.events_per_camera < 1:
        p.error("--cameras and --events-per-camera must be at least 1")
    shared = None if args.procedural else (args.shared_data or default_shared_data())
    labels = generate(
        args.out,
        seed=args.seed,
        shared_data=shared,
        cameras=args.cameras,
        events_per_camera=args.events_per_camera,
    )
    print(labels)
    return 0


if __name__ == "__main__":
    sys.exit(main())
