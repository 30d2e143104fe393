"""metrics.json of a run (keys as in DESIGN.md §6), from the card and the bench's ground truth.

The card is read as a host tool would read it (the journal and the media), and compared with
the world: which animal passes each event's frames showed (the bench's truth by event number,
noted when triage saw the burst, so discarded events count too; else by the media's hashes),
which trap events showed nothing, and what triage decided for each (sim/triage_metrics.py).
`events.kept` / `thumbnail_only` / `discarded` say what the card holds of each captured event
now (whole, only its thumbnail, no media: triage's verdict is a value, and eviction acts on
it when the card fills); triage's own decisions are `events.verdicts`.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from device.controller import MOTION_SOURCES
from device.power.energy_model import PACK_NOMINAL_V
from device.storage import layout
from device.storage.journal import scan
from sim.runner import RunResult
from sim.triage_metrics import TriageTally


def deployment_roots(result: RunResult) -> list[Path]:
    """Every folder the run's events went to: each card in turn, then the internal buffer."""
    dep = result.scenario.trap["deployment_id"]
    cards = [d / layout.TOP_DIR / dep for d in result.bench.card.dirs]
    return [*cards, result.card_dir.parent / "internal" / "irbis" / "buffer" / dep]


def read_journal(root: Path) -> list[dict[str, Any]]:
    """The sound records of a deployment folder's journal (none when it has no journal)."""
    return scan(root / layout.JOURNAL_FILE).records


def _energy(result: RunResult) -> dict[str, Any]:
    """The pack through the run: the battery model's state, energy by state, what is left."""
    bench, scenario = result.bench, result.scenario
    battery, ledger = bench.battery, bench.ledger
    wh = ledger.wh_by_state()
    consumed = sum(wh.values())
    mean_c = scenario.weather.mean_c
    pack = bench.pack
    start_wh = pack.nominal_wh * pack.usable_fraction(mean_c) * scenario.hardware.pack_soc_start
    remaining = battery.usable_remaining_wh(mean_c)
    per_day = consumed / result.days if result.days else 0.0
    sup = bench.supervisor
    refusal_s = sup.first_refusal_s if sup is not None else None
    cfg = bench.config
    return {
        "model": "battery model at the enclosure's temperature; FIELD.md §3 currents",
        "pack": f"{cfg['power.cells_series'] * cfg['power.cells_parallel']} x "
        f"{pack.chemistry.name} ({cfg['power.cells_series']}S{cfg['power.cells_parallel']}P)",
        "pack_nominal_wh": round(pack.nominal_wh, 2),
        "pack_wh_start": round(start_wh, 3),
        "consumed_wh_by_state": {k: round(v, 4) for k, v in wh.items()},
        "consumed_mah_by_state": {
            k: round(v / 3600.0, 3) for k, v in sorted(ledger.charge_mas.items())
        },
        "consumed_wh": round(consumed, 4),
        "standby_share": round(wh.get("standby", 0.0) / consumed, 4) if consumed else None,
        "remaining_wh": round(remaining, 3),
        "remaining_fraction": round(remaining / start_wh, 4) if start_wh else 0.0,
        "projected_days": round(remaining / per_day, 1) if per_day else None,
        "pack_rest_v_end": round(battery.terminal_v(0.0, mean_c), 3),
        "exhausted_day": None if refusal_s is None else round(refusal_s / 86400.0, 2),
        "boots_refused_low": (sup.counters["boots_refused_low"] if sup is not None else 0),
        "brownout_shutdowns": (sup.counters["brownouts"] if sup is not None else 0),
    }


def _percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    arr = np.asarray(values)
    return {
        "n": len(values),
        "p50": round(float(np.percentile(arr, 50)), 3),
        "p95": round(float(np.percentile(arr, 95)), 3),
        "max": round(float(arr.max()), 3),
    }


def collect(result: RunResult) -> dict[str, Any]:
    scenario, bench = result.scenario, result.bench
    journals = [(root, read_journal(root)) for root in deployment_roots(result)]
    truth = bench.truth_by_sha256
    passes = {p.id: p for p in bench.world.passes}
    tally = TriageTally(passes)
    end_s = result.days * 86400.0

    # -- events on the card, and what they show ----------------------------------------------
    decisions: Counter[str] = Counter()  # triage's verdicts
    on_card: Counter[str] = Counter()  # what each captured event has on the card now
    by_source: Counter[str] = Counter()
    animals_captured: set[int] = set()
    animals_kept: set[int] = set()  # animal passes with an event whole on the card
    animals_judged_animal: set[int] = set()  # ... and with an event triage kept as an animal
    false_events = false_discarded = capture_failed = 0
    missing = corrupt = media_files = bytes_written = not_captured = buffered = 0
    evicted = {"files": 0, "bytes": 0}
    integrity = {"lost": 0, "refused": 0, "adopted": 0}  # lost records, refused paths, adopted
    event_times_s: list[float] = []
    latency: dict[str, list[float]] = {"all": [], "wake": [], "pir": []}
    events: list[tuple[Path, dict[str, Any], set[str]]] = []
    for root, records in journals:
        gone: set[str] = set()  # evicted on purpose: no longer committed
        for rec in records:
            if rec.get("kind") == "evict":
                gone.update(rec["files"])
                evicted["files"] += len(rec["files"])
                evicted["bytes"] += rec["bytes"]
            elif rec.get("kind") == "lost":
                integrity["lost"] += 1
            elif rec.get("kind") == "recovery":
                integrity["refused"] += len(rec.get("refused") or [])
                integrity["adopted"] += len(rec.get("adopted") or [])
        events += [(root, rec, gone) for rec in records if rec.get("kind") == "event"]
    for deployment_root, rec, gone in events:
        by_source[rec["source"]] += 1
        buffered += bool(rec.get("buffered"))
        decision = (rec.get("verdict") or {}).get("decision", "keep")
        if rec["status"] == "capture_failed":
            capture_failed += 1
        elif rec["status"] in ("not_captured", "not_saved"):
            not_captured += 1
        else:
            decisions[decision] += 1
        if rec["source"] in ("pir", "wake") and rec.get("latency_s") is not None:
            latency["all"].append(rec["latency_s"])
            latency[rec["source"]].append(rec["latency_s"])
        shown: set[int] = set()
        frames_here = thumbs_here = 0
        for media in rec.get("media", []):
            media_files += 1
            bytes_written += media["bytes"]
            if media["file"] in gone:
                continue
            path = deployment_root / media["file"]
            if not path.exists():
                missing += 1
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != media["sha256"]:
                corrupt += 1
                continue
            t_s, in_frame = truth.get(digest, (None, []))
            if t_s is not None:
                event_times_s.append(t_s)
            shown.update(in_frame)
            if media.get("role") == "thumb":
                thumbs_here += 1
            else:
                frames_here += 1
        seen = bench.truth_by_seq.get(rec["seq"]) if rec["status"] in ("ok", "partial") else None
        if seen is not None:  # what the frames showed, whatever triage let reach the card
            shown = set(seen.animals)
            event_times_s.extend(seen.frame_times_s)
        tally.add(rec, seen)
        animals_captured |= shown
        if rec["status"] in ("ok", "partial"):
            whole = frames_here > 0 and frames_here >= rec.get("frames", 0)
            stored = "whole" if whole else "thumbnail" if thumbs_here and not frames_here else ""
            on_card[stored or ("partial" if frames_here else "none")] += 1
            if whole:
                animals_kept |= shown
        if decision == "keep":
            animals_judged_animal |= shown
        if rec["source"] in MOTION_SOURCES and rec["status"] != "capture_failed" and not shown:
            false_events += 1
            false_discarded += decision == "discard"

    animal_passes = [p for p in passes.values() if p.kind == "animal" and p.start_s < end_s]
    leopards = [p for p in animal_passes if p.species == "snow-leopard"]
    false_passes = [p for p in passes.values() if p.kind != "animal" and p.start_s < end_s]

    # -- triggers ------------------------------------------------------------------------------
    c = result.controller_counters
    sup = bench.supervisor
    sup_counts = sup.counters if sup is not None else {}
    triggers = {
        "pir_rising_edges": bench.pir.rising_edges,
        "seen_by_trap": c["triggers"],
        "by_source": {
            k.split(".", 1)[1]: v for k, v in sorted(c.items()) if k.startswith("triggers.")
        },
        "retriggers_during_event": c["retriggers_during_event"],
        "retriggers_during_hold_off": c["retriggers_during_hold_off"],
        "outside_schedule": c["triggers_outside_schedule"],
        "while_booting": sup_counts.get("pir_while_booting", 0),
        "while_halting": sup_counts.get("pir_while_halting", 0),
        "in_supervisor_hold_off": sup_counts.get("pir_in_hold_off", 0),
        "during_boot_made_events": c["triggers.during_boot"],
        "timelapse_shots": by_source["timelapse"],
    }

    # -- energy --------------------------------------------------------------------------------
    energy = _energy(result)
    warm_s = c["warm_window_ms"] / 1000.0
    currents = bench.ledger.currents
    warm_wh = warm_s * (currents.idle_ma + currents.supervisor_awake_ma) / 3.6e6 * PACK_NOMINAL_V

    # -- faults --------------------------------------------------------------------------------
    injected = dict(bench.faults_injected)
    stuck = [d for d, _dur in scenario.faults.pir_stuck if d * 86400.0 < end_s]
    if stuck:
        injected["pir_stuck"] = len(stuck)
    last_frame_s = max(event_times_s, default=0.0)
    fault_times = (
        [d * 86400.0 for d in scenario.faults.camera_error_at_days]
        + [d * 86400.0 for d in scenario.faults.camera_hang_at_days]
        + [d * 86400.0 + dur for d, dur in scenario.faults.pir_stuck]
    )
    survived = sum(1 for t in fault_times if t < end_s and last_frame_s > t)

    card = bench.card
    return {
        "scenario": scenario.name,
        "seed": result.seed,
        "simulated_days": result.days,
        "wall_s": round(result.wall_s, 3),
        "mode": scenario.trap.mode,
        "boots": result.boots,
        "triggers": triggers,
        "events": {
            # what the card holds of each captured event now (after any eviction)
            "captured": sum(decisions.values()),
            "kept": on_card["whole"],
            "thumbnail_only": on_card["thumbnail"],
            "partial": on_card["partial"],
            "discarded": on_card["none"],
            "verdicts": {d: decisions[d] for d in ("keep", "thumbnail", "discard")},
            "capture_failed": capture_failed,
            "not_captured": not_captured,
            "by_source": dict(sorted(by_source.items())),
            "timelapse_deferred": c["timelapse_deferred"],
            "pir_stuck_episodes": c["pir_stuck"],
        },
        "ground_truth": {
            "animal_events": len(animal_passes),
            "animal_events_pir_seen": sum(p.pir_seen for p in animal_passes),
            "animal_events_captured": len(animals_captured),
            "animal_events_kept": len(animals_kept),
            "animal_events_judged_animal": len(animals_judged_animal),
            "snow_leopard_events": len(leopards),
            "snow_leopard_events_kept": sum(p.id in animals_kept for p in leopards),
            "false_trigger_sources": len(false_passes),
            "false_events": false_events,
            "false_events_discarded": false_discarded,
        },
        "triage": tally.to_json(),
        "latency_s": {
            "trigger_to_first_frame": _percentiles(latency["all"]),
            "cold_start": _percentiles(latency["wake"]),
            "warm": _percentiles(latency["pir"]),
        },
        "energy": energy,
        "warm_windows": {
            "entered": c["warm_windows"],
            "hits": c["warm_window_hits"],
            "seconds": round(warm_s, 1),
            "wh": round(warm_wh, 4),
        },
        "supervisor": {
            "counters": sup_counts,
            "rail_cuts_under_running_pi": bench.rail_cuts_under_pi,
            "link_frames_garbled_on_the_wire": (
                sup.to_board.garbled + sup.to_pi.garbled if sup is not None else 0
            ),
        },
        "storage": {
            "bytes_written": bytes_written,
            "media_files": media_files,
            "evicted_files": evicted["files"],
            "evicted_bytes": evicted["bytes"],
            # the journal's own reports: history found lost, card paths refused, media of a
            # commit a power cut interrupted adopted at the next start
            "lost_history_records": integrity["lost"],
            "refused_card_paths": integrity["refused"],
            "adopted_media": integrity["adopted"],
            "cards": len(card.dirs),
            "events_buffered_then_moved": buffered,
            "free_fraction": round(card.free_bytes() / card.capacity_bytes(), 6)
            if card.present()
            else None,
        },
        "faults": {
            "injected": injected,
            "survived": survived,
            "injected_total": sum(injected.values()),
        },
        "data_loss": {"committed_media_missing": missing, "committed_media_corrupt": corrupt},
    }
