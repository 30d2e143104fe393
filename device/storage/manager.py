"""The trap's storage: the card while it is usable, the internal buffer while it is not.

`Storage` decides where each event goes and keeps the card within its floor:

- at start and before every commit it checks the card: present, the same card, writable, this
  trap's (card.json and deployment.json), with room. A new card gets its capacity probe and
  card.json; a removed card sends events to the internal buffer; the next good card receives
  the buffered events first, with the same commit protocol, and the deployment goes on with
  the same sequence;
- I/O errors are retried once, then the card is set aside for the rest of this boot (state
  `card_io_errors`): never a crash loop;
- when the card's free space would fall under floor + reserve, it evicts in value order
  (device/storage/index.py) down to floor + 2 x reserve; when nothing may go, capture stops
  (`card_full`) while triggers are still journaled;
- the state and its reason are logged, journaled where possible and written to
  `<data_path>/irbis/status.json` whenever they change.

Sequence numbers are never reused, also across cards: `state.json` on the internal partition
holds a reservation (`seq_reserved_through`) that is always ahead of every number used, and the
store the last events went to; a different store starts after the reservation.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from device import __version__
from device.clock import Clock
from device.config import TrapConfig
from device.errors import CardError
from device.hal.cardio import CardIO
from device.hal.interfaces import Card
from device.storage import card_meta, layout
from device.storage.atomic import make_dirs_durable, write_atomic
from device.storage.card_paths import HostilePath, check_folder, media_path
from device.storage.event_store import EventStore, Media
from device.storage.highwater import CheckpointError, Mark, read_checkpoint, write_checkpoint
from device.storage.index import EvictionIndex
from device.storage.journal import check_ours, scan
from device.storage.receipts import read_receipts

log = logging.getLogger("irbis.storage")

MB = 1_000_000
SEQ_RESERVE_BLOCK = 100
DEFAULT_EVENT_BYTES = 4 * MB
BUFFER = "buffer"
STATUS_FILE = "status.json"
STATE_FILE = "state.json"
MARKS_KEPT = 32  # cards whose journal high-water marks state.json remembers


class Storage:
    def __init__(
        self,
        config: TrapConfig,
        clock: Clock,
        card: Card,
        card_io: CardIO,
        data_io: CardIO,
    ) -> None:
        self.config = config
        self.clock = clock
        self.card = card
        self.card_io = card_io
        self.data_io = data_io
        self.deployment_id: str = config["deployment_id"]
        self.data_root = Path(config["storage.data_path"]) / "irbis"
        self.floor_bytes = int(config["storage.free_floor_mb"] * MB)
        self.reserve_bytes = int(config["storage.reserve_mb"] * MB)
        self.state = "starting"
        self.reason = ""
        self.store: EventStore | None = None  # the card's deployment folder, when usable
        self.card_id: str | None = None
        self._hardware_id: str | None = None
        self._unusable_until_swap: str | None = None  # a hardware id set aside for this boot
        self._lost_bytes = 0  # claimed but not held (a counterfeit card)
        self._buffer: EventStore | None = None
        self._index: EvictionIndex | None = None
        self._event_bytes: list[int] = []
        self._checkpoint_rec = 0  # the card's checkpoint.json, as last read or written
        self.faults: list[str] = []  # what this boot found wrong on the card, as short words

    # -- start ---------------------------------------------------------------------------------
    def open(self) -> None:
        """Read the internal state, open the buffer if it holds events, and take up the card."""
        make_dirs_durable(self.data_io, self.data_root, Path(self.data_root.anchor))
        self._status_written = _read_json(self.data_root / STATUS_FILE)
        self._seq_state = self._read_seq_state()
        buffer_root = self._buffer_root()
        if (buffer_root / layout.JOURNAL_FILE).exists():
            self._buffer = EventStore(buffer_root, self.data_io, self._now())
        self._check_card()

    def next_seq(self) -> int:
        """The next event's sequence number (never one used before, on any card)."""
        known = [self._buffer.next_seq() if self._buffer else 1]
        if self.store is not None:
            known.append(self.store.next_seq())
        target = self.card_id if self.store is not None else BUFFER
        if target != self._seq_state.get("last_store"):
            known.append(int(self._seq_state.get("seq_reserved_through", 0)) + 1)
        return max(known)

    # -- the card ------------------------------------------------------------------------------
    def _check_card(self) -> bool:
        """Is the card usable now? Re-checks identity (cheap) and re-opens after a swap."""
        try:
            present = self.card.present()
            hardware_id = self.card.identity() if present else None
        except OSError as exc:
            present, hardware_id = False, None
            self._set_state("card_io_errors", f"card not readable: {exc}")
        if not present:
            self._remember_mark()
            self.store, self.card_id, self._index = None, None, None
            if self.state != "card_io_errors":
                self._set_state("no_card", "no card in the slot; events go to the buffer")
            return False
        if self.store is not None and hardware_id == self._hardware_id:
            return True
        if hardware_id == self._unusable_until_swap:
            return False
        self._remember_mark()
        self.store, self._index, self._lost_bytes = None, None, 0
        self._hardware_id = hardware_id
        try:
            self._take_up_card(hardware_id or "unknown")
        except card_meta.ReadOnlyCard as exc:
            return self._set_aside("card_read_only", str(exc))
        except CardError as exc:  # ForeignCard, a journal not ours, a path leading off the card
            if isinstance(exc, HostilePath):
                self.faults.append("hostile_card_paths")
            return self._set_aside("card_foreign", str(exc))
        except OSError as exc:
            return self._set_aside("card_io_errors", f"{type(exc).__name__}: {exc}")
        self._set_state("card", f"card {self.card_id}")
        return True

    def _set_aside(self, state: str, reason: str) -> bool:
        self._remember_mark()
        self.store, self.card_id, self._index = None, None, None
        self._unusable_until_swap = self._hardware_id
        self._set_state(state, reason)
        return False

    def _take_up_card(self, hardware_id: str) -> None:
        root = self.card.mount_path
        card_meta.check_card_path(root)
        doc = card_meta.read_card(root)
        # irbis/<deployment> is resolved on the card, never through a link (HostilePath)
        folder = check_folder(root, f"{layout.TOP_DIR}/{self.deployment_id}", "deployment folder")
        dep = card_meta.read_deployment(folder, self.deployment_id, self.config["device_id"])
        journal = folder / layout.JOURNAL_FILE
        if (doc is None or dep is None) and journal.exists():
            check_ours(journal)  # before writing card.json or deployment.json beside it
        if doc is None:  # checked everything before writing anything
            doc = self._first_use(root, hardware_id)
        probe = doc.get("capacity_probe") or {}
        if probe.get("result") == "counterfeit":
            claimed = int(probe.get("claimed_bytes", 0))
            self._lost_bytes = max(0, claimed - int(probe.get("verified_bytes", claimed)))
        make_dirs_durable(self.card_io, folder, root)
        if dep is None:
            dep_doc = card_meta.new_deployment(self.config, self.clock.now_utc())
            card_meta.write_new(self.card_io, folder / layout.DEPLOYMENT_FILE, dep_doc)
        card_id = str(doc["card_id"])
        store = EventStore(folder, self.card_io, self._now(), self._marks(folder, card_id))
        self.card_id = card_id
        self.store = store
        if store.recovery.lost is not None:
            self.faults.append("journal_history_lost")
        if store.recovery.refused:
            self.faults.append("hostile_card_paths")
        if store.journal.last_rec != self._checkpoint_rec:
            self._save_marks()  # a loss is journaled once; a cut before the last halt caught up
        if store.journal.last_rec == 0:
            store.note(
                {
                    "kind": "open",
                    "deployment_id": self.deployment_id,
                    "device_id": self.config["device_id"],
                    "card_id": self.card_id,
                    "firmware": __version__,
                    "after_seq": self.next_seq() - 1,
                    "time": self._now(),
                }
            )
        self._drain_buffer()

    # -- the journal's high-water marks (device/storage/highwater.py) --------------------------
    def _marks(self, folder: Path, card_id: str) -> tuple[Mark, ...]:
        """What the card's checkpoint and this trap's data partition say the journal reached."""
        marks = []
        self._checkpoint_rec = 0
        try:
            checkpoint = read_checkpoint(folder, self.deployment_id)
        except (CheckpointError, HostilePath, OSError) as exc:
            self.faults.append("checkpoint_unreadable")
            log.error("checkpoint ignored", extra={"record": {"card": card_id, "why": str(exc)}})
            checkpoint = None
        if checkpoint is not None:
            marks.append(checkpoint)
            self._checkpoint_rec = checkpoint.rec
        ours = self._seq_state.get("marks", {}).get(card_id)
        if ours is not None:
            try:
                marks.append(Mark.from_json(ours, "data_partition"))
            except CheckpointError as exc:
                log.error("data partition mark ignored", extra={"record": {"why": str(exc)}})
        return tuple(marks)

    def _save_marks(self) -> None:
        """Write the card's journal mark on the card (checkpoint.json) and on the data partition.
        A failure is logged: the marks only help to notice a loss later."""
        if self.store is None or self.card_id is None:
            return
        mark = Mark.of(self.store.journal)
        try:
            write_checkpoint(
                self.card_io, self.store.root, self.deployment_id, self.card_id, mark, self._now()
            )
            self._checkpoint_rec = mark.rec
        except OSError as exc:
            log.error("checkpoint not written", extra={"record": {"error": str(exc)}})
        self._remember_mark()

    def _remember_mark(self) -> None:
        """The data partition's copy of the current card's mark (state.json)."""
        if self.store is None or self.card_id is None:
            return
        mark = Mark.of(self.store.journal).to_json()
        marks = dict(self._seq_state.get("marks", {}))
        if marks.get(self.card_id) == mark:
            return
        marks.pop(self.card_id, None)
        marks[self.card_id] = mark  # newest last; the oldest cards are forgotten
        self._seq_state["marks"] = dict(list(marks.items())[-MARKS_KEPT:])
        try:
            self._write_seq_state()
        except OSError as exc:
            log.error("state not written", extra={"record": {"error": str(exc)}})

    def close(self) -> None:
        """The halt: leave the journal's high-water marks where a later start (and a host)
        can tell whether committed history went missing."""
        if self.store is not None and self.store.journal.last_rec != self._checkpoint_rec:
            self._save_marks()

    def _first_use(self, root: Path, hardware_id: str) -> dict[str, Any]:
        """Probe the card's real capacity, then write its card.json."""
        claimed = self.card.capacity_bytes()
        probe: dict[str, Any] = {"result": "skipped", "why": "probe_samples = 0"}
        if self.config["storage.probe_samples"]:
            probe = self._probe(hardware_id)
        doc = card_meta.new_card(
            hardware_id, self.config["device_id"], self.clock.now_utc(), claimed, probe
        )
        card_meta.write_new(self.card_io, root / layout.CARD_FILE, doc)
        log.info("new card", extra={"record": {"card_id": doc["card_id"], "probe": probe}})
        return doc

    def _probe_backup(self, hardware_id: str) -> Path:
        """Where the probe keeps the blocks it overwrites: on the internal partition (never on
        the card being probed), named after the card so only that card gets them back."""
        safe = "".join(c if c.isalnum() else "_" for c in hardware_id)
        return self.data_root / f"probe-backup-{safe}.bin"

    def _probe(self, hardware_id: str) -> dict[str, Any]:
        from device.storage.probe import probe_capacity, restore_from_backup

        device = self.card.block_device()
        if device is None:
            return {"result": "skipped", "why": "no raw block device for this card"}
        backup = self._probe_backup(hardware_id)
        try:
            if backup.exists():  # a cut during an earlier probe of this same card
                restored = restore_from_backup(device, backup)
                log.warning("probe blocks restored", extra={"record": {"blocks": restored}})
            result = probe_capacity(device, self.config["storage.probe_samples"], backup=backup)
        finally:
            close = getattr(device, "close", None)
            if close is not None:
                close()
        if result.result != "ok":
            log.error("card capacity probe failed", extra={"record": result.to_json()})
        return result.to_json()

    # -- commits -------------------------------------------------------------------------------
    def can_capture(self) -> str | None:
        """None when an event's media can be saved now, else why not (the status)."""
        if self._check_card():
            return None if self._make_room(self._event_estimate()) else "card_full"
        return self._buffer_refusal()

    def commit(self, record: dict[str, Any], media: list[Media]) -> dict[str, Any]:
        """Commit one event to the card, or to the buffer when the card is not usable.

        Raises OSError only when neither can take it.
        """
        size = sum(len(m.data) for m in media)
        self._reserve_seq(int(record["seq"]))
        if self._check_card():
            if media and not self._make_room(size):
                record = {**record, "status": "not_saved", "error": "card_full"}
                media = []
            for attempt in (1, 2):
                try:
                    assert self.store is not None
                    self._note_target(self.card_id)
                    done = self.store.commit(record, media)
                    self._after_commit(done, size)
                    return done
                except FileExistsError as exc:  # not ours to overwrite: this card is suspect
                    self.faults.append("media_name_taken")
                    self._set_aside("card_foreign", f"{exc.strerror}; not overwriting it")
                    break
                except OSError as exc:
                    log.error(
                        "card write failed",
                        extra={
                            "record": {"seq": record["seq"], "attempt": attempt, "error": str(exc)}
                        },
                    )
            else:
                self._set_aside(
                    "card_io_errors", "card writes fail after a retry; using the buffer"
                )
        if media and self._buffer_refusal():
            record = {**record, "status": "not_saved", "error": self.state}
            media = []
        buffer = self._open_buffer()
        self._note_target(BUFFER)
        return buffer.commit({**record, "stored_in": BUFFER}, media)

    def _after_commit(self, done: dict[str, Any], size: int) -> None:
        if size:
            self._event_bytes = [*self._event_bytes[-7:], size]
        if self._index is not None:
            self._index.add(done)

    def _event_estimate(self) -> int:
        return max(self._event_bytes, default=DEFAULT_EVENT_BYTES)

    # -- rotation ------------------------------------------------------------------------------
    def free_bytes(self) -> int:
        return self.card.free_bytes() - self._lost_bytes

    def _make_room(self, need_bytes: int) -> bool:
        """Evict in value order until `need_bytes` fit above floor + reserve; False if they
        cannot fit even above the floor."""
        free = self.free_bytes()
        if free - need_bytes >= self.floor_bytes + self.reserve_bytes:
            return True
        assert self.store is not None
        index = self._eviction_index()
        target = self.floor_bytes + 2 * self.reserve_bytes + need_bytes
        while free < target:
            victim = index.pop()
            if victim is None:
                break
            reason, v = victim
            done = self.store.evict(v.files, reason, seq=v.seq, time=self._now())
            index.add({"kind": "evict", "files": v.files})
            log.info("evicted", extra={"record": {"reason": reason, "seq": v.seq, "bytes": done}})
            free = self.free_bytes()
        fits = free - need_bytes >= self.floor_bytes
        if not fits:
            self._set_state("card_full", "card full and nothing may be evicted; capture stopped")
        elif self.state == "card_full":
            self._set_state("card", f"card {self.card_id}: room again")
        return fits

    def _eviction_index(self) -> EvictionIndex:
        """Built once per boot from the journal, then kept current by commits and evictions."""
        if self._index is None:
            assert self.store is not None
            index = EvictionIndex(
                self.config["storage.low_score_below"], self.config["storage.ring"]
            )
            for record in scan(self.store.journal.path).records:
                index.add(record)
            index.add_offloaded(read_receipts(self.store.root, self.deployment_id))
            self._index = index
        return self._index

    # -- the internal buffer ------------------------------------------------------------------
    def _buffer_root(self) -> Path:
        return self.data_root / BUFFER / self.deployment_id

    def _open_buffer(self) -> EventStore:
        if self._buffer is None:
            self._buffer = EventStore(self._buffer_root(), self.data_io, self._now())
        return self._buffer

    def _buffer_refusal(self) -> str | None:
        """Why the buffer cannot take another event's media (None: it can)."""
        used = _tree_bytes(self._buffer_root())
        st = os.statvfs(self.data_root)
        free = st.f_bavail * st.f_frsize
        need = self._event_estimate()
        if used + need > self.config["storage.buffer_max_mb"] * MB:
            return "buffer_full"
        if free - need < self.config["storage.buffer_floor_mb"] * MB:
            return "buffer_full"
        return None

    def _drain_buffer(self) -> None:
        """Move buffered events to the card, oldest first, each committed like a new one; then
        empty the buffer. A cut midway moves the rest next time (by sequence number)."""
        if self._buffer is None or self.store is None:
            return
        buffer, moved = self._buffer, 0
        for record in scan(buffer.journal.path).records:
            if record.get("kind") != "event" or record["seq"] <= self.store.journal.last_seq:
                continue
            media = []
            for m in record.get("media", []):
                try:
                    path = media_path(buffer.root, m.get("file"), "buffered media")
                except HostilePath as exc:
                    log.error("buffered media refused", extra={"record": {"why": str(exc)}})
                    continue
                data = buffer.io.read(path)
                extra = {k: v for k, v in m.items() if k not in ("file", "role", "sha256", "bytes")}
                media.append(Media(_frame_of(m["file"]), data, extra))
            clean = {
                k: v
                for k, v in record.items()
                if k not in ("v", "rec", "prev", "crc", "kind", "media", "stored_in")
            }
            self._note_target(self.card_id)
            self.store.commit({**clean, "buffered": True}, media)
            moved += 1
        _remove_tree(buffer.io, buffer.root)
        self._buffer = None
        log.info("buffer moved to card", extra={"record": {"events": moved, "card": self.card_id}})

    # -- state ---------------------------------------------------------------------------------
    def _read_seq_state(self) -> dict[str, Any]:
        path = self.data_root / STATE_FILE
        try:
            doc = json.loads(path.read_bytes())
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise CardError(f"{path} is damaged ({exc}); move it aside to start afresh") from None
        if doc.get("deployment_id") != self.deployment_id:
            return {}  # another deployment's numbers: this one starts at 1
        return doc

    def _write_seq_state(self) -> None:
        doc = {**self._seq_state, "deployment_id": self.deployment_id}
        write_atomic(self.data_io, self.data_root / STATE_FILE, json.dumps(doc).encode())

    def _reserve_seq(self, seq: int) -> None:
        if seq > int(self._seq_state.get("seq_reserved_through", 0)):
            self._seq_state["seq_reserved_through"] = seq + SEQ_RESERVE_BLOCK - 1
            self._write_seq_state()

    def _note_target(self, target: str | None) -> None:
        if target is not None and self._seq_state.get("last_store") != target:
            self._seq_state["last_store"] = target
            self._write_seq_state()

    def _set_state(self, state: str, reason: str) -> None:
        if state == self.state and reason == self.reason:
            return
        self.state, self.reason = state, reason
        if (state, reason) == (
            self._status_written.get("state"),
            self._status_written.get("reason"),
        ):
            return  # as the last boot left it: no write (gated mode starts many times a day)
        level = logging.INFO if state == "card" else logging.WARNING
        log.log(level, "storage state", extra={"record": {"state": state, "reason": reason}})
        status = {"state": state, "reason": reason, "since": self._now(), "card_id": self.card_id}
        self._status_written = status
        try:
            write_atomic(self.data_io, self.data_root / STATUS_FILE, json.dumps(status).encode())
            if self.store is not None and state != "card":
                self.store.note(
                    {"kind": "status", "state": state, "reason": reason, "time": self._now()}
                )
        except OSError as exc:
            log.error("status not written", extra={"record": {"error": str(exc)}})

    def _now(self) -> str:
        return self.clock.now_local().isoformat(timespec="milliseconds")


def _read_json(path: Path) -> dict[str, Any]:
    """A small JSON file of ours on the internal partition; {} when missing or unreadable."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _frame_of(rel: str) -> int | str:
    parsed = layout.parse_media_name(Path(rel).name)
    if parsed is None:
        raise ValueError(f"{rel} is not a media name")
    return layout.THUMB if parsed[1] == layout.THUMB else int(parsed[1])


def _tree_bytes(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        total += sum(os.path.getsize(os.path.join(dirpath, f)) for f in files)
    return total


def _remove_tree(io: CardIO, root: Path) -> None:
    """Delete a buffer folder: media first, the journal last, then the folders."""
    journal = root / layout.JOURNAL_FILE
    for dirpath, _dirs, files in os.walk(root, topdown=False):
        d = Path(dirpath)
        for name in files:
            if d / name != journal:
                io.unlink(d / name)
        if d != root:
            io.sync_dir(d)
            io.rmdir(d)
    io.unlink(journal)
    io.sync_dir(root)
    io.rmdir(root)
    io.sync_dir(root.parent)
