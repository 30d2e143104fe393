"""The installed `irbis` command: dispatch, and clear errors for bad arguments."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakes import start_until_armed

ROOT = Path(__file__).resolve().parents[1]
IRBIS = shutil.which("irbis", path=str(Path(sys.executable).parent))


def irbis(*args: str) -> subprocess.CompletedProcess:
    assert IRBIS, "the irbis command is installed in the environment's bin/"
    return subprocess.run([IRBIS, *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_run_check_goes_to_the_trap_entry_point(tmp_path):
    config = tmp_path / "trap.toml"
    config.write_text(f'backend = "sim"\n[storage]\ndata_path = "{tmp_path}"\n')
    out = irbis("run", "--config", str(config), "--check")
    assert out.returncode == 0 and "check: OK" in out.stdout, out.stderr


def test_version():
    from device import __version__

    for flag in ("--version", "-V"):
        out = irbis(flag)
        assert out.returncode == 0 and out.stdout.strip() == f"irbis {__version__}"
    out = irbis("run", "--version")
    assert out.returncode == 0 and out.stdout.strip() == f"irbis {__version__}"


def test_unknown_command_and_scenario_are_clear_errors(tmp_path):
    out = irbis("fly")
    assert out.returncode == 2 and "unknown command 'fly'" in out.stderr
    out = irbis("sim", "no-such-place", "--out", str(tmp_path / "r"))
    assert out.returncode == 2 and "no scenario 'no-such-place'" in out.stderr
    assert "altai-winter-90d" in out.stderr


@pytest.mark.parametrize("days", ["0", "-3", "nan", "inf", "1e9", "3651", "ten"])
def test_impossible_days_are_refused(tmp_path, days):
    out = irbis("sim", "altai-winter-90d", "--days", days, "--out", str(tmp_path / "r"))
    assert out.returncode == 2 and "--days must be positive" in out.stderr
    assert "3650" in out.stderr and "Traceback" not in out.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("seed", ["-5", "-1", "4294967296", "1e3", "1.5", "seven", ""])
def test_impossible_seeds_are_refused_before_anything_is_made(tmp_path, seed):
    out = irbis("sim", "altai-winter-90d", "--seed", seed, "--days", "1", "--out", str(tmp_path))
    assert out.returncode == 2 and "--seed" in out.stderr and "0-4294967295" in out.stderr
    assert "Traceback" not in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_sim_writes_a_run_folder_and_says_where(tmp_path):
    out = irbis(
        "sim", "altai-winter-90d", "--days", "2", "--seed", "3", "--out", str(tmp_path / "r")
    )
    assert out.returncode == 0, out.stderr
    assert str((tmp_path / "r").resolve()) in out.stdout
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["simulated_days"] == 2 and metrics["seed"] == 3
    assert (tmp_path / "r" / "summary.txt").read_text().strip() in out.stdout
    # built beside --out and renamed: no trace of the temporary folder, in any file
    assert [p.name for p in tmp_path.iterdir()] == ["r"]
    for path in (tmp_path / "r").rglob("*"):
        if path.is_file():
            assert b".partial-" not in path.read_bytes(), path


def test_sim_takes_the_largest_seed_and_an_empty_out_folder(tmp_path):
    out_dir = tmp_path / "empty"
    out_dir.mkdir()
    out = irbis(
        "sim", "altai-winter-90d", "--days", "0.2", "--seed", "4294967295", "--out", str(out_dir)
    )
    assert out.returncode == 0, out.stderr
    assert json.loads((out_dir / "metrics.json").read_text())["seed"] == 4294967295


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_sim_refuses_an_out_folder_that_holds_anything_and_touches_nothing(tmp_path):
    used = tmp_path / "used"
    (used / "notes").mkdir(parents=True)
    (used / "notes" / "keep.txt").write_text("field notes")
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    before = _snapshot(tmp_path)
    out = irbis("sim", "altai-winter-90d", "--days", "1", "--out", str(used))
    assert out.returncode == 2 and f"{used} is not empty (notes)" in out.stderr
    out = irbis("sim", "altai-winter-90d", "--days", "1", "--out", str(a_file))
    assert out.returncode == 2 and "exists and is not a folder" in out.stderr
    out = irbis("sim", "altai-winter-90d", "--days", "1", "--out", str(a_file / "run"))
    assert out.returncode == 1 and f"a file is in the way: {a_file}" in out.stderr
    assert "Traceback" not in out.stderr
    assert _snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "used"]


def test_sim_out_with_odd_characters(tmp_path):
    out_dir = tmp_path / "a folder" / "ü ñ\nnew-line 'quoted' $HOME"
    out = irbis("sim", "altai-winter-90d", "--days", "0.2", "--out", str(out_dir))
    assert out.returncode == 0, out.stderr
    assert (out_dir / "metrics.json").is_file() and (out_dir / "card").is_dir()


def test_sim_failing_midway_leaves_nothing(tmp_path, monkeypatch, capsys):
    import sim.runner
    from tools.cli import main

    def disk_full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sim.runner, "write_outputs", disk_full)
    code = main(["sim", "altai-winter-90d", "--days", "0.2", "--out", str(tmp_path / "r")])
    assert code == 1
    assert "cannot write the run folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_sim_interrupted_leaves_nothing(tmp_path):
    proc = subprocess.Popen(
        [IRBIS, "sim", "altai-winter-90d", "--days", "60", "--out", str(tmp_path / "r")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(p.name.startswith(".r.partial-") for p in tmp_path.iterdir()):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.5)  # well into the simulation
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "interrupted; nothing written" in err, err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "a TOML file, not a directory"),
        (b"\xff\xfe\x00garbage", "UTF-8"),
        (b"days = nan", "'days'"),
        (b"days = 1e9", "'days'"),
        (b"[weather]\nmean_c = nan", "weather.mean_c"),
        (b"[weather]\nmean_c = -10.0\nmax_c = -20.0", "weather.mean_c"),
        (b"[triggers]\nanimal_passes_per_day = -3.0", "triggers.animal_passes_per_day"),
        (b"[triggers]\nfalse_triggers_per_day = inf", "triggers.false_triggers_per_day"),
        (b"[triggers]\nfalse_kinds = {rain = 1.0}", "triggers.false_kinds"),
        (b"[triggers]\nwindstorm_days = [-1]", "triggers.windstorm_days"),
        (b"[hardware]\nrender_width = -5", "hardware.render_width"),
        (b"[hardware]\ncard_capacity_bytes = 0", "hardware.card_capacity_bytes"),
        (b"[faults]\ncard_visits = [[1.0]]", "faults.card_visits"),
        (b"[faults]\npack_sag = [[1.0, 0.5, nan]]", "faults.pack_sag"),
        (b"start = 5", "'start'"),
        (b"weather = 3", "'weather'"),
        (b"[trap.capture]\nhold_off_s = inf", "trap.capture.hold_off_s"),
    ],
)
def test_hostile_scenario_files_are_clear_errors(tmp_path, content, fragment):
    scenario = tmp_path / "bad.toml"
    if content is None:
        scenario.mkdir()
    else:
        scenario.write_bytes(content)
    for command in (
        ["sim", str(scenario), "--days", "1", "--out", str(tmp_path / "r")],
        ["plan", str(ROOT / "trap.example.toml"), "--scenario", str(scenario)],
    ):
        out = irbis(*command)
        assert out.returncode == 2, out.stderr
        assert f"scenario {scenario}" in out.stderr and fragment in out.stderr
        assert "Traceback" not in out.stderr
    assert not (tmp_path / "r").exists()


def test_sim_backend_without_a_card_starts_and_buffers(tmp_path):
    card, data = tmp_path / "no-card", tmp_path / "data"
    data.mkdir()
    config = tmp_path / "trap.toml"
    config.write_text(
        f'mode = "always-on"\n[storage]\ncard_path = "{card}"\ndata_path = "{data}"\n'
    )
    status = data / "irbis" / "status.json"
    code, err = start_until_armed(config, tmp_path)  # the same code as `irbis run`
    assert code == 0 and "Traceback" not in err, err
    assert json.loads(status.read_text())["state"] == "no_card"
    assert not card.exists()  # a missing card is never created


@pytest.mark.parametrize("days", ["nan", "inf", "0", "-2", "4000"])
def test_plan_refuses_impossible_days(days):
    out = irbis("plan", "trap.example.toml", "--scenario", "altai-winter-90d", "--days", days)
    assert out.returncode == 2 and "--days must be positive" in out.stderr


def test_plan_refuses_a_target_date_in_the_past_and_hostile_configs(tmp_path):
    def plan(text: str | bytes | None) -> subprocess.CompletedProcess:
        config = tmp_path / "trap.toml"
        if config.is_dir():
            config.rmdir()
        elif config.exists():
            config.unlink()
        if text is None:
            config.mkdir()
        elif isinstance(text, bytes):
            config.write_bytes(text)
        else:
            config.write_text(text)
        return irbis("plan", str(config), "--scenario", "altai-winter-90d")

    out = plan('[power]\ntarget_end = "2001-02-03"\n')
    assert out.returncode == 2 and "power.target_end" in out.stderr and "2001-02-03" in out.stderr
    assert "not before today" in out.stderr
    assert plan('[power]\ntarget_end = "2999-01-01"\n').returncode == 0
    for text, fragment in [
        (None, "not a directory"),
        (b"\xff\xfe\x00", "UTF-8"),
        ("[gated]\nwarm_window_s = 1e300\n", "gated.warm_window_s"),
        ("[capture]\nhold_off_s = nan\n", "capture.hold_off_s"),
        ("[power]\nstandby_ua = -1\n", "power.standby_ua"),
    ]:
        out = plan(text)
        assert out.returncode == 2 and fragment in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
    out = irbis("plan", str(tmp_path / "absent.toml"), "--scenario", "altai-winter-90d")
    assert out.returncode == 2 and "absent.toml" in out.stderr


def test_eval_hostile_inputs_change_nothing(tmp_path, capsys):
    from tests.test_eval import small_dataset
    from tools.cli import main

    (tmp_path / "data").mkdir()
    labels = small_dataset(tmp_path / "data")
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    before = _snapshot(tmp_path)
    cases = [
        (["--out", str(other)], 2, "is not empty (keep.txt)"),
        (["--out", str(a_file)], 2, "exists and is not a folder"),
        (["--out", str(a_file / "o")], 1, "a file is in the way"),
        (["--images-root", str(tmp_path / "nope"), "--out", str(tmp_path / "o")], 2, "images root"),
    ]
    for extra, code, fragment in cases:
        assert main(["eval", str(labels), "--no-mog2", *extra]) == code, extra
        assert fragment in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "data"), "--out", str(tmp_path / "o")]) == 2
    assert "cannot read" in capsys.readouterr().err  # a folder as the labels file
    assert _snapshot(tmp_path) == before
    assert not (tmp_path / "o").exists()
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
    # an earlier evaluation's own outputs are replaced whole
    out = tmp_path / "o"
    assert main(["eval", str(labels), "--no-mog2", "--out", str(out)]) == 0
    (out / "metrics.json").write_text("{}")  # the new run must replace it
    assert main(["eval", str(labels), "--no-mog2", "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["labels"] == str(labels)
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "summary.md", "verdicts.csv"]


def test_a_reader_that_goes_away_is_no_traceback(tmp_path):
    read_end, write_end = os.pipe()
    os.close(read_end)  # `irbis plan ... | head -1` after head has exited
    try:
        for command in (
            ["plan", "trap.example.toml", "--scenario", "altai-winter-90d"],
            ["run", "--config", "trap.example.toml", "--check"],
        ):
            out = subprocess.run(
                [IRBIS, *command], stdout=write_end, stderr=subprocess.PIPE, text=True, cwd=ROOT
            )
            assert "Traceback" not in out.stderr and out.returncode != 0, out.stderr
    finally:
        os.close(write_end)
