"""`irbis eval`: labels read and arranged per camera, frames decoded to the trap's lores view,
the baselines, the metrics and the command's outputs; the whole run on the real data when it is
here (../shared/data)."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from device.triage import TriageSettings
from tools.cli import main
from tools.evaluate import DATA_BAR_MASKS, LabelsError, cameras, evaluate, read_labels
from tools.evaluate.baselines import (
    NaiveDifference,
    load_cv2,
    mean_squared_difference,
    valid_pixels,
)
from tools.evaluate.frames import decode_lores
from tools.evaluate.labels import COLUMNS, parse_time_s, sequence_day_night, sequence_truth
from tools.evaluate.metrics import sweep
from tools.evaluate.replay import category_of
from tools.evaluate.report import VERDICT_COLUMNS

REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


# -- helpers ------------------------------------------------------------------------------------
def write_labels(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in COLUMNS})
    return path


def row(file: str, label: str = "empty", **fields: str) -> dict[str, str]:
    return {"dataset": "d", "file": file, "label": label, **fields}


def texture(height_px: int = 240, width_px: int = 320, seed: int = 0) -> np.ndarray:
    """A smooth, coloured, textured scene (uint8 RGB)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 200, (height_px // 16, width_px // 16, 3), dtype=np.uint8)
    big = Image.fromarray(coarse).resize((width_px, height_px), Image.Resampling.BICUBIC)
    return np.asarray(big)


def save_jpeg(path: Path, rgb: np.ndarray, **options) -> Path:
    Image.fromarray(rgb).save(path, "JPEG", quality=92, **options)
    return path


def with_blob(rgb: np.ndarray, x_px: int, y_px: int, size_px: int = 40) -> np.ndarray:
    out = rgb.copy()
    out[y_px : y_px + size_px, x_px : x_px + size_px] = 250
    return out


def with_noise(rgb: np.ndarray, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, 2.0, rgb.shape)
    return np.clip(rgb + noise, 0, 255).astype(np.uint8)


# -- labels -------------------------------------------------------------------------------------
def test_times_in_every_accepted_form():
    assert parse_time_s("") is None
    iso_utc = parse_time_s("2021-04-11T19:43:09")
    assert parse_time_s("2021-04-11T20:43:09+01:00") == iso_utc
    assert parse_time_s("2021:04:11 19:43:09") == iso_utc
    with pytest.raises(ValueError):
        parse_time_s("11/04/2021")


def test_truth_and_day_night_of_a_sequence():
    assert sequence_truth(["empty", "animal", "empty"]) == "animal"
    assert sequence_truth(["empty", "empty"]) == "empty"
    assert sequence_truth(["empty", "uncertain", "human"]) == "uncertain"
    assert sequence_truth(["human", "animal"]) == "animal"
    assert sequence_day_night(["", "night", "day", "night"]) == "night"
    assert sequence_day_night(["", ""]) == "unknown"


def test_rows_grouped_per_camera_in_time_order(tmp_path):
    labels = write_labels(
        tmp_path / "l.csv",
        [
            row("a3", deployment="A", sequence_id="s1", timestamp="2020:01:01 10:00:05"),
            row("b1", deployment="B", trigger="timelapse", timestamp="2020-01-01T08:00:00"),
            row("a1", deployment="A", trigger="timelapse", timestamp="2020-01-01T08:00:00"),
            row("a2", "animal", deployment="A", sequence_id="s1", timestamp="2020:01:01 10:00:01"),
            row("a4", deployment="A", timestamp=""),  # no time: stays after a2 (file order)
            row("a0", deployment="A", timestamp="2020-01-01T09:00:00+02:00"),  # 07:00 UTC
            row("u1", sequence_id="q"),  # unknown camera: the sequence is its own camera
            row("u2", "animal", sequence_id="q"),
            row("u3"),  # unknown camera, no sequence: a camera of its own
            row("u4"),
            row("t1", deployment="A", trigger="timelapse", sequence_id="tl"),  # line 12
        ],
    )
    per_camera = cameras(read_labels(labels))
    assert list(per_camera) == [
        ("d", "A"),
        ("d", "B"),
        ("d", "?sequence q"),
        ("d", "?line 10"),
        ("d", "?line 11"),
    ]
    events = per_camera[("d", "A")]
    assert [[r.file for r in e.rows] for e in events] == [
        ["a0"],
        ["t1"],  # no time: just after a0, the row before it in the file
        ["a1"],
        ["a2", "a3"],
        ["a4"],
    ]
    assert [e.timelapse for e in events] == [False, True, True, False, False]
    assert events[3].truth == "animal" and events[3].sequence_id == "s1"
    assert events[4].time_s == events[3].rows[0].time_s  # the time of the row before it
    (unknown,) = per_camera[("d", "?sequence q")]
    assert [r.file for r in unknown.rows] == ["u1", "u2"] and unknown.truth == "animal"


def test_a_sequence_is_apart_for_its_label_unreadable_frames_or_no_background():
    frame = np.zeros((4, 4), np.uint8)
    assert category_of("animal", [frame, frame], no_background=True) == "evaluated"
    assert category_of("empty", [frame], no_background=False) == "evaluated"
    assert category_of("animal", [frame], no_background=True) == "single_no_background"
    assert category_of("empty", [None, None], no_background=False) == "unreadable"
    assert category_of("uncertain", [frame], no_background=True) == "label_uncertain"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such labels file"),
        ("", "empty file"),
        ("dataset,file,label\nd,x.jpg,animal\n", "line 1: missing column(s) deployment, species"),
        (",".join(COLUMNS) + "\nd,,x.jpg,animal,,,,yesterday,\n", "line 2, column timestamp"),
        (",".join(COLUMNS) + "\nd,,x.jpg,,,,,,\n", "line 2, column label: blank"),
        (",".join(COLUMNS) + "\nd,,,animal,,,,,\n", "line 2, column file: blank"),
        (",".join(COLUMNS) + "\nd,,x.jpg,animal,,,,,burst\n", "line 2, column trigger"),
        (",".join(COLUMNS) + "\nd,,x.jpg,animal\n", "line 2: expected 9 fields, got 4"),
        (",".join(COLUMNS) + "\nd,,x.jpg,animal,,,,,,extra\n", "line 2: expected 9 fields, got 10"),
    ],
)
def test_a_bad_labels_file_is_named_with_line_and_column(tmp_path, content, message):
    path = tmp_path / "labels.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(LabelsError) as info:
        read_labels(path)
    assert message in str(info.value) and str(path) in str(info.value)


# -- decoding -----------------------------------------------------------------------------------
def test_colour_and_grey_frames_to_the_lores_view(tmp_path):
    colour = decode_lores(save_jpeg(tmp_path / "c.jpg", texture(480, 640)))
    assert colour.frame is not None and colour.frame.shape == (240, 320)
    assert colour.frame.dtype == np.uint8 and colour.ir_look is False and colour.reason is None
    assert colour.source_size_px == (640, 480)
    grey_rgb = np.repeat(texture(300, 500)[:, :, :1], 3, axis=2)  # an IR-looking RGB JPEG
    ir = decode_lores(save_jpeg(tmp_path / "ir.jpg", grey_rgb))
    assert ir.frame is not None and ir.frame.shape == (192, 320) and ir.ir_look is True
    Image.fromarray(texture(75, 100)[:, :, 0]).save(tmp_path / "l.png")  # small, mode L
    small = decode_lores(tmp_path / "l.png")
    assert small.frame is not None and small.frame.shape == (240, 320) and small.ir_look is True


def test_modes_cmyk_palette_alpha_and_16_bit(tmp_path):
    rgb = texture(240, 320)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg", "JPEG")
    Image.fromarray(rgb).convert("P").save(tmp_path / "p.png")
    Image.fromarray(rgb).convert("RGBA").save(tmp_path / "rgba.png")
    wide = (texture(240, 320)[:, :, 0].astype(np.uint16) * 257).astype(np.uint16)
    Image.fromarray(wide).save(tmp_path / "i16.png")
    reference = decode_lores(tmp_path / "p.png").frame
    assert reference is not None
    for name in ("cmyk.jpg", "p.png", "rgba.png", "i16.png"):
        decoded = decode_lores(tmp_path / name)
        assert decoded.frame is not None, (name, decoded.reason)
        assert decoded.frame.shape == (240, 320) and decoded.frame.dtype == np.uint8
    sixteen = decode_lores(tmp_path / "i16.png")
    assert sixteen.frame is not None and sixteen.ir_look is True
    assert abs(int(sixteen.frame.astype(int).mean()) - int(rgb[:, :, 0].mean())) <= 1
    assert decode_lores(tmp_path / "cmyk.jpg").ir_look is False


def test_exif_rotation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
    path = save_jpeg(tmp_path / "rot.jpg", texture(480, 640), exif=exif.tobytes())
    decoded = decode_lores(path)
    assert decoded.frame is not None and decoded.frame.shape == (426, 320)  # 320 * 640/480, even


def test_unreadable_files_give_a_reason_not_an_exception(tmp_path):
    good = save_jpeg(tmp_path / "good.jpg", texture(480, 640)).read_bytes()
    (tmp_path / "cut.jpg").write_bytes(good[: len(good) // 2])
    (tmp_path / "zero.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not a picture")
    cases = {
        "cut.jpg": "decode_error: ",
        "zero.jpg": "empty_file",
        "text.jpg": "not_an_image",
        "missing.jpg": "missing_file",
    }
    for name, reason in cases.items():
        decoded = decode_lores(tmp_path / name)
        assert decoded.frame is None and decoded.ir_look is None
        assert decoded.reason is not None and decoded.reason.startswith(reason), decoded.reason
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# -- baselines ----------------------------------------------------------------------------------
def test_naive_difference_is_computed_without_uint8_wraparound():
    a = np.zeros((10, 10), np.uint8)
    b = a.copy()
    b[:5] = 255  # half the pixels differ by 255
    assert mean_squared_difference(a, b) == pytest.approx(255**2 * 0.5)
    wrapped = float(np.square(np.subtract(a, b)).mean())  # picamera2's example, on uint8
    assert wrapped == pytest.approx(0.5)  # 0 - 255 wraps to 1
    darker = a + 3
    assert mean_squared_difference(darker, a + 5) == 4.0


def test_naive_compares_with_the_cameras_last_frame_and_skips_masked_rows():
    masks = ((0.0, 0.0, 1.0, 0.2),)
    valid = valid_pixels((10, 4), masks)
    assert not valid[:2].any() and valid[2:].all()
    naive = NaiveDifference(masks)
    background = np.full((10, 4), 100, np.uint8)
    naive.timelapse(("d", "A"), [background])
    banner = background.copy()
    banner[:2] = 0  # a change inside the mask only
    assert naive.burst(("d", "A"), [banner]) == 0.0
    assert naive.burst(("d", "B"), [background]) is None  # nothing before it on camera B
    moved = background.copy()
    moved[5:] = 110
    assert naive.burst(("d", "B"), [None, moved]) == pytest.approx(100 * 5 / 8)


def test_mog2_scores_a_moving_blob_above_noise():
    cv2, why = load_cv2()
    if cv2 is None:
        pytest.skip(why or "OpenCV missing")
    from tools.evaluate.baselines import Mog2

    grey = texture(180, 320)[:, :, 1]
    mog2 = Mog2(cv2, DATA_BAR_MASKS)
    for seed in range(6):
        mog2.timelapse(("d", "A"), [with_noise(grey, seed)])
    noise = mog2.burst(("d", "A"), [with_noise(grey, 10 + s) for s in range(3)])
    blob = mog2.burst(("d", "A"), [with_blob(grey, 40 + 60 * s, 70) for s in range(3)])
    assert noise is not None and blob is not None
    assert blob > 0.02 > noise


def test_without_opencv_mog2_is_skipped_and_the_report_says_why(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 raises ImportError
    cv2, why = load_cv2()
    assert cv2 is None and why is not None and ".[eval]" in why
    metrics = evaluate(small_dataset(tmp_path), tmp_path, tmp_path / "o", TriageSettings())
    assert metrics["baselines"]["mog2"] == {"skipped": why} and "mog2" not in metrics["speed"]
    assert f"skipped: {why}" in (tmp_path / "o" / "summary.md").read_text()
    with (tmp_path / "o" / "verdicts.csv").open(newline="") as handle:
        assert {v["mog2_score"] for v in csv.DictReader(handle)} == {""}


def test_sweep_at_equal_rejection_and_best():
    result = sweep([5.0, 9.0, None], [1.0, 2.0, 6.0], target_rejection=2 / 3)
    assert result["at_target"] == {"threshold": 5.0, "recall": 1.0, "rejection": 2 / 3}
    assert result["best"] == result["at_target"]
    assert result["unscored_sequences"] == 1
    assert result["most_rejection"]["threshold"] is None  # infinity: every score rejected
    assert result["most_rejection"]["recall"] == pytest.approx(1 / 3)  # the unscored is kept
    strict = sweep([5.0], [1.0, None], target_rejection=1.0)
    assert strict["at_target"] is None


# -- the command --------------------------------------------------------------------------------
def small_dataset(root: Path) -> Path:
    """Camera A: 4 time-lapse frames, an animal burst (a blob crossing), an empty burst (the
    background with noise), a lone empty frame, an uncertain one; two frames of unknown cameras
    (one unreadable)."""
    scene = texture(480, 640)
    rows = []
    for i in range(4):
        save_jpeg(root / f"tl{i}.jpg", with_noise(scene, i))
        rows.append(row(f"tl{i}.jpg", deployment="A", trigger="timelapse", timestamp=f"T0{i}"))
    for i in range(3):
        save_jpeg(root / f"an{i}.jpg", with_blob(scene, 80 + 150 * i, 200, 90))
        label = "animal" if i < 2 else "empty"  # the animal has left in frame 3
        rows.append(row(f"an{i}.jpg", label, deployment="A", sequence_id="ev1", timestamp="T10"))
    for i in range(2):
        save_jpeg(root / f"em{i}.jpg", with_noise(scene, 20 + i))
        rows.append(row(f"em{i}.jpg", deployment="A", sequence_id="ev2", timestamp="T11"))
    save_jpeg(root / "lone.jpg", with_noise(scene, 30))
    rows.append(row("lone.jpg", deployment="A", timestamp="T12", day_night="day"))
    rows.append(row("lone.jpg", "uncertain", deployment="A", sequence_id="ev4", timestamp="T13"))
    save_jpeg(root / "other.jpg", texture(600, 800, seed=5))
    rows.append(row("other.jpg", "animal", day_night="night"))
    (root / "broken.jpg").write_bytes(b"")
    rows.append(row("broken.jpg", "animal"))
    for r in rows:  # Tnn: minute nn, in the EXIF form; the unknown cameras have no time
        if "timestamp" in r:
            r["timestamp"] = f"2024:05:01 12:{int(r['timestamp'][1:]):02d}:00"
    return write_labels(root / "labels.csv", rows)


def test_eval_writes_verdicts_metrics_and_summary(tmp_path, capsys):
    labels = small_dataset(tmp_path)
    out = tmp_path / "out"
    assert main(["eval", str(labels), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    with (out / "verdicts.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == VERDICT_COLUMNS
        verdicts = list(reader)
    by_file = {(v["sequence_id"], v["frames"]): v for v in verdicts}
    assert len(verdicts) == 6
    assert [v["category"] for v in verdicts] == [
        "evaluated",
        "evaluated",
        "evaluated",
        "label_uncertain",
        "single_no_background",
        "unreadable",
    ]
    burst = by_file[("ev1", "3")]
    assert burst["truth"] == "animal" and burst["decision"] in ("keep", "thumbnail", "discard")
    assert float(burst["naive_score"]) > float(by_file[("ev2", "2")]["naive_score"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["masks"] == [list(m) for m in DATA_BAR_MASKS]
    assert metrics["overall"]["animal_sequences"] == 1
    assert metrics["overall"]["empty_sequences"] == 2
    assert metrics["timelapse_frames"] == 4 and metrics["burst_frames"] == 9
    assert metrics["unreadable_frames"] == {"empty_file": 1}
    assert {k: v["sequences"] for k, v in metrics["apart"].items()} == {
        "label_uncertain": 1,
        "single_no_background": 1,
        "unreadable": 1,
    }
    assert set(metrics["per_day_night"]) == {"day", "night", "unknown"}
    assert metrics["speed"]["triage"]["frames"] == 8  # the readable burst frames
    summary = (out / "summary.md").read_text()
    assert summary in printed and "Animal-event recall" in summary
    assert "naive frame difference" in summary and "| animal |" in summary


def test_eval_masks_can_be_set_or_turned_off(tmp_path, capsys):
    labels = small_dataset(tmp_path)
    assert main(["eval", str(labels), "--out", str(tmp_path / "a"), "--no-mask"]) == 0
    assert json.loads((tmp_path / "a" / "metrics.json").read_text())["masks"] == []
    mask = ["--mask", "0,0,0.5,0.5", "--mask", "0.5,0.5,1,1", "--no-mog2"]
    assert main(["eval", str(labels), "--out", str(tmp_path / "b"), *mask]) == 0
    metrics = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert metrics["masks"] == [[0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1]]
    assert metrics["baselines"]["mog2"] == {"skipped": "turned off"}
    for bad in ("0,0,1", "0.5,0,0.2,1"):
        with pytest.raises(SystemExit) as info:
            main(["eval", str(labels), "--out", str(tmp_path / "c"), "--mask", bad])
        assert info.value.code == 2
    assert "L,T,R,B" in capsys.readouterr().err


def test_eval_refuses_a_bad_labels_file_with_exit_2(tmp_path, capsys):
    labels = tmp_path / "labels.csv"
    labels.write_text(",".join(COLUMNS) + "\nd,A,x.jpg,animal,,,s,2024-13-45,motion\n")
    assert main(["eval", str(labels), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "irbis eval:" in err and "line 2, column timestamp" in err
    assert main(["eval", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o")]) == 2
    assert "no such labels file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_evaluate_returns_the_metrics_it_writes(tmp_path):
    labels = small_dataset(tmp_path)
    metrics = evaluate(labels, tmp_path, tmp_path / "o", TriageSettings(), mog2=False)
    assert metrics == json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["evaluated_sequences"] == 3 and metrics["sequences"] == 6


# -- the real data ------------------------------------------------------------------------------
@pytest.mark.skipif(not REAL_DATA.is_dir(), reason="real data not here (../shared/data)")
def test_real_data_replays_with_the_expected_sequences(tmp_path):
    """Counts derived by hand from all_labels.csv (486 rows):

    - time-lapse frames: vestre-jakobselv 180 + snowpoles 17 = 197; burst frames 486 - 197 = 289.
    - evaluated animal sequences 47: camtrap-dp 1 (a 10-frame burst), camtrapR 10 (2 of 3+ and
      8 of 2 frames, station + minute), pytorch-wildlife squirrel 1 (14 frames: no deployment,
      so the sequence is its own camera), vestre-jakobselv 32 (31 of 2 frames, 1 single frame
      after the camera's time-lapse frames), snapshot-serengeti 3 (3-frame bursts).
    - evaluated empty sequences 29: vestre-jakobselv 28 of 2 frames and 1 single.
    - apart 114: labels other than animal/empty 6 (lila 3 uncertain, serengeti 1 uncertain,
      speciesnet 1 human and 1 vehicle); unreadable 1 (speciesnet's truncated elephant);
      single frames without background 107: camtrapR 47 (no time-lapse on those stations),
      ena24 21, lila 28 and speciesnet 11 (no deployment: each frame is its own camera).
    The camtrapR singles stay without background as long as triage discards none of that
    station's (animal) bursts before them; a discarded burst would become their background.
    """
    metrics = evaluate(
        REAL_DATA / "all_labels.csv",
        REAL_DATA,
        tmp_path / "out",
        TriageSettings(masks=DATA_BAR_MASKS),
    )
    assert metrics["timelapse_frames"] == 197 and metrics["burst_frames"] == 289
    assert metrics["overall"]["animal_sequences"] == 47
    assert metrics["overall"]["empty_sequences"] == 29
    assert metrics["apart_sequences"] == 114
    assert {k: v["sequences"] for k, v in metrics["apart"].items()} == {
        "label_human": 1,
        "label_uncertain": 4,
        "label_vehicle": 1,
        "single_no_background": 107,
        "unreadable": 1,
    }
    assert metrics["unreadable_frames"] == {"decode_error": 1}
    verdicts = list(csv.DictReader(io.StringIO((tmp_path / "out" / "verdicts.csv").read_text())))
    assert len(verdicts) == 190
    assert all(math.isfinite(float(v["triage_ms"])) for v in verdicts)
    # The goals on the real bursts: recall >= 0.98 while rejecting at least half of
    # the empty events, and better recall than both baselines at the same rejection.
    overall = metrics["overall"]
    assert overall["recall"] >= 0.98 and overall["rejection"] >= 0.5
    for name in ("naive", "mog2"):
        at_target = metrics["baselines"][name]["at_target"]
        assert at_target["rejection"] >= overall["rejection"]
        assert at_target["recall"] < overall["recall"]
    # Nothing apart was discarded: a single frame with no background is kept.
    assert all(v["decision"] == "keep" for v in verdicts if v["category"] != "evaluated")
