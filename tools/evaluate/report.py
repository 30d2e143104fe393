"""What an evaluation writes: verdicts.csv (one row per motion sequence), metrics.json and a
readable summary.md."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from device.triage import DECISIONS
from tools.evaluate.replay import SequenceResult

VERDICT_COLUMNS = (
    "dataset",
    "deployment",
    "sequence_id",
    "truth",
    "category",
    "frames",
    "day_night",
    "decision",
    "score",
    "reasons",
    "best_frame",
    "naive_score",
    "mog2_score",
    "triage_ms",
)


def _number(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}g}"


def verdict_row(result: SequenceResult) -> dict[str, str]:
    event, verdict = result.event, result.verdict
    return {
        "dataset": event.dataset,
        "deployment": event.deployment,
        "sequence_id": event.sequence_id,
        "truth": result.truth,
        "category": result.category,
        "frames": str(result.frames),
        "day_night": event.day_night,
        "decision": verdict.decision,
        "score": _number(verdict.score),
        "reasons": ";".join(verdict.reasons),
        "best_frame": "" if verdict.best_frame is None else str(verdict.best_frame),
        "naive_score": _number(result.naive_score),
        "mog2_score": _number(result.mog2_score),
        "triage_ms": f"{result.triage_ms:.2f}",
    }


def write_verdicts(path: Path, results: list[SequenceResult]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=VERDICT_COLUMNS)
        writer.writeheader()
        for result in results:
            writer.writerow(verdict_row(result))


def write_outputs(out_dir: Path, results: list[SequenceResult], metrics: dict[str, Any]) -> None:
    """verdicts.csv, metrics.json and summary.md in `out_dir` (made if needed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_verdicts(out_dir / "verdicts.csv", results)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    (out_dir / "summary.md").write_text(summary(metrics), encoding="utf-8")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _rates_table(title: str, groups: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        f"| {title} | animal seq. | recall | empty seq. | rejection | discard only |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in groups.items():
        lines.append(
            f"| {name} | {r['animal_sequences']} | {_pct(r['recall'])} "
            f"({r['animal_kept']} kept) | {r['empty_sequences']} | {_pct(r['rejection'])} "
            f"({r['empty_rejected']}) | {_pct(r['discard_rejection'])} |"
        )
    return lines


def _baseline_cell(point: dict[str, Any] | None, unit: str) -> str:
    if point is None:
        return "not reached"
    threshold = "∞" if point["threshold"] is None else f"{point['threshold']:.4g}{unit}"
    return f"{_pct(point['recall'])} / {_pct(point['rejection'])} (≥ {threshold})"


def summary(m: dict[str, Any]) -> str:
    """The summary as markdown."""
    o = m["overall"]
    lines = [
        f"# Triage evaluation: {m.get('labels', '')}",
        "",
        f"{m['sequences']} motion sequences ({m['burst_frames']} frames): "
        f"{m['evaluated_sequences']} evaluated, {m['apart_sequences']} apart; "
        f"{m['timelapse_frames']} time-lapse frames as background.",
        "",
        f"**Animal-event recall {_pct(o['recall'])}** ({o['animal_kept']}/{o['animal_sequences']})"
        f", **empty-event rejection {_pct(o['rejection'])}** "
        f"({o['empty_rejected']}/{o['empty_sequences']}; discard only "
        f"{_pct(o['discard_rejection'])}).",
        "",
    ]
    g = m["goal"]
    lines += [
        f"Goal: recall ≥ {_pct(g['recall_goal'])}: {_met(g['recall_met'])}; rejection ≥ "
        f"{_pct(g['rejection_goal'])}: {_met(g['rejection_met'])}; better recall than the "
        f"naive trigger at equal rejection: {_yes(g.get('beats_naive'))}, than MOG2: "
        f"{_yes(g.get('beats_mog2'))}.",
        "",
        "## Confusion (evaluated sequences)",
        "",
        "| truth | " + " | ".join(DECISIONS) + " |",
        "|---|" + "---:|" * len(DECISIONS),
    ]
    for truth, row in m["confusion"].items():
        lines.append(f"| {truth} | " + " | ".join(str(row[d]) for d in DECISIONS) + " |")
    lines += ["", "## Per dataset", "", *_rates_table("dataset", m["per_dataset"])]
    lines += ["", "## Per day/night", "", *_rates_table("light", m["per_day_night"])]
    lines += ["", "## Reported apart", ""]
    if m["apart"]:
        lines += [
            "| reason | sequences | frames | keep / thumbnail / discard |",
            "|---|---:|---:|---|",
        ]
        for reason, a in m["apart"].items():
            decisions = " / ".join(str(a["decisions"][d]) for d in DECISIONS)
            lines.append(f"| {reason} | {a['sequences']} | {a['frames']} | {decisions} |")
    else:
        lines.append("none")
    if m["unreadable_frames"]:
        failures = ", ".join(f"{k} {v}" for k, v in m["unreadable_frames"].items())
        lines += ["", f"Unreadable frames: {failures}."]
    lines += [
        "",
        "## Baselines (recall / rejection, evaluated sequences)",
        "",
        "| method | at triage's rejection | best recall + rejection | fps |",
        "|---|---|---|---:|",
        f"| triage | {_pct(o['recall'])} / {_pct(o['rejection'])} | – | "
        f"{_fps(m['speed'].get('triage'))} |",
    ]
    units = {"naive": " DN²", "mog2": ""}
    names = {"naive": "naive frame difference", "mog2": "OpenCV MOG2"}
    for name, b in m["baselines"].items():
        if "skipped" in b:
            lines.append(f"| {names[name]} | skipped: {b['skipped']} | | |")
            continue
        lines.append(
            f"| {names[name]} | {_baseline_cell(b['at_target'], units[name])} | "
            f"{_baseline_cell(b['best'], units[name])} | {_fps(m['speed'].get(name))} |"
        )
    lines += [
        "",
        "A baseline keeps a burst whose score is at or above the threshold; one it cannot score "
        "(a single frame with nothing before it) is kept. Frames per second count the judging "
        f"only (decoding took {m['decode_seconds']:.1f} s).",
    ]
    if m["reasons"]:
        reasons = ", ".join(f"{k} {v}" for k, v in m["reasons"].items())
        lines += ["", f"Triage's deciding reasons (evaluated): {reasons}."]
    return "\n".join(lines) + "\n"


def _met(value: bool | None) -> str:
    return "–" if value is None else ("met" if value else "not met")


def _fps(speed: dict[str, Any] | None) -> str:
    if not speed or speed["fps"] is None:
        return "–"
    return f"{speed['fps']:.0f}"


def _yes(value: bool | None) -> str:
    return "–" if value is None else ("yes" if value else "no")
