"""The figures of an evaluation: recall, rejection, confusion, the baselines compared, speed.

Animal-event recall: the share of evaluated animal sequences that triage keeps. Empty-event
rejection: the share of evaluated empty sequences it does not keep (thumbnail or discard);
discard-only rejection counts discards alone.

A baseline keeps a burst when its score is at or above a threshold (a burst it cannot score is
kept). It is compared with triage at equal rejection: the smallest threshold at which it rejects
at least the share of empty sequences that triage rejects, and its recall there; and at the
threshold that makes its recall plus rejection largest.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from device.triage import DECISIONS
from tools.evaluate.replay import EVALUATED, Replay, SequenceResult

RECALL_GOAL = 0.98
REJECTION_GOAL = 0.5
BASELINES = ("naive", "mog2")


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def rates(results: Iterable[SequenceResult]) -> dict[str, Any]:
    """Recall and rejection of triage on the evaluated sequences among `results`."""
    animals = empties = kept = rejected = discarded = 0
    for r in results:
        if r.category != EVALUATED:
            continue
        decision = r.verdict.decision
        if r.truth == "animal":
            animals += 1
            kept += decision == "keep"
        else:
            empties += 1
            rejected += decision != "keep"
            discarded += decision == "discard"
    return {
        "animal_sequences": animals,
        "animal_kept": kept,
        "recall": _share(kept, animals),
        "empty_sequences": empties,
        "empty_rejected": rejected,
        "rejection": _share(rejected, empties),
        "empty_discarded": discarded,
        "discard_rejection": _share(discarded, empties),
    }


def _at(threshold: float, animal: Sequence[float], empty: Sequence[float]) -> dict[str, Any]:
    kept = sum(s >= threshold for s in animal)
    rejected = sum(s < threshold for s in empty)
    return {
        "threshold": threshold if math.isfinite(threshold) else None,
        "recall": _share(kept, len(animal)),
        "rejection": _share(rejected, len(empty)),
    }


def sweep(
    animal_scores: Sequence[float | None],
    empty_scores: Sequence[float | None],
    target_rejection: float | None,
) -> dict[str, Any]:
    """A baseline's recall at the target rejection and at its best recall + rejection.

    A score of None (nothing to compare with) is kept at any threshold. `at_target` is None when
    no threshold reaches the target (then `most_rejection` says how far it gets)."""
    animal = [math.inf if s is None else s for s in animal_scores]
    empty = [math.inf if s is None else s for s in empty_scores]
    finite = sorted({s for s in animal + empty if math.isfinite(s)})
    candidates = [*finite, math.inf]  # keep-if-score-at-or-above thresholds, rising rejection
    points = [_at(t, animal, empty) for t in candidates]
    at_target = None
    if target_rejection is not None and empty:
        for point in points:
            if point["rejection"] is not None and point["rejection"] >= target_rejection - 1e-12:
                at_target = point
                break
    best = max(points, key=lambda p: (p["recall"] or 0.0) + (p["rejection"] or 0.0))
    return {
        "scored_sequences": sum(math.isfinite(s) for s in animal + empty),
        "unscored_sequences": sum(not math.isfinite(s) for s in animal + empty),
        "target_rejection": target_rejection,
        "at_target": at_target,
        "most_rejection": points[-1],
        "best": best,
    }


def confusion(results: Iterable[SequenceResult]) -> dict[str, dict[str, int]]:
    """Evaluated sequences: truth × decision counts."""
    table: dict[str, dict[str, int]] = {t: dict.fromkeys(DECISIONS, 0) for t in ("animal", "empty")}
    for r in results:
        if r.category == EVALUATED:
            table[r.truth][r.verdict.decision] += 1
    return table


def apart(results: Iterable[SequenceResult]) -> dict[str, dict[str, Any]]:
    """Sequences reported apart, by reason: counts of sequences and frames, and decisions."""
    out: dict[str, dict[str, Any]] = {}
    for r in results:
        if r.category == EVALUATED:
            continue
        entry = out.setdefault(
            r.category, {"sequences": 0, "frames": 0, "decisions": dict.fromkeys(DECISIONS, 0)}
        )
        entry["sequences"] += 1
        entry["frames"] += r.frames
        entry["decisions"][r.verdict.decision] += 1
    return dict(sorted(out.items()))


def collect(run: Replay) -> dict[str, Any]:
    """All figures of one replay, plain JSON."""
    results = run.sequences
    overall = rates(results)
    per_dataset: dict[str, list[SequenceResult]] = defaultdict(list)
    per_light: dict[str, list[SequenceResult]] = defaultdict(list)
    for r in results:
        per_dataset[r.event.dataset].append(r)
        per_light[r.event.day_night].append(r)
    evaluated = [r for r in results if r.category == EVALUATED]
    baselines: dict[str, Any] = {}
    for name in BASELINES:
        if name == "mog2" and run.mog2_skipped is not None:
            baselines[name] = {"skipped": run.mog2_skipped}
            continue
        scores = {
            t: [getattr(r, f"{name}_score") for r in evaluated if r.truth == t]
            for t in ("animal", "empty")
        }
        baselines[name] = sweep(scores["animal"], scores["empty"], overall["rejection"])
    speed = {
        name: {
            "frames": judge.frames,
            "seconds": round(judge.seconds, 4),
            "fps": None if judge.fps is None else round(judge.fps, 1),
        }
        for name, judge in run.timing.items()
        if not (name == "mog2" and run.mog2_skipped is not None)
    }
    return {
        "sequences": len(results),
        "evaluated_sequences": len(evaluated),
        "apart_sequences": len(results) - len(evaluated),
        "timelapse_frames": run.timelapse_frames,
        "burst_frames": sum(r.frames for r in results),
        "unreadable_frames": dict(sorted(run.decode_failures.items())),
        "decode_seconds": round(run.decode_seconds, 3),
        "overall": overall,
        "per_dataset": {k: rates(v) for k, v in sorted(per_dataset.items())},
        "per_day_night": {k: rates(v) for k, v in sorted(per_light.items())},
        "confusion": confusion(results),
        "apart": apart(results),
        "baselines": baselines,
        "speed": speed,
        "goal": goal(overall, baselines),
        "reasons": dict(Counter(x for r in evaluated for x in r.verdict.reasons[:1]).most_common()),
    }


def goal(overall: dict[str, Any], baselines: dict[str, Any]) -> dict[str, Any]:
    """The goal, measured: recall >= 0.98, rejection >= 0.5, better recall than each baseline
    at equal rejection (None where a figure is missing)."""
    recall, rejection = overall["recall"], overall["rejection"]
    out: dict[str, Any] = {
        "recall_goal": RECALL_GOAL,
        "rejection_goal": REJECTION_GOAL,
        "recall_met": None if recall is None else recall >= RECALL_GOAL,
        "rejection_met": None if rejection is None else rejection >= REJECTION_GOAL,
    }
    for name, figures in baselines.items():
        at_target = figures.get("at_target")
        if recall is None or "skipped" in figures:
            out[f"beats_{name}"] = None
        elif at_target is None:  # the baseline never rejects as much as triage
            out[f"beats_{name}"] = True
        else:
            out[f"beats_{name}"] = recall > (at_target["recall"] or 0.0)
    return out
