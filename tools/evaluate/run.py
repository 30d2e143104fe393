"""One evaluation from a labels CSV to its output folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from device.triage import TriageSettings
from tools.evaluate.labels import cameras, read_labels
from tools.evaluate.metrics import collect
from tools.evaluate.replay import replay
from tools.evaluate.report import write_outputs

# The real cameras burn a data bar (date, time, temperature, moon, logo) into the top and the
# bottom of every photo; the trap's own camera does not. Its digits change from frame to frame,
# which would read as motion, so evaluation ignores the top 7 % and the bottom 9 % by default.
DATA_BAR_MASKS: tuple[tuple[float, float, float, float], ...] = (
    (0.0, 0.0, 1.0, 0.07),
    (0.0, 0.91, 1.0, 1.0),
)


def evaluate(
    labels_csv: Path,
    images_root: Path,
    out_dir: Path,
    settings: TriageSettings,
    *,
    mog2: bool = True,
) -> dict[str, Any]:
    """Replay the labelled frames through triage and the baselines; write verdicts.csv,
    metrics.json and summary.md to `out_dir`; return the metrics.

    File paths in the CSV are relative to `images_root`. Raises LabelsError (a ValueError naming
    file, line and column) for a labels file that cannot be used."""
    rows = read_labels(labels_csv)
    run = replay(cameras(rows), images_root, settings, mog2=mog2)
    metrics = {
        "labels": str(labels_csv),
        "images_root": str(images_root),
        "masks": [list(mask) for mask in settings.masks],
        "triage_settings": {
            "keep_from": settings.keep_from,
            "discard_below": settings.discard_below,
            "audit_share": settings.audit_share,
            "background_frames": settings.background_frames,
        },
        **collect(run),
    }
    write_outputs(out_dir, run.sequences, metrics)
    return metrics
