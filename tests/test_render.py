"""The simulated camera's renderer: shapes, determinism, and what each actor does to the pixels."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from sim.render import (
    Animal,
    Light,
    LightChange,
    Rendered,
    Scene,
    SceneSpec,
    Snowfall,
    Wind,
    encode_jpeg,
)

DAY = Light(lux=2000.0)
TWILIGHT = Light(lux=15.0)
NIGHT = Light(lux=0.3)
NIGHT_IR = Light(lux=0.3, ir_on=True)
CHANGE_LEVEL = 25  # a lores difference above this is "changed"


@pytest.fixture(scope="module")
def scene() -> Scene:
    return Scene(SceneSpec(seed=3))


def _render(scene: Scene, light: Light, actors: list, seed: int = 0) -> Rendered:
    return scene.render(light, actors, np.random.default_rng(seed))


def _abs_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b.astype(np.int16))


def _components(mask: np.ndarray) -> list[np.ndarray]:
    """4-connected regions of a boolean mask, each as an (n, 2) array of (row, col)."""
    seen = np.zeros_like(mask, dtype=bool)
    h, w = mask.shape
    regions = []
    for start in map(tuple, np.argwhere(mask)):
        if seen[start]:
            continue
        seen[start] = True
        stack, pixels = [start], []
        while stack:
            r, c = stack.pop()
            pixels.append((r, c))
            for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                if 0 <= nr < h and 0 <= nc < w and mask[nr, nc] and not seen[nr, nc]:
                    seen[nr, nc] = True
                    stack.append((nr, nc))
        regions.append(np.array(pixels))
    return regions


# --- shapes, looks, validation ---------------------------------------------------------------


@pytest.mark.parametrize("light", [DAY, TWILIGHT, NIGHT, NIGHT_IR])
def test_frames_have_the_stream_shapes_and_dtypes(scene: Scene, light: Light) -> None:
    frame = _render(scene, light, [Animal(0.5, 0.6, 0.2)])
    assert frame.rgb.shape == (480, 640, 3) and frame.rgb.dtype == np.uint8
    assert frame.lores.shape == (240, 320) and frame.lores.dtype == np.uint8


def test_lores_sizes_that_do_not_divide_the_main_stream() -> None:
    scene = Scene(SceneSpec(width=320, height=240, lores_width=200, lores_height=150, seed=1))
    for light in (DAY, NIGHT_IR):
        frame = _render(scene, light, [Snowfall(0.5, 0.2), Animal(0.4, 0.6, 0.3)])
        assert frame.rgb.shape == (240, 320, 3)
        assert frame.lores.shape == (150, 200)


def test_lores_is_the_downscaled_luma_of_the_main_image(scene: Scene) -> None:
    frame = _render(scene, DAY, [Animal(0.5, 0.6, 0.3)])
    rgb = frame.rgb.astype(np.float32)
    luma = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    blocks = luma.reshape(240, 2, 320, 2).mean(axis=(1, 3))
    assert np.mean(np.abs(blocks - frame.lores)) < 4


def test_bad_specs_are_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="lores"):
        SceneSpec(width=320, height=240, lores_width=640, lores_height=480)
    with pytest.raises(ValueError, match="jpeg_quality"):
        SceneSpec(jpeg_quality=0)


def test_the_view_depends_only_on_the_seed() -> None:
    a, b, c = (Scene(SceneSpec(seed=s)) for s in (7, 7, 8))
    assert np.array_equal(a.background_rgb, b.background_rgb)
    assert np.mean(_abs_diff(a.background_rgb, c.background_rgb)) > 10


def test_the_view_has_sky_above_and_rock_and_snow_below(scene: Scene) -> None:
    rgb = scene.background_rgb.astype(np.int16)
    sky = rgb[: 480 // 12]
    assert np.mean(sky[..., 2] - sky[..., 0]) > 15  # blue at the top
    ground = rgb[240:400]
    snow = np.all(ground > 200, axis=-1)
    rock = (ground.max(axis=-1) < 160) & (ground.max(axis=-1) - ground.min(axis=-1) < 50)
    assert 0.02 < snow.mean() < 0.7
    assert rock.mean() > 0.2


# --- determinism and noise --------------------------------------------------------------------


@pytest.mark.parametrize("light", [DAY, TWILIGHT, NIGHT, NIGHT_IR])
def test_same_inputs_give_identical_bytes(light: Light) -> None:
    actors = [Animal(0.4, 0.6, 0.25, -1, 1.3, 9), Wind(0.7, 2.0), Snowfall(0.4, 1.1),
              LightChange(0.8, 0.3)]  # fmt: skip
    first = Scene(SceneSpec(seed=5)).render(light, actors, np.random.default_rng(42))
    second = Scene(SceneSpec(seed=5)).render(light, actors, np.random.default_rng(42))
    assert first.rgb.tobytes() == second.rgb.tobytes()
    assert first.lores.tobytes() == second.lores.tobytes()
    assert encode_jpeg(first.rgb, 80) == encode_jpeg(second.rgb, 80)


def test_different_rng_gives_different_noise(scene: Scene) -> None:
    a, b = _render(scene, DAY, [], seed=1), _render(scene, DAY, [], seed=2)
    assert not np.array_equal(a.rgb, b.rgb)
    diff = a.rgb.astype(np.int16) - b.rgb.astype(np.int16)
    assert 1.0 < np.std(diff) < 6.0


def test_the_rng_advances_so_consecutive_frames_differ(scene: Scene) -> None:
    rng = np.random.default_rng(0)
    a, b = scene.render(DAY, [], rng), scene.render(DAY, [], rng)
    assert not np.array_equal(a.lores, b.lores)


@pytest.mark.parametrize("light, max_mean_diff", [(DAY, 3.0), (NIGHT_IR, 6.0)])
def test_two_empty_frames_differ_only_by_noise(
    scene: Scene, light: Light, max_mean_diff: float
) -> None:
    a, b = _render(scene, light, [], seed=1), _render(scene, light, [], seed=2)
    diff = _abs_diff(a.lores, b.lores)
    assert 0 < diff.mean() < max_mean_diff
    regions = _components(diff > CHANGE_LEVEL)
    assert max((len(r) for r in regions), default=0) < 10


def test_noise_grows_as_the_light_fades(scene: Scene) -> None:
    def noise_std(light: Light) -> float:
        a, b = _render(scene, light, [], seed=1), _render(scene, light, [], seed=2)
        return float(np.std(a.rgb.astype(np.int16) - b.rgb.astype(np.int16)))

    assert noise_std(DAY) < noise_std(TWILIGHT) < noise_std(NIGHT)


# --- animals ----------------------------------------------------------------------------------


def _animal_change(scene: Scene, light: Light, animal: Animal) -> np.ndarray:
    """Changed lores pixels between an empty frame and the same instant with the animal."""
    empty = _render(scene, light, [], seed=1)
    with_animal = _render(scene, light, [animal], seed=2)
    return _abs_diff(with_animal.lores, empty.lores) > CHANGE_LEVEL


@pytest.mark.parametrize("light", [DAY, NIGHT_IR])
def test_an_animal_is_one_compact_region_of_change_where_it_stands(
    scene: Scene, light: Light
) -> None:
    animal = Animal(x_frac=0.45, y_frac=0.6, length_frac=0.25, heading=1, gait_phase=0.7)
    changed = _animal_change(scene, light, animal)
    regions = sorted(_components(changed), key=len, reverse=True)
    blob = regions[0]
    assert len(blob) > 0.7 * changed.sum()  # one coherent region, not scattered pixels
    rows, cols = blob[:, 0], blob[:, 1]
    body_row, body_col = animal.y_frac * 240, animal.x_frac * 320
    length_px = animal.length_frac * 320
    assert rows.min() <= body_row <= rows.max() and cols.min() <= body_col <= cols.max()
    assert cols.max() - cols.min() < 2.6 * length_px  # body, head and tail, nothing far away
    assert rows.max() - rows.min() < 1.2 * length_px
    assert abs(np.median(cols) - body_col) < 0.6 * length_px


def test_the_changed_area_grows_with_the_animal_size(scene: Scene) -> None:
    areas = [
        int(_animal_change(scene, DAY, Animal(0.5, 0.6, length, coat_seed=4)).sum())
        for length in (0.08, 0.16, 0.32)
    ]
    assert areas[0] > 10
    assert areas[1] > 2.5 * areas[0] and areas[2] > 2.5 * areas[1]


@pytest.mark.parametrize(
    "animal",
    [Animal(1.5, 0.6, 0.3, heading=1), Animal(1.5, 0.6, 0.3, heading=-1), Animal(-0.8, 0.6, 0.3)],
)
def test_an_animal_out_of_frame_is_invisible(scene: Scene, animal: Animal) -> None:
    for light in (DAY, NIGHT_IR):
        empty = _render(scene, light, [], seed=3)
        outside = _render(scene, light, [animal], seed=3)
        assert np.array_equal(empty.rgb, outside.rgb)


def test_an_animal_partly_out_of_frame_changes_only_its_edge(scene: Scene) -> None:
    changed = _animal_change(scene, DAY, Animal(1.02, 0.55, 0.3, heading=1))
    assert changed.sum() > 100
    assert not changed[:, :160].any()


def test_the_coat_has_rosettes(scene: Scene) -> None:
    animal = Animal(0.5, 0.55, 0.45, coat_seed=11)
    frame = _render(scene, DAY, [animal])
    rgb = frame.rgb.astype(np.float32)
    luma = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    length_px = 0.45 * 640
    cy, cx = 0.55 * 480, 0.5 * 640
    rows = slice(int(cy - 0.09 * length_px), int(cy + 0.09 * length_px))
    cols = slice(int(cx - 0.35 * length_px), int(cx + 0.35 * length_px))
    body = luma[rows, cols]
    pale = np.median(body)
    assert pale > 140  # a pale grey-beige coat
    dark = body < pale - 60
    assert 0.05 < dark.mean() < 0.5
    spots = [r for r in _components(dark) if len(r) >= 6]
    assert len(spots) >= 10  # many separate dark marks
    # a plain ellipse of the same mean colour would show only sensor noise (std ~2)
    assert np.std(body) > 25


def test_same_coat_seed_same_pattern_other_seed_other_pattern(scene: Scene) -> None:
    def body(seed: int) -> np.ndarray:
        frame = _render(scene, DAY, [Animal(0.5, 0.55, 0.4, coat_seed=seed)], seed=0)
        return frame.lores[110:150, 130:190]

    assert np.array_equal(body(1), body(1))
    assert np.mean(_abs_diff(body(1), body(2))) > 10


def test_the_legs_move_with_the_gait_phase(scene: Scene) -> None:
    a = _render(scene, DAY, [Animal(0.5, 0.5, 0.3, gait_phase=0.0)], seed=0)
    b = _render(scene, DAY, [Animal(0.5, 0.5, 0.3, gait_phase=math.pi)], seed=0)
    changed = _abs_diff(a.lores, b.lores) > CHANGE_LEVEL
    rows = np.nonzero(changed.any(axis=1))[0]
    assert changed.sum() > 50
    assert rows.mean() > 0.5 * 240  # below the body centre: legs (and the tail tip)


# --- whole-scene changes, snow, wind ----------------------------------------------------------


@pytest.mark.parametrize("gain", [0.5, 0.75, 1.3])
def test_a_light_change_scales_the_whole_frame_by_its_gain(scene: Scene, gain: float) -> None:
    base = _render(scene, DAY, [], seed=1).lores.astype(np.float32)
    changed = _render(scene, DAY, [LightChange(gain)], seed=1).lores.astype(np.float32)
    ratio = changed.mean() / base.mean()
    low = gain * 0.85 if gain > 1 else gain * 0.95
    assert low < ratio < gain * 1.05
    for quadrant in (np.s_[:120, :160], np.s_[:120, 160:], np.s_[120:, :160], np.s_[120:, 160:]):
        assert abs(changed[quadrant].mean() / base[quadrant].mean() - ratio) < 0.15


def test_a_shadow_band_darkens_a_soft_edged_stripe(scene: Scene) -> None:
    base = _render(scene, DAY, [], seed=1).lores.astype(np.float32)
    band = _render(scene, DAY, [LightChange(1.0, offset_frac=0.5)], seed=1).lores.astype(np.float32)
    column_ratio = band.mean(axis=0) / base.mean(axis=0)
    assert column_ratio[150:170].mean() < 0.7
    assert column_ratio[:40].mean() > 0.95 and column_ratio[-40:].mean() > 0.95
    assert np.all(np.abs(np.diff(column_ratio)) < 0.1)  # soft edges, no step


def test_snowfall_adds_many_small_scattered_bright_specks(scene: Scene) -> None:
    empty = _render(scene, DAY, [], seed=1)
    snowy = _render(scene, DAY, [Snowfall(density=0.8, phase=0.37)], seed=1)
    brighter = snowy.lores.astype(np.int16) - empty.lores.astype(np.int16)
    assert brighter.min() >= 0
    specks = _components(brighter > 20)
    assert len(specks) > 150
    assert max(len(s) for s in specks) < 100
    cells = (brighter > 20).reshape(6, 40, 8, 40).any(axis=(1, 3))
    assert cells.mean() > 0.8  # everywhere, not one region


def test_snow_moves_with_its_phase_and_thins_with_density(scene: Scene) -> None:
    def specks(snow: Snowfall) -> np.ndarray:
        frame = _render(scene, DAY, [snow], seed=1).lores
        return _abs_diff(frame, _render(scene, DAY, [], seed=1).lores) > 20

    a, b = specks(Snowfall(0.8, 1.0)), specks(Snowfall(0.8, 1.2))
    assert (a & b).sum() < 0.5 * a.sum()
    assert specks(Snowfall(0.2, 1.0)).sum() < 0.4 * a.sum()
    assert not specks(Snowfall(0.0, 1.0)).any()


def test_snow_is_bright_in_the_infrared_look(scene: Scene) -> None:
    empty = _render(scene, NIGHT_IR, [], seed=1)
    snowy = _render(scene, NIGHT_IR, [Snowfall(0.8, 0.5)], seed=1)
    assert len(_components(_abs_diff(snowy.lores, empty.lores) > 40)) > 50


def test_wind_moves_only_the_grass_and_the_branch(scene: Scene) -> None:
    calm = _render(scene, DAY, [], seed=1)
    windy = _render(scene, DAY, [Wind(strength=1.0, phase=math.pi / 2)], seed=1)
    changed = np.any(calm.rgb != windy.rgb, axis=-1)
    assert changed.sum() > 500
    rows = np.nonzero(changed)[0]
    in_grass = rows >= int(0.85 * 480)
    in_branch = (rows < int(0.42 * 480)) & (
        (np.nonzero(changed)[1] < 0.3 * 640) | (np.nonzero(changed)[1] >= 0.7 * 640)
    )
    assert np.all(in_grass | in_branch)
    still = _render(scene, DAY, [Wind(strength=1.0, phase=0.0)], seed=1)
    assert np.array_equal(calm.rgb, still.rgb)


# --- night -----------------------------------------------------------------------------------


def test_night_without_ir_is_nearly_black_and_noisy(scene: Scene) -> None:
    frame = _render(scene, NIGHT, [Animal(0.5, 0.6, 0.3)])
    assert frame.lores.mean() < 25
    assert frame.look == "night"
    again = _render(scene, NIGHT, [], seed=9)
    assert np.std(frame.rgb.astype(np.int16) - again.rgb.astype(np.int16)) > 5


@pytest.mark.parametrize("actors", [[], [Animal(0.5, 0.6, 0.3, -1, 2.0, 5)]])
def test_night_with_ir_is_grey_and_mid_bright(scene: Scene, actors: list) -> None:
    frame = _render(scene, NIGHT_IR, actors)
    assert frame.look == "infrared"
    assert 60 < frame.lores.mean() < 160
    assert np.array_equal(frame.rgb[..., 0], frame.rgb[..., 1])
    assert np.array_equal(frame.rgb[..., 1], frame.rgb[..., 2])


def test_ir_is_vignetted_and_brighter_on_near_subjects(scene: Scene) -> None:
    frame = _render(scene, NIGHT_IR, []).lores.astype(np.float32)
    assert frame[150:200, 130:190].mean() > frame[150:200, :20].mean()
    far = _render(scene, NIGHT_IR, [Animal(0.5, 0.6, 0.12, coat_seed=2)], seed=0).lores
    near = _render(scene, NIGHT_IR, [Animal(0.5, 0.6, 0.4, coat_seed=2)], seed=0).lores
    assert near[140:150, 150:170].mean() > far[142:146, 155:165].mean()


def test_twilight_sits_between_day_and_night(scene: Scene) -> None:
    means = [_render(scene, light, []).lores.mean() for light in (DAY, TWILIGHT, NIGHT)]
    assert means[0] > means[1] > means[2]
    assert _render(scene, TWILIGHT, []).look == "twilight"


# --- JPEG ------------------------------------------------------------------------------------


@pytest.mark.parametrize("light", [DAY, NIGHT_IR])
def test_encode_jpeg_gives_a_decodable_jpeg_of_the_same_size(scene: Scene, light: Light) -> None:
    frame = _render(scene, light, [Animal(0.5, 0.6, 0.2)])
    data = encode_jpeg(frame.rgb, 80)
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert decoded.shape == frame.rgb.shape
    assert np.mean(_abs_diff(decoded, frame.rgb)) < 8
    assert len(encode_jpeg(frame.rgb, 30)) < len(data)


@pytest.mark.parametrize("light", [DAY, NIGHT_IR])
def test_encoding_the_frame_equals_encoding_a_compact_copy(scene: Scene, light: Light) -> None:
    frame = _render(scene, light, [Animal(0.5, 0.6, 0.2)])
    assert encode_jpeg(frame.rgb, 80) == encode_jpeg(np.ascontiguousarray(frame.rgb), 80)


def test_encode_jpeg_takes_any_strided_image() -> None:
    rgbx = np.random.default_rng(0).integers(0, 256, (48, 64, 4), dtype=np.uint8)
    for view in (rgbx[..., 1:4], rgbx[::2, ::2, :3], rgbx[..., 2::-1]):
        expected = encode_jpeg(np.ascontiguousarray(view), 90)
        assert encode_jpeg(view, 90) == expected


def test_encode_jpeg_refuses_non_images() -> None:
    with pytest.raises(ValueError, match="uint8"):
        encode_jpeg(np.zeros((8, 8), np.uint8), 80)
    with pytest.raises(ValueError, match="uint8"):
        encode_jpeg(np.zeros((8, 8, 3), np.float32), 80)
