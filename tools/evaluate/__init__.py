"""`irbis eval`: triage replayed on labelled real frames, beside two baselines.

Modules, one job each: `labels` (reading a labels CSV, cameras, sequences and their truth),
`frames` (an image file to the trap's lores view), `baselines` (naive frame difference, MOG2),
`replay` (each camera's events in order through triage and the baselines), `metrics` (recall,
rejection, confusion, the baselines at equal rejection, speed), `report` (verdicts.csv,
metrics.json, summary.md) and `run` (`evaluate`, all of it for one CSV).
"""

from tools.evaluate.labels import LabelsError, cameras, read_labels
from tools.evaluate.run import DATA_BAR_MASKS, evaluate

__all__ = ["DATA_BAR_MASKS", "LabelsError", "cameras", "evaluate", "read_labels"]
