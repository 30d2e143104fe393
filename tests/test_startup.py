"""Start-up: the Pi entry point needs nothing from sim/ or tools/, and nothing the first capture
does not need is imported before it (in gated mode every wake is a cold start)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BLOCK_AND_RUN = """
import importlib.abc, sys, json
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("sim", "tools", "bench", "tests"):
            raise ImportError(f"{name} must not be imported on the Pi")
sys.meta_path.insert(0, Block())
from device.main import run
code = run(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _run(*args: str) -> tuple[int, list[str], str]:
    proc = subprocess.run(
        [sys.executable, "-c", BLOCK_AND_RUN, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return out["code"], out["modules"], proc.stderr


def test_check_runs_with_sim_and_tools_unimportable(tmp_path):
    config = tmp_path / "trap.toml"
    config.write_text(f'backend = "pi"\n[storage]\ndata_path = "{tmp_path}"\n')
    code, modules, err = _run("--config", str(config), "--check")
    # No camera stack here: the check names the missing package and how to install it.
    assert code == 3 and "picamera2" in err and "apt install python3-picamera2" in err, err
    assert not [m for m in modules if m.split(".")[0] in ("sim", "tools")]
    assert "picamera2" not in modules and list(tmp_path.iterdir()) == [config]


def test_pi_backend_start_needs_nothing_outside_device(tmp_path):
    card, data = tmp_path / "card", tmp_path / "data"
    card.mkdir()
    data.mkdir()
    config = tmp_path / "trap.toml"
    config.write_text(
        f'backend = "pi"\nmode = "always-on"\n[storage]\ncard_path = "{card}"\n'
        f'data_path = "{data}"\n'
    )
    code, modules, err = _run("--config", str(config))
    # No camera stack here: the pi backend stops at the missing package, naming it; nothing
    # from sim/ or tools/ was needed to get there.
    assert code == 3 and "picamera2" in err
    assert not [m for m in modules if m.split(".")[0] in ("sim", "tools")]
    assert list(card.iterdir()) == list(data.iterdir()) == []  # refused before any write


def test_loop_modules_do_not_pull_in_analysis_or_plotting():
    probe = (
        "import sys, json; import device.main, device.trap, device.hal.pi; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    modules = set(json.loads(out.stdout))
    heavy = {
        "numpy",
        "PIL",
        "matplotlib",
        "scipy",
        "cv2",
        "frictionless",
        "tqdm",
        "gpiozero",
        "picamera2",
        "hypothesis",
    }
    assert not heavy & {m.split(".")[0] for m in modules}
    assert not [m for m in modules if m.startswith(("device.triage", "sim", "tools"))]
