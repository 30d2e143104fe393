"""A short human summary of a run's metrics."""

from __future__ import annotations

from typing import Any


def summary(m: dict[str, Any]) -> str:
    gt, ev, tr, en = m["ground_truth"], m["events"], m["triggers"], m["energy"]
    lat = m["latency_s"]["trigger_to_first_frame"]
    cold = m["latency_s"]["cold_start"]
    st, loss = m["storage"], m["data_loss"]
    ww, sup = m["warm_windows"], m["supervisor"]["counters"]
    lines = [
        f"irbis simulation: {m['scenario']} (seed {m['seed']}), {m['simulated_days']:g} days, "
        f"{m['mode']} mode, {m['wall_s']:.1f} s wall",
        f"  triggers: {tr['pir_rising_edges']} PIR edges, {tr['seen_by_trap']} seen by the trap, "
        f"{tr['retriggers_during_event']} during events, {tr['retriggers_during_hold_off']} "
        f"during hold-off, {tr['while_booting']} while booting; {m['boots']} boots",
        f"  events: {ev['captured']} captured, on the card now {ev['kept']} whole, "
        f"{ev['thumbnail_only']} as a thumbnail, {ev['partial']} partial, {ev['discarded']} "
        f"without media; {ev['capture_failed']} capture failures, "
        f"{tr['timelapse_shots']} time-lapse shots",
        f"  animals: {gt['animal_events']} passes, {gt['animal_events_pir_seen']} seen by the "
        f"PIR, {gt['animal_events_captured']} captured, {gt['animal_events_kept']} kept whole; "
        f"snow leopards "
        f"{gt['snow_leopard_events_kept']}/{gt['snow_leopard_events']}",
        f"  false triggers: {gt['false_events']} empty events, "
        f"{gt['false_events_discarded']} of them judged empty (discard) by triage",
        *_triage_lines(m["triage"]),
        f"  latency trigger->first frame: p50 {_s(lat['p50'])}, p95 {_s(lat['p95'])}, "
        f"max {_s(lat['max'])} (cold starts p50 {_s(cold['p50'])})",
        f"  energy: {en['consumed_wh']:.2f} Wh of {en['pack_wh_start']:.1f} Wh usable "
        f"({en['pack']}; {en['remaining_fraction']:.0%} left, ~{en['projected_days']} more days "
        f"at this rate{_exhausted(en)})",
        "    by state: " + ", ".join(f"{k} {v:.2f}" for k, v in en["consumed_wh_by_state"].items()),
        f"  warm windows: {ww['entered']} entered, {ww['hits']} caught a trigger, "
        f"{ww['seconds']:.0f} s up, {ww['wh']:.2f} Wh",
        "  supervisor: "
        + (", ".join(f"{k} {v}" for k, v in sorted(sup.items()) if v) or "nothing to report"),
        f"  card: {st['media_files']} media, {st['bytes_written'] / 1e6:.1f} MB, "
        f"{st['free_fraction']:.1%} free; faults injected {m['faults']['injected_total']}, "
        f"survived {m['faults']['survived']}; lost {loss['committed_media_missing']} missing, "
        f"{loss['committed_media_corrupt']} corrupt",
    ]
    return "\n".join(lines)


def _triage_lines(t: dict[str, Any]) -> list[str]:
    """Triage's decisions against the truth: animals kept, empty events thrown away."""
    return [
        f"  triage ({t['judged_events']} events judged): animal events {_kts(t['animal_events'])}"
        f" ({t['animal_events_missed']} missed: {t['animal_passes_not_kept']} passes with no "
        f"kept event, {t['snow_leopard_passes_not_kept']} snow leopards)",
        f"    empty events {_kts(t['false_events'])}; by cause: "
        + (", ".join(f"{k} {_kts(v)}" for k, v in t["false_events_by_cause"].items()) or "none"),
        f"    {t['audit_thumbnails']} audit thumbnails of {t['audited_discards']} audited "
        f"discards, {t['thumbnail_errors']} thumbnail errors; time-lapse {_kts(t['timelapse'])}",
    ]


def _kts(by_decision: dict[str, int]) -> str:
    """keep/thumbnail/discard counts as 'k kept / t thumbnail / d discarded'."""
    return (
        f"{by_decision.get('keep', 0)} kept / {by_decision.get('thumbnail', 0)} thumbnail / "
        f"{by_decision.get('discard', 0)} discarded"
    )


def _exhausted(en: dict[str, Any]) -> str:
    day = en.get("exhausted_day")
    return "" if day is None else f"; too low to boot from day {day:g}"


def _s(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f} s"
