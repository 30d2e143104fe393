"""`irbis plan`: per-event and per-day energy, the designs compared, the target and the command's
output and errors. Estimates only: no simulation runs here."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from device.config import defaults
from sim.scenario import load as load_scenario
from tools.plan import activity, main, plan

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def altai():
    return load_scenario("altai-winter-90d")


@pytest.fixture(scope="module")
def default_plan(altai):
    return plan(defaults(), altai)


def rows(p: dict) -> dict[str, dict]:
    return {r["design"].split(" (")[0]: r for r in p["designs"]}


def test_reference_events_with_the_default_config(default_plan):
    ref = rows(default_plan)["reference"]
    assert 5.0 < ref["day_event_j"] < 10.0
    assert ref["day_event_j"] < ref["night_event_j"] < 12.0
    assert default_plan["events"]["awake_after_s"] == 40.0  # hold-off 10 s + warm window 30 s
    assert default_plan["events"]["awake_after_j"] == pytest.approx(40 * 50 / 1000 * 9.0, rel=0.01)


def test_designs_rank_as_the_hardware_says(default_plan):
    r = rows(default_plan)
    ref_days = r["reference"]["predicted_days"]
    assert r["Pico dormant"]["predicted_days"] < r["HC-SR501 PIR"]["predicted_days"] < ref_days
    assert r["stock boot"]["day_event_j"] > 2 * r["reference"]["day_event_j"]
    assert r["IR left on 2.5 s"]["night_event_j"] > r["reference"]["night_event_j"] + 10
    assert r["IR left on 2.5 s"]["day_event_j"] == r["reference"]["day_event_j"]
    assert r["Pico dormant"]["standby_wh_per_year"] > 20 * r["reference"]["standby_wh_per_year"]
    assert r["always-on"]["predicted_days"] < 10


def test_day_sums_and_pack(default_plan):
    by_state = default_plan["wh_per_day_by_state"]
    assert set(by_state) == {
        "standby",
        "boot",
        "camera",
        "ir",
        "idle",
        "shutdown",
        "supervisor",
        "timelapse",
    }
    assert sum(by_state.values()) == pytest.approx(default_plan["wh_per_day"])
    assert by_state["timelapse"] == 0.0  # the default config takes no time-lapse shots
    pack = default_plan["pack"]
    assert (pack["chemistry"], pack["series"], pack["parallel"]) == ("L91", 6, 2)
    assert pack["usable_wh_at_min"] < pack["usable_wh_at_mean"] < pack["nominal_wh"]
    assert pack["predicted_days"] == pytest.approx(
        pack["usable_wh_at_mean"] / default_plan["wh_per_day"]
    )


def test_activity_from_the_scenario(altai):
    act = activity(defaults(), altai, 90.0)
    assert act["triggers_per_day"] == pytest.approx(3 + 7 * 1.2)
    assert act["events_per_day"] == act["triggers_per_day"]  # the hold-off cap is far away
    assert act["night_share"] == pytest.approx((3 * 0.6 + 8.4 * 0.5) / 11.4)
    stormy = dataclasses.replace(
        altai, triggers=dataclasses.replace(altai.triggers, windstorm_days=[5, 6, 200])
    )
    act = activity(defaults(), stormy, 90.0)
    assert act["triggers_per_day"] == pytest.approx(11.4 + 2 * (150 - 7) / 90)
    windy = dataclasses.replace(
        altai, triggers=dataclasses.replace(altai.triggers, false_triggers_per_day=100.0)
    )
    busy = activity(defaults().with_values(capture__hold_off_s=3600.0), windy, 90.0)
    assert busy["events_per_day"] == pytest.approx(86400 / (3600 + 1.15))  # capped


def test_target_from_the_scenario_or_the_config(altai, default_plan):
    b = default_plan["budget"]
    assert (b["target_end"], b["days_left"], b["level"]) == ("2027-02-28", 90.0, 0)
    short = defaults().with_values(
        power__target_end="2027-06-30", power__chemistry="alkaline", power__cells_parallel=1
    )
    b = plan(short, altai)["budget"]
    assert b["target_source"] == "config power.target_end" and b["level"] > 0
    assert b["steps"][0] == "burst:2" and len(b["steps"]) == b["level"]


def test_cli_prints_the_table_and_json(capsys):
    assert main(["trap.example.toml", "--scenario", "altai-winter-90d"]) == 0
    out = capsys.readouterr().out
    for words in ("J/day ev", "Pico dormant", "always-on", "L91 6S2P", "Target 2027-02-28"):
        assert words in out
    args = ["trap.example.toml", "--scenario", "altai-winter-90d", "--json", "--days", "30"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["days"] == 30 and data["budget"]["target_end"] == "2026-12-30"
    assert len(data["designs"]) == 6  # the example is gated: no extra gated row


def test_bad_config_and_unknown_scenario_exit_2(tmp_path, capsys):
    missing = tmp_path / "nope.toml"
    assert main([str(missing), "--scenario", "altai-winter-90d"]) == 2
    assert f"irbis plan: config file not found: {missing}" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[capture]\nburst_frames = 99\n")
    assert main([str(bad), "--scenario", "altai-winter-90d"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "capture.burst_frames" in err
    assert main(["trap.example.toml", "--scenario", "no-such-place"]) == 2
    assert "no scenario 'no-such-place'" in capsys.readouterr().err


def test_irbis_dispatches_plan():
    irbis = shutil.which("irbis", path=str(Path(sys.executable).parent))
    assert irbis
    out = subprocess.run(
        [irbis, "plan", "trap.example.toml", "--scenario", "altai-winter-90d", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["scenario"] == "altai-winter-90d"
