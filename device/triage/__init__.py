"""Triage on the device: per event, from the low-resolution frames and a background of the same
light, a score in [0, 1], a decision (keep, thumbnail only, discard), machine-readable reasons
and the best frame for identification.

Modules, one job each: `verdict` (the settings and the verdict), `quality` (black, overexposed,
blurred, hazy), `background` (the bank of empty frames per light, persisted between boots),
`evidence` (differencing against a noise estimate, regions, persistence), `engine` (the rules
that turn evidence into a decision). numpy is imported here, so the trap imports this package
only when the first event needs it (start-to-armed stays fast).
"""

from device.triage.background import BackgroundBank
from device.triage.engine import Triage
from device.triage.verdict import DECISIONS, TriageSettings, Verdict

__all__ = ["DECISIONS", "BackgroundBank", "Triage", "TriageSettings", "Verdict"]
