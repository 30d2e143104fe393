"""The simulated card slot: the card in it, its durability model, and the ranger's visits.

Each physical card is a folder of the run (`card/`, then `card-2/`, ...), written through a
`SimCardIO` that knows durable from cached bytes and injects the scenario's faults: I/O errors
from a given day, slow writes, a card that is full (a small capacity), a counterfeit card (its
raw block device holds less than it claims, which the first-use probe sees). A visit pulls the
card at one time (like a cut for whatever it was writing) and puts a new blank card in later.
"""

from __future__ import annotations

import random
from pathlib import Path

from sim.block_device import SimBlockDevice
from sim.card import SimCardIO
from sim.clock import VirtualClock
from sim.scenario import Faults

DAY_S = 86400.0
PROBE_BLOCK_BYTES = 4096


class SimCard:
    """The HAL `Card` of the sim backend."""

    def __init__(
        self,
        run_dir: Path,
        first_dir: Path,
        capacity_bytes: int,
        identity: str,
        clock: VirtualClock,
        faults: Faults,
        seed: int,
    ) -> None:
        self._run_dir = run_dir
        self._capacity = capacity_bytes
        self._identity = identity
        self._faults = faults
        self._rng = random.Random(seed)
        self.number = 1
        self.dirs = [first_dir]
        errors_s = faults.card_io_errors_from_day * DAY_S
        # No folder at first_dir (`irbis run` with a card path that is not there): the slot is
        # empty, as on the Pi with nothing mounted, until the folder appears.
        self._empty_at_start = not first_dir.is_dir()
        self.io = SimCardIO(
            first_dir,
            clock=clock,
            capacity_bytes=capacity_bytes,
            io_errors_from_s=errors_s if errors_s >= 0 else None,
            write_bytes_per_s=faults.card_write_mb_s * 1e6 if faults.card_write_mb_s else None,
            absent_ok=True,
        )
        for out_day, in_day in faults.card_visits:
            clock.call_later(out_day * DAY_S, self._pull)
            clock.call_later(in_day * DAY_S, self._insert)

    def _pull(self) -> None:
        self.io.remove(self._rng)

    def _insert(self) -> None:
        self._empty_at_start = False
        self.number += 1
        new = self._run_dir / f"card-{self.number}"
        new.mkdir()
        self.dirs.append(new)
        self.io.insert(new)

    @property
    def mount_path(self) -> Path:
        return self.io.root

    def present(self) -> bool:
        if self._empty_at_start and self.dirs[0].is_dir():  # a card put in the empty slot
            self._empty_at_start = False
            self.io.insert(self.dirs[0])
        return self.io.present

    def identity(self) -> str:
        return f"{self._identity}-{self.number}"

    def free_bytes(self) -> int:
        return self.io.free_bytes()

    def capacity_bytes(self) -> int:
        return self._capacity

    def block_device(self) -> SimBlockDevice:
        """The raw device the first-use probe writes to: honest, or holding only
        `card_real_bytes` and wrapping writes beyond it onto lower blocks."""
        claimed = self._capacity - self._capacity % PROBE_BLOCK_BYTES
        real = self._faults.card_real_bytes
        return SimBlockDevice(
            claimed, real - real % PROBE_BLOCK_BYTES if real else None, "wrap", PROBE_BLOCK_BYTES
        )
