"""Runs triage for the trap: one call per burst, returning the journal's verdict record; never
raises (a burst triage cannot judge is kept, and the record says why).

The triage package (numpy) is imported at the first burst that needs it, not at start, so the
trap arms first (in gated mode every wake is a cold start). The background bank is read from
`<data_path>/irbis/background.npz` at that first use and written back atomically whenever
triage changed it: the Pi forgets everything between power cycles, the data partition does not.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from device.capture import Burst
from device.config import TrapConfig
from device.hal.cardio import CardIO
from device.storage.atomic import make_dirs_durable, write_atomic

if TYPE_CHECKING:
    from device.triage import BackgroundBank, Triage, TriageSettings

log = logging.getLogger("irbis.triage")

DATA_DIR = "irbis"
BANK_FILE = "background.npz"
# Measures that depend on the processor, not on the frames: logged, not journaled, so the same
# frames give the same card (the simulator's runs are reproducible byte for byte).
WALL_TIME_MEASURES = ("triage_ms",)


def keep_record(reason: str, **extra: Any) -> dict[str, Any]:
    """The verdict record of a burst triage did not judge: keep every frame, and say why."""
    return {
        "decision": "keep",
        "score": None,
        "reasons": [reason],
        "best_frame": None,
        "audit": False,
        "measures": {},
        **extra,
    }


def settings_from_config(cfg: TrapConfig) -> TriageSettings:
    """The [triage] section as the engine's settings (imports the triage package)."""
    from device.triage import TriageSettings

    return TriageSettings(
        enabled=bool(cfg["triage.enabled"]),
        keep_from=float(cfg["triage.keep_from"]),
        discard_below=float(cfg["triage.discard_below"]),
        audit_share=float(cfg["triage.audit_share"]),
        masks=tuple(
            (float(m[0]), float(m[1]), float(m[2]), float(m[3])) for m in cfg["triage.masks"]
        ),
        background_frames=int(cfg["triage.background_frames"]),
    )


class EventTriage:
    """The trap's triage hook: `(burst, source, event_seq, time_utc_s) -> verdict record`.

    `time_utc_s` is the burst's time in seconds since the epoch (UTC): the background bank
    outlives boots, so its frames need a time that does too (a monotonic clock restarts at
    every boot).
    """

    def __init__(self, config: TrapConfig, data_path: Path, io: CardIO) -> None:
        self.config = config
        self.enabled = bool(config["triage.enabled"])
        self.data_path = data_path
        self.bank_path = data_path / DATA_DIR / BANK_FILE
        self.io = io
        self._triage: Triage | None = None
        self._dir_ready = False

    def __call__(
        self, burst: Burst, source: str, event_seq: int, time_utc_s: float
    ) -> dict[str, Any]:
        if not self.enabled:
            return keep_record("triage_disabled")
        if not burst.frames:
            return keep_record("no_frames")
        try:
            triage = self._engine()
            verdict = triage.observe(
                [frame.lores for frame in burst.frames],
                ir_on=burst.ir_used,
                time_s=time_utc_s,
                timelapse=source == "timelapse",
                event_seq=event_seq,
            )
            record = verdict.to_record()
            timings = {
                k: record["measures"].pop(k) for k in WALL_TIME_MEASURES if k in record["measures"]
            }
        except Exception as exc:  # triage must never cost an event: keep it whole
            error = f"{type(exc).__name__}: {exc}"
            log.error(
                "triage failed; burst kept",
                exc_info=True,
                extra={"record": {"seq": event_seq, "source": source, "error": error}},
            )
            return keep_record("triage_error", error=error)
        self._save_bank(triage.bank)
        log.info(
            "triage",
            extra={
                "record": {
                    "seq": event_seq,
                    "source": source,
                    "decision": record["decision"],
                    "score": record["score"],
                    "reasons": record["reasons"],
                    **timings,
                }
            },
        )
        return record

    # -- the engine and its bank ---------------------------------------------------------------
    def _engine(self) -> Triage:
        if self._triage is None:
            from device.triage import Triage

            settings = settings_from_config(self.config)
            self._triage = Triage(settings, self._load_bank(settings.background_frames))
        return self._triage

    def _load_bank(self, per_light: int) -> BackgroundBank:
        """The bank the last boot saved; an empty one (logged) when missing or unreadable."""
        from device.triage import BackgroundBank

        return BackgroundBank.load(self.bank_path, per_light, read=self.io.read)

    def _save_bank(self, bank: BackgroundBank) -> None:
        """Write the bank if triage changed it. A failure is logged (the bank stays dirty and
        is tried again after the next burst); the event goes on."""
        if not bank.dirty:
            return
        try:
            if not self._dir_ready:
                make_dirs_durable(self.io, self.bank_path.parent, self.data_path)
                self._dir_ready = True
            write_atomic(self.io, self.bank_path, bank.to_bytes())
        except Exception as exc:
            log.error(
                "background bank not saved",
                extra={
                    "record": {"path": str(self.bank_path), "error": f"{type(exc).__name__}: {exc}"}
                },
            )
            return
        bank.dirty = False
