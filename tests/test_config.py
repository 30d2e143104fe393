"""trap.toml: defaults, validation messages, and the refusal to start on bad input."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device import config
from device.errors import ConfigError
from tests.fakes import start_until_armed

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
        ('[capture]\nhold_off_s = "ten"', "capture.hold_off_s", "seconds 0-3600"),
        ("[capture]\nhold_off_s = -1", "capture.hold_off_s", "seconds 0-3600"),
        ("[capture]\nhold_off_s = true", "capture.hold_off_s", "seconds 0-3600"),
        ("[capture]\nburst_franes = 3", "capture.burst_franes", "a known key of [capture]"),
        ("[pins]\npir = 40", "pins.pir", "BCM GPIO number"),
        ("[pins]\npir = 17\nir = 17", "pins.ir", "other than pins.pir"),
        ('[schedule]\nactive_hours = ["25:00-06:00"]', "schedule.active_hours", "HH:MM-HH:MM"),
        ("[schedule]\nactive_hours = []", "schedule.active_hours", "HH:MM-HH:MM"),
        ("[timelapse]\ninterval_s = 10", "timelapse.interval_s", "seconds 60-86400"),
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
        "discard_at_capture": False,
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


# -- numbers: finite and in a stated range --------------------------------------------------

NUMERIC_KEYS = [
    (f"{section}.{key}" if section else key, spec)
    for section, specs in config.SCHEMA.items()
    for key, spec in specs.items()
    if spec.kind in (int, float, (int, float))
]


def _bound_text(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def test_every_numeric_key_has_a_finite_range_stated_in_its_expected_text():
    assert len(NUMERIC_KEYS) >= 40
    for dotted, spec in NUMERIC_KEYS:
        assert spec.bounds is not None, dotted
        low, high = spec.bounds
        assert math.isfinite(low) and math.isfinite(high) and low < high, dotted
        assert _bound_text(low) in spec.expected, (dotted, spec.expected)
        assert _bound_text(high) in spec.expected, (dotted, spec.expected)
        assert low <= spec.default <= high and spec.check(spec.default), dotted


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[capture]\nhold_off_s = inf", "capture.hold_off_s"),
        ("[capture]\nhold_off_s = 1e308", "capture.hold_off_s"),
        ("[capture]\nhold_off_s = 3601", "capture.hold_off_s"),
        ("[capture]\nhold_off_s = nan", "capture.hold_off_s"),
        ("[capture]\nhold_off_s = -inf", "capture.hold_off_s"),
        ("[gated]\nwarm_window_s = 1e300", "gated.warm_window_s"),
        ("[gated]\nwarm_window_s = inf", "gated.warm_window_s"),
        ("[capture]\ncamera_timeout_s = 1e9", "capture.camera_timeout_s"),
        ("[capture]\nir_below_lux = inf", "capture.ir_below_lux"),
        ("[capture]\nburst_interval_s = nan", "capture.burst_interval_s"),
        ("[power]\nstandby_ua = 1e-320", "power.standby_ua"),
        ("[power]\nstandby_ua = 1e12", "power.standby_ua"),
        ("[power]\nboot_s = inf", "power.boot_s"),
        ("[power]\nmargin = nan", "power.margin"),
        ("[pir]\nstuck_after_s = 1e18", "pir.stuck_after_s"),
        ("[storage]\nbuffer_max_mb = inf", "storage.buffer_max_mb"),
        ("[storage]\nfree_floor_mb = 9223372036854775807", "storage.free_floor_mb"),
        ("[site]\nlatitude_deg = nan", "site.latitude_deg"),
        ("[timelapse]\ninterval_s = 31536000", "timelapse.interval_s"),
        ("[triage]\nmasks = [[0.0, 0.0, 1.0, nan]]", "triage.masks"),
    ],
)
def test_impossible_numbers_are_refused_naming_key_and_range(tmp_path, toml, key):
    path = tmp_path / "trap.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert info.value.key == key
    spec = config.SCHEMA[key.rpartition(".")[0]][key.rpartition(".")[2]]
    assert spec.expected in str(info.value)


def _number_values() -> st.SearchStrategy:
    return st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(allow_subnormal=True, min_value=-1e-300, max_value=1e-300),
        st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, 0.0, -0.0]),
        st.integers(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.booleans(),
        st.text(max_size=8),
        st.lists(st.floats(allow_nan=True), max_size=3),
        st.none(),
    )


@settings(max_examples=40, deadline=None)
@pytest.mark.parametrize(("dotted", "spec"), NUMERIC_KEYS, ids=[k for k, _ in NUMERIC_KEYS])
@given(value=_number_values())
def test_any_value_for_a_numeric_key_is_a_finite_number_in_range_or_an_error_naming_it(
    dotted, spec, value
):
    section, _, key = dotted.rpartition(".")
    raw = {key: value} if not section else {section: {key: value}}
    try:
        cfg = config.validate(raw)
    except ConfigError as exc:
        cross_checked = ("pins.ir", "triage.discard_below")  # checked against another key too
        assert exc.key == dotted or exc.key in cross_checked
        assert exc.expected == spec.expected or exc.key in cross_checked
    else:
        got = cfg[dotted]
        assert isinstance(got, int | float) and not isinstance(got, bool)
        assert math.isfinite(got)
        assert spec.bounds[0] <= got <= spec.bounds[1]


def test_target_end_in_the_past_is_refused_by_the_check_only():
    cfg = config.validate({"power": {"target_end": "2026-03-01"}})  # validation has no clock
    config.check_target_end(cfg, date(2026, 3, 1))  # today is fine
    config.check_target_end(config.defaults(), date(2099, 1, 1))  # no target: fine
    with pytest.raises(ConfigError) as info:
        config.check_target_end(cfg, date(2026, 3, 2))
    assert info.value.key == "power.target_end"
    assert "2026-03-01" in str(info.value) and "not before today (2026-03-02" in str(info.value)


def test_device_or_pipe_is_not_a_config(tmp_path):
    with pytest.raises(ConfigError, match="not a device or a pipe"):
        config.load("/dev/null")  # would otherwise read as "all defaults"
    fifo = tmp_path / "trap.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a device or a pipe"):
        config.load(fifo)  # would otherwise block


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_config_is_a_config_error(tmp_path):
    path = tmp_path / "trap.toml"
    path.write_text("")
    path.chmod(0)
    with pytest.raises(ConfigError, match="a readable file"):
        config.load(path)


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


def _sim_config(tmp_path: Path, extra: str = "", card: Path | None = None) -> Path:
    """A sim-backend config with a data path and a card folder under tmp_path."""
    card = tmp_path / "card" if card is None else card
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return _write(
        tmp_path,
        f'backend = "sim"\nmode = "always-on"\n{extra}\n[storage]\ncard_path = "{card}"\n'
        f'data_path = "{data}"\n',
    )


def test_example_config_is_valid_and_check_names_what_this_host_lacks():
    out = _run("--config", str(EXAMPLE), "--check")
    assert f"config {EXAMPLE}: OK" in out.stdout  # the config itself is fine
    if Path("/var/lib/irbis").is_dir():
        pytest.skip("this host has a data path at /var/lib/irbis")
    # Not a Pi: no data path, no picamera2: --check must not say OK
    assert out.returncode == 4, out.stderr
    assert "data path /var/lib/irbis is not a writable directory" in out.stderr
    assert "check failed" in out.stderr and "check: OK" not in out.stdout


def test_check_ok_means_the_trap_starts(tmp_path):
    path = _sim_config(tmp_path)
    (tmp_path / "card").mkdir()
    out = _run("--config", str(path), "--check")
    assert out.returncode == 0, out.stderr
    assert "check: OK" in out.stdout and "backend sim: OK" in out.stdout
    assert f"card {tmp_path / 'card'}: writable" in out.stdout
    assert list((tmp_path / "data").iterdir()) == [] and list((tmp_path / "card").iterdir()) == []
    code, log = start_until_armed(path, tmp_path)
    assert code == 0, log
    assert "Traceback" not in log


def test_check_says_what_the_trap_does_without_a_card(tmp_path):
    path = _sim_config(tmp_path)  # no card folder
    out = _run("--config", str(path), "--check")
    assert out.returncode == 0, out.stderr
    assert f"card {tmp_path / 'card'}: missing" in out.stdout
    assert f"buffers events in {tmp_path / 'data'}" in out.stdout
    assert "storage.buffer_max_mb = 512 MB" in out.stdout
    assert not (tmp_path / "card").exists()


def test_check_refuses_a_target_date_in_the_past_but_the_trap_still_starts(tmp_path):
    past = _sim_config(tmp_path, '[power]\ntarget_end = "2000-01-31"')
    out = _run("--config", str(past), "--check")
    assert out.returncode == 2
    assert "power.target_end" in out.stderr and "2000-01-31" in out.stderr
    assert "not before today" in out.stderr and "check: OK" not in out.stdout
    # A survey that overran its date keeps taking pictures (budget at level 0, a fault logged).
    code, log = start_until_armed(past, tmp_path)
    assert code == 0, log
    assert "target_end_in_the_past" in log or "in the past" in log
    future = _sim_config(tmp_path, '[power]\ntarget_end = "2999-12-31"')
    assert _run("--config", str(future), "--check").returncode == 0


def test_check_refuses_a_missing_data_path_with_exit_4_and_writes_nothing(tmp_path):
    path = _sim_config(tmp_path)
    (tmp_path / "data").rmdir()
    out = _run("--config", str(path), "--check")
    assert out.returncode == 4
    assert f"data path {tmp_path / 'data'} is not a writable directory" in out.stderr
    assert not (tmp_path / "data").exists() and not (tmp_path / "card").exists()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "irbis").write_text("in the way")  # where the trap keeps its state
    out = _run("--config", str(path), "--check")
    assert out.returncode == 4 and "irbis is not a writable directory" in out.stderr
    assert _run("--config", str(path)).returncode == 4  # the start agrees


def test_card_report_says_read_only_and_full(tmp_path, monkeypatch):
    from device import preflight

    card = tmp_path / "card"
    card.mkdir()
    cfg = config.validate({"storage": {"card_path": str(card), "data_path": str(tmp_path)}})
    assert "writable" in preflight.card_report(cfg, "sim")
    assert "not a mount point" in preflight.card_report(cfg, "pi")  # pi: only a mounted card
    real_access = os.access
    monkeypatch.setattr(
        preflight.os, "access", lambda p, m: False if Path(p) == card else real_access(p, m)
    )
    assert "read-only: the trap starts anyway and buffers" in preflight.card_report(cfg, "sim")
    monkeypatch.undo()
    full = cfg.with_values(storage__free_floor_mb=config.TB_MB, storage__reserve_mb=config.TB_MB)
    assert "journals triggers without media when nothing may go" in preflight.card_report(
        full, "sim"
    )


@pytest.fixture
def fake_pi_packages(monkeypatch):
    """picamera2 and gpiozero's lgpio pin factory importable, as on a Pi (nothing opened)."""
    import types

    monkeypatch.setitem(sys.modules, "picamera2", types.ModuleType("picamera2"))
    monkeypatch.setitem(sys.modules, "gpiozero.pins.lgpio", types.ModuleType("gpiozero.pins.lgpio"))


def test_pi_backend_check_looks_for_packages_gpio_chip_and_uart(tmp_path, fake_pi_packages):
    from device import preflight

    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "gpiochip0").write_bytes(b"")
    gated = config.validate({"backend": "pi", "gated": {"uart": "/dev/null"}})  # a char device
    assert preflight.backend_problems(gated, "pi", dev) == []
    (dev / "gpiochip0").unlink()
    (problem,) = preflight.backend_problems(gated, "pi", dev)
    assert "no GPIO chip" in problem
    (dev / "gpiochip0").write_bytes(b"")
    missing = gated.with_values(gated__uart=str(tmp_path / "ttyNOPE"))
    (problem,) = preflight.backend_problems(missing, "pi", dev)
    assert "ttyNOPE" in problem and "gated.uart" in problem and "enable_uart=1" in problem
    not_tty = gated.with_values(gated__uart=str(dev / "gpiochip0"))
    assert "not a serial port" in preflight.backend_problems(not_tty, "pi", dev)[0]
    always_on = missing.with_values(mode="always-on")  # no supervisor: the UART is not opened
    assert preflight.backend_problems(always_on, "pi", dev) == []


def test_pi_backend_check_names_missing_packages_and_how_to_install(tmp_path, monkeypatch):
    from device import preflight

    monkeypatch.setitem(sys.modules, "picamera2", None)  # import fails
    monkeypatch.setitem(sys.modules, "gpiozero.pins.lgpio", None)
    cfg = config.validate({"backend": "pi", "mode": "always-on"})
    problems = preflight.backend_problems(cfg, "pi", tmp_path)
    assert any("picamera2" in p and "apt install python3-picamera2" in p for p in problems)
    assert any("lgpio" in p and "irbis[pi]" in p for p in problems)


def test_pi_check_exits_3_naming_the_package(tmp_path, monkeypatch, capsys):
    from device import main

    monkeypatch.delenv("IRBIS_BACKEND", raising=False)
    monkeypatch.setitem(sys.modules, "picamera2", None)
    path = _write(
        tmp_path,
        f'backend = "pi"\nmode = "always-on"\n[storage]\ndata_path = "{tmp_path}"\n',
    )
    assert main.run(["--config", str(path), "--check"]) == 3
    err = capsys.readouterr().err
    assert "picamera2" in err and "check failed" in err and "(exit 3)" in err


def test_version():
    from device import __version__

    out = _run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"irbis {__version__}"


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
