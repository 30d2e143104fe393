"""Semi-synthetic triage bursts: determinism, the labels' shape, and what each kind does."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sim import synth_bursts
from sim.real_backdrops import default_shared_data, find_photos
from sim.render import Animal, BackdropScene, Light, Wind, animal_window
from sim.render.backdrop import WIND_TOP_FRAC
from sim.synth_bursts import COLUMNS, generate

CAMERAS = 6  # one cycle of kinds: animal, wind, animal, light, animal, snow
EVENTS = 3
BLOCK_PX = 32


@pytest.fixture(scope="module")
def procedural(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small procedural set (no shared data): the labels.csv path."""
    out = tmp_path_factory.mktemp("synth-procedural")
    return generate(out, seed=5, shared_data=None, cameras=CAMERAS, events_per_camera=EVENTS)


def _rows(labels: Path) -> list[dict[str, str]]:
    with labels.open(newline="") as f:
        return list(csv.DictReader(f))


def _grey(root: Path, file: str) -> np.ndarray:
    return np.asarray(Image.open(root / file).convert("L")).astype(np.int16)


def _boxes(root: Path) -> dict[str, tuple[int, int, int, int]]:
    with (root / "animal_boxes.csv").open(newline="") as f:
        keys = ("left_px", "top_px", "right_px", "bottom_px")
        return {
            r["file"]: (int(r[keys[0]]), int(r[keys[1]]), int(r[keys[2]]), int(r[keys[3]]))
            for r in csv.DictReader(f)
        }


def _timelapse(rows: list[dict[str, str]], row: dict[str, str]) -> str:
    """The first time-lapse frame of the row's camera in the same light."""
    return next(
        r["file"]
        for r in rows
        if r["trigger"] == "timelapse"
        and (r["dataset"], r["deployment"], r["day_night"])
        == (row["dataset"], row["deployment"], row["day_night"])
    )


def _against_timelapse(
    labels: Path, kind: str, frames: tuple[int, ...] = (0, 1, 2)
) -> Iterator[tuple[dict[str, str], np.ndarray, np.ndarray]]:
    """(row, frame, same-light time-lapse frame) in grey for the motion frames of one kind."""
    rows, root = _rows(labels), labels.parent
    for row in rows:
        frame = int(Path(row["file"]).stem.rsplit("_", 1)[1]) if row["trigger"] == "motion" else -1
        if row["dataset"].endswith(f"-{kind}") and frame in frames:
            yield row, _grey(root, row["file"]), _grey(root, _timelapse(rows, row))


def _block_means(image: np.ndarray) -> np.ndarray:
    h, w = image.shape
    return image.reshape(h // BLOCK_PX, BLOCK_PX, w // BLOCK_PX, BLOCK_PX).mean(axis=(1, 3))


def test_columns_counts_and_order(procedural: Path) -> None:
    rows = _rows(procedural)
    with procedural.open() as f:
        assert tuple(f.readline().strip().split(",")) == COLUMNS
    bursts = {(r["dataset"], r["sequence_id"]) for r in rows if r["trigger"] == "motion"}
    per_kind = Counter(dataset.rsplit("-", 1)[1] for dataset, _ in bursts)
    assert per_kind == {"animal": 3 * EVENTS, "wind": EVENTS, "light": EVENTS, "snow": EVENTS}
    assert {r["dataset"].split("-")[1] for r in rows} == {"procedural"}
    for camera in {r["deployment"] for r in rows}:
        mine = [r for r in rows if r["deployment"] == camera]
        assert len({r["dataset"] for r in mine}) == 1  # (dataset, deployment) is one camera
        assert [r["timestamp"] for r in mine] == sorted(r["timestamp"] for r in mine)
        triggers = [r["trigger"] for r in mine]
        first_motion = triggers.index("motion")
        assert 3 <= first_motion <= 4 and set(triggers[first_motion:]) == {"motion"}
        assert {r["day_night"] for r in mine} <= {"day", "night"}
        assert all((procedural.parent / r["file"]).is_file() for r in mine)
    for r in rows:
        kind = r["dataset"].rsplit("-", 1)[1]
        if r["trigger"] == "timelapse" or kind != "animal":
            assert r["label"] == "empty"
        if r["trigger"] == "motion" and kind != "animal":
            assert r["species"] == kind
        if r["label"] == "animal":
            assert r["species"] == "snow-leopard"
    per_burst = Counter(r["sequence_id"] for r in rows if r["trigger"] == "motion")
    assert set(per_burst.values()) == {3}
    animal_frames = [r for r in rows if r["label"] == "animal"]
    assert len(animal_frames) >= 0.8 * 3 * 3 * EVENTS
    assert set(_boxes(procedural.parent)) == {r["file"] for r in animal_frames}


def test_animal_differs_from_the_backdrop_in_its_box(procedural: Path) -> None:
    boxes = _boxes(procedural.parent)
    checked = 0
    for row, frame, background in _against_timelapse(procedural, "animal"):
        if row["file"] not in boxes:
            continue
        diff = np.abs(frame - background)
        left, top, right, bottom = boxes[row["file"]]
        inside = np.zeros(diff.shape, bool)
        inside[top:bottom, left:right] = True
        assert diff[inside].mean() > 8
        assert diff[inside].mean() > 1.5 * diff[~inside].mean()
        checked += 1
    assert checked >= 0.8 * 3 * 3 * EVENTS


def test_light_changes_the_whole_frame(procedural: Path) -> None:
    checked = 0
    for _, frame, background in _against_timelapse(procedural, "light", frames=(1, 2)):
        changes, levels = _block_means(np.abs(frame - background)), _block_means(background)
        lit = (levels > 16) & (levels < 240)  # black and saturated blocks cannot change
        assert lit.mean() > 0.5
        assert (changes[lit] > 4).mean() > 0.9
        checked += 1
    assert checked == 2 * EVENTS


def test_snow_adds_small_scattered_specks(procedural: Path) -> None:
    checked = 0
    for _, frame, background in _against_timelapse(procedural, "snow"):
        changed = np.abs(frame - background) > 30
        h, w = changed.shape
        assert 0.0005 < changed.mean() < 0.05
        cells = changed.reshape(4, h // 4, 4, w // 4).any(axis=(1, 3))
        assert cells.sum() >= 12  # scattered over the frame
        solid = changed.copy()  # pixels whose whole 5x5 neighbourhood changed: inside big blobs
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                solid &= np.roll(changed, (dy, dx), axis=(0, 1))
        assert solid.sum() < 0.5 * changed.sum()
        checked += 1
    assert checked == 3 * EVENTS


def test_wind_moves_pixels_only_a_little(procedural: Path) -> None:
    for _, frame, background in _against_timelapse(procedural, "wind"):
        assert (np.abs(frame - background) > 30).mean() < 0.1


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_seed_same_bytes_with_real_backdrops_when_present(tmp_path: Path) -> None:
    shared = default_shared_data()
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((first, 2), (second, 2), (other, 3)):
        generate(out, seed=seed, shared_data=shared, cameras=4, events_per_camera=1)
    assert _tree_bytes(first) == _tree_bytes(second)
    assert _tree_bytes(first) != _tree_bytes(other)
    rows = _rows(first / "labels.csv")
    assert {r["dataset"].split("-")[1] for r in rows} == {"procedural", *find_photos(shared)}
    assert all(Image.open(first / r["file"]).size == (640, 480) for r in rows)


def test_main_prints_the_labels_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--out", str(tmp_path), "--seed", "4", "--cameras", "2", "--events-per-camera", "1"]
    assert synth_bursts.main([*args, "--procedural"]) == 0
    printed = Path(capsys.readouterr().out.strip())
    assert printed == tmp_path / "labels.csv" and printed.is_file()


def test_backdrop_scene_draws_the_renderers_actors_over_a_photo() -> None:
    rng = np.random.default_rng(0)
    photo = rng.integers(40, 216, (480, 640, 3), dtype=np.uint8)
    scene = BackdropScene(photo, seed=1)
    day, ir = Light(lux=2000.0), Light(lux=0.3, ir_on=True)

    def grey_diff(actors: list, light: Light = day) -> np.ndarray:
        empty = scene.render(light, [], np.random.default_rng(1)).lores.astype(np.int16)
        return np.abs(scene.render(light, actors, np.random.default_rng(2)).lores - empty)

    plain = scene.render(day, [], np.random.default_rng(1)).rgb.astype(np.int16)
    assert np.abs(plain - photo).mean() < 3
    wind = grey_diff([Wind(1.0, np.pi / 2)])
    rows = wind.shape[0]
    assert wind[: int(WIND_TOP_FRAC * rows)].mean() < 3 < wind[-rows // 8 :].mean()
    animal = Animal(0.5, 0.6, 0.2)
    left, top, right, bottom = (v // 2 for v in animal_window(animal, 640, 480) or (0, 0, 0, 0))
    for light in (day, ir):
        moved = grey_diff([animal], light)
        assert moved[top:bottom, left:right].mean() > 10
        assert moved[:, : left - 2].mean() < 5
    night = scene.render(ir, [], np.random.default_rng(1)).rgb
    assert (night[..., 0] == night[..., 1]).all() and (night[..., 1] == night[..., 2]).all()
