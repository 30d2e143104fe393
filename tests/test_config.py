"""trap.toml: defaults, validation messages, and the refusal to start on bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device import config
from device.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "trap.example.toml"


def test_example_config_is_valid_and_matches_the_defaults_it_documents():
    cfg = config.load(EXAMPLE)
    defaults = config.defaults()
    for section, keys in config.SCHEMA.items():
        for key in keys:
            dotted = f"{section}.{key}" if section else key
            if dotted in (
                "mode",
                "device_id",
                "deployment_id",
                "site.utc_offset",
                "site.latitude_deg",
                "site.longitude_deg",
            ):
                continue  # the example sets these to a real site
            assert cfg[dotted] == defaults[dotted], dotted


@pytest.mark.parametrize(
    ("toml", "key", "fragment"),
    [
        ('mode = "sometimes"', "mode", "one of gated, always-on"),
        ("[capture]\nburst_frames = 0", "capture.burst_frames", "1-20"),
        ("[capture]\nburst_frames = 2.5", "capture.burst_frames", "whole number"),
        ('[capture]\nhold_off_s = "ten"', "capture.hold_off_s", "seconds >= 0"),
        ("[capture]\nhold_off_s = -1", "capture.hold_off_s", "seconds >= 0"),
        ("[capture]\nhold_off_s = true", "capture.hold_off_s", "seconds >= 0"),
        ("[capture]\nburst_franes = 3", "capture.burst_franes", "a known key of [capture]"),
        ("[pins]\npir = 40", "pins.pir", "BCM GPIO number"),
        ("[pins]\npir = 17\nir = 17", "pins.ir", "other than pins.pir"),
        ('[schedule]\nactive_hours = ["25:00-06:00"]', "schedule.active_hours", "HH:MM-HH:MM"),
        ("[schedule]\nactive_hours = []", "schedule.active_hours", "HH:MM-HH:MM"),
        ("[timelapse]\ninterval_s = 10", "timelapse.interval_s", ">= 60"),
        ('[site]\nutc_offset = "7"', "site.utc_offset", "+07:00"),
        ("capture = 3", "capture", "a table"),
        ("colour = 1", "colour", "a known key"),
        ("[triage]\nenabled = 1", "triage.enabled", "true or false"),
        ("[triage]\nkeep_from = 1.5", "triage.keep_from", "a score 0-1"),
        ("[triage]\ndiscard_below = -0.1", "triage.discard_below", "a score 0-1"),
        ("[triage]\ndiscard_below = 0.6", "triage.discard_below", "at most triage.keep_from (0.5)"),
        (
            "[triage]\nkeep_from = 0.3\ndiscard_below = 0.4",
            "triage.discard_below",
            "at most triage.keep_from (0.3)",
        ),
        ("[triage]\naudit_share = 5", "triage.audit_share", "a share 0-1"),
        ("[triage]\nmasks = [[0.5, 0.0, 0.2, 1.0]]", "triage.masks", "0 <= left < right <= 1"),
        ("[triage]\nmasks = [[0.0, 0.0, 1.0]]", "triage.masks", "[left, top, right, bottom]"),
        ("[triage]\nmasks = [[0.0, 0.0, 1.0, 1.2]]", "triage.masks", "0 <= top < bottom <= 1"),
        ('[triage]\nmasks = [["a", 0, 1, 1]]', "triage.masks", "frame fractions"),
        ("[triage]\nmasks = [0.1, 0.2]", "triage.masks", "[left, top, right, bottom]"),
        ("[triage]\nbackground_frames = 0", "triage.background_frames", "1-64"),
        ("[triage]\nbackground_frames = 100", "triage.background_frames", "1-64"),
        ("[triage]\nmask = []", "triage.mask", "a known key of [triage]"),
    ],
)
def test_bad_values_name_the_key_the_value_and_the_expectation(tmp_path, toml, key, fragment):
    path = tmp_path / "trap.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert info.value.key == key
    assert fragment in str(info.value)
    assert key in str(info.value)


def test_garbled_toml_names_the_file_and_the_position(tmp_path):
    path = tmp_path / "trap.toml"
    path.write_text("[capture\nburst_frames = 3")
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert str(path) in str(info.value) and "line 1" in str(info.value)


def test_binary_garbage_is_a_config_error(tmp_path):
    path = tmp_path / "trap.toml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="UTF-8"):
        config.load(path)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.toml"):
        config.load(tmp_path / "nope.toml")


def test_triage_keys_default_and_accept_masks_and_equal_thresholds():
    cfg = config.defaults()
    assert cfg.values["triage"] == {
        "enabled": True,
        "keep_from": 0.5,
        "discard_below": 0.2,
        "audit_share": 0.05,
        "masks": [],
        "background_frames": 8,
    }
    cfg = config.validate(
        {
            "triage": {
                "keep_from": 0.4,
                "discard_below": 0.4,  # no thumbnail band: keep or discard
                "masks": [[0, 0, 1, 0.15], [0.8, 0.5, 1.0, 1.0]],
                "background_frames": 64,
                "enabled": False,
            }
        }
    )
    assert cfg["triage.masks"] == [[0, 0, 1, 0.15], [0.8, 0.5, 1.0, 1.0]]
    assert cfg["triage.discard_below"] == cfg["triage.keep_from"] == 0.4
    assert cfg["triage.enabled"] is False


def test_active_windows_wrap_midnight():
    cfg = config.validate({"schedule": {"active_hours": ["18:00-06:00"]}})
    (w,) = cfg.active_windows
    assert w.contains(18 * 60) and w.contains(23 * 60 + 59) and w.contains(0)
    assert w.contains(5 * 60 + 59) and not w.contains(6 * 60) and not w.contains(12 * 60)


def test_config_error_is_also_a_value_error():
    with pytest.raises(ValueError):
        config.validate({"mode": 3})


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["mode", "backend", "capture", "pins", "gated", "triage", "x"]),
        st.one_of(
            st.integers(),
            st.text(max_size=5),
            st.booleans(),
            st.floats(allow_nan=True),
            st.dictionaries(st.text(max_size=12), st.integers(), max_size=3),
        ),
    )
)
def test_any_document_is_either_valid_or_a_config_error(raw):
    try:
        cfg = config.validate(raw)
    except ConfigError as exc:
        assert exc.key  # names what is wrong
    else:
        assert cfg.mode in config.MODES


# -- the entry point: bad input -> clear message, non-zero exit, nothing written --------------


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    full_env = {**os.environ, **(env or {})}
    full_env.pop("IRBIS_BACKEND", None) if not env or "IRBIS_BACKEND" not in env else None
    return subprocess.run(
        [sys.executable, "-m", "device", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=full_env,
    )


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "trap.toml"
    path.write_text(text)
    return path


def test_check_accepts_the_example():
    out = _run("--config", str(EXAMPLE), "--check")
    assert out.returncode == 0, out.stderr
    assert "OK" in out.stdout


def test_check_refuses_a_bad_config_with_exit_2(tmp_path):
    out = _run("--config", str(_write(tmp_path, "[capture]\nburst_frames = 99\n")), "--check")
    assert out.returncode == 2
    assert "capture.burst_frames" in out.stderr and "99" in out.stderr
    assert "refusing to start" in out.stderr


def test_missing_config_exits_2(tmp_path):
    out = _run("--config", str(tmp_path / "absent.toml"))
    assert out.returncode == 2 and "absent.toml" in out.stderr


def test_unknown_backend_exits_3_naming_the_known_ones(tmp_path):
    out = _run("--config", str(_write(tmp_path, 'backend = "arduino"\n')), "--check")
    assert out.returncode == 3
    assert "arduino" in out.stderr and "pi" in out.stderr and "sim" in out.stderr


def test_backend_env_overrides_the_config(tmp_path):
    path = _write(tmp_path, 'backend = "sim"\n')
    out = _run("--config", str(path), "--check", env={"IRBIS_BACKEND": "nosuch"})
    assert out.returncode == 3 and "IRBIS_BACKEND" in out.stderr


def test_missing_data_path_exits_4_and_writes_nothing(tmp_path):
    card, data = tmp_path / "card", tmp_path / "data"
    card.mkdir()
    path = _write(
        tmp_path,
        f'backend = "sim"\nmode = "always-on"\n[storage]\ncard_path = "{card}"\n'
        f'data_path = "{data}"\n',
    )
    out = _run("--config", str(path))
    assert out.returncode == 4
    assert "data path" in out.stderr and str(data) in out.stderr
    assert not data.exists() and list(card.iterdir()) == []
