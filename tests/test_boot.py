"""The one start path (device/boot.py) on the simulator: the power budget's level is what the
simulated camera and IR LEDs really do (the JPEGs' pixel size, the LEDs' current in the
ledger), not only what the run's config says. The Pi side: tests/test_pi_backends.py."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from device.hal.interfaces import CameraSettings
from sim import scenario as scenario_mod
from sim.clock import VirtualClock
from sim.hardware import Bench
from sim.metrics import deployment_roots, read_journal
from sim.runner import RunResult, simulate

FRAME_FILE = re.compile(r"\d{8}-\d{2}\.jpg")  # a burst's frame, not its thumbnail (-t.jpg)


def run_day(out: Path, budget: bool) -> RunResult:
    """The first day of the winter scenario (its first night) on half the reference pack and a
    target end no pack reaches: with the budget on, the controller takes every rung of its
    ladder, half the resolution and half the IR power among them; off, level 0."""
    scenario = scenario_mod.load("altai-winter-90d")
    trap = scenario.trap.with_values(
        power__budget=budget, power__target_end="2099-12-31", power__cells_parallel=1
    )
    return simulate(replace(scenario, trap=trap), seed=3, out=out, days=1.0)


@pytest.mark.parametrize(
    ("budget", "frame_size", "ir_share"),
    [(False, (640, 480), 1.0), (True, (320, 240), 0.5)],
    ids=["level-0", "last-level"],
)
def test_the_budget_level_is_what_the_simulated_camera_and_ir_do(
    tmp_path, budget, frame_size, ir_share
):
    result = run_day(tmp_path, budget)
    bench = result.bench
    records = [
        r
        for root in deployment_roots(result)
        for r in read_journal(root)
        if r.get("kind") == "event"
    ]
    frames = [p for p in result.card_dir.rglob("*.jpg") if FRAME_FILE.fullmatch(p.name)]
    assert len(frames) >= 3
    assert {Image.open(p).size for p in frames} == {frame_size}
    # The ledger booked the LEDs' current at the power share for each IR frame's exposure
    # (the simulated camera holds the LEDs on one frame period per frame).
    ir_frames = sum(r["frames"] for r in records if r.get("ir"))
    assert ir_frames >= 3
    ir_s = ir_frames * result.scenario.hardware.frame_period_s
    booked_mas = bench.ledger.charge_mas["ir"]
    assert booked_mas == pytest.approx(bench.ledger.currents.ir_ma * ir_share * ir_s, rel=1e-9)


def test_the_simulated_main_stream_scales_with_the_resolution_never_below_lores(tmp_path):
    scenario = scenario_mod.load("altai-winter-90d")  # renders 640x480 for 2304x1296
    clock = VirtualClock(scenario.start_utc, scenario.trap.utc_offset_s)
    card = tmp_path / "card"
    card.mkdir()
    bench = Bench(scenario, 1, clock, card)
    base = scenario.trap
    try:
        assert bench.render_size(CameraSettings.from_config(base)) == (640, 480)
        half = base.with_values(capture__main_width=1152, capture__main_height=648)
        assert bench.render_size(CameraSettings.from_config(half)) == (320, 240)
        quarter = base.with_values(capture__main_width=576, capture__main_height=324)
        assert bench.render_size(CameraSettings.from_config(quarter)) == (320, 240)  # lores
        scene = bench.scene_for(CameraSettings.from_config(half))
        assert (scene.spec.width, scene.spec.height) == (320, 240)
        assert (scene.spec.lores_width, scene.spec.lores_height) == (320, 240)
        assert bench.scene_for(CameraSettings.from_config(half)) is scene  # one per size
    finally:
        bench.close()
