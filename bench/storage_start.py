"""One trap start's storage opening, in a fresh process: `python -m bench.storage_start <card>
<data>`; prints one JSON line of wall and CPU seconds. Run by bench/storage_bench.py, not a
suite of its own.

What the trap does at its start (device/main.py): import the storage, then `Storage.open()`:
the internal state, the card's checks (card.json, deployment.json), recovery (temporaries,
the journal's tail, the newest day folders, the last event's hashes) and the buffer. Timed
here: the imports, that first open, and a second open in the same process (warm: what the
storage bench timed before, and not what a trap's start does). Nothing is imported before the
clock starts but the standard library.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


class FolderCard:
    """The Card protocol for a card that is a folder (no mount point, no raw device)."""

    def __init__(self, mount_path: Path) -> None:
        self._mount_path = mount_path

    @property
    def mount_path(self) -> Path:
        return self._mount_path

    def present(self) -> bool:
        return self._mount_path.is_dir()

    def identity(self) -> str:
        return "bench:card-100k"

    def block_device(self) -> None:
        return None

    def free_bytes(self) -> int:
        st = os.statvfs(self._mount_path)
        return st.f_bavail * st.f_frsize

    def capacity_bytes(self) -> int:
        st = os.statvfs(self._mount_path)
        return st.f_blocks * st.f_frsize


def main(card: Path, data: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    wall0, cpu0 = time.perf_counter(), time.process_time()
    from device.clock import RealClock
    from device.config import validate
    from device.hal.cardio import OS_IO
    from device.storage.manager import Storage

    wall1, cpu1 = time.perf_counter(), time.process_time()
    out["import_wall"], out["import_cpu"] = wall1 - wall0, cpu1 - cpu0
    config = validate(
        {
            "backend": "sim",
            "deployment_id": "dep",
            "storage": {"card_path": str(card), "data_path": str(data), "probe_samples": 0},
        }
    )
    clock = RealClock()
    for name in ("open", "second_open"):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        storage = Storage(config, clock, FolderCard(card), OS_IO, OS_IO)
        storage.open()
        out[f"{name}_wall"] = time.perf_counter() - wall0
        out[f"{name}_cpu"] = time.process_time() - cpu0
        if storage.state != "card":
            raise RuntimeError(f"the bench card is not usable: {storage.state} {storage.reason}")
    out["next_seq"] = storage.next_seq()
    return out


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]))))
