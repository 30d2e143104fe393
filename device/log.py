"""Structured logs: one JSON object per line, stamped with the trap's Clock (virtual in the sim).

Modules log with `extra={"record": {...}}`; the formatter merges that dict into the line.
"""

from __future__ import annotations

import json
import logging
from typing import IO

from device.clock import Clock


class JsonLines(logging.Formatter):
    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "t": self.clock.now_local().isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **getattr(record, "record", {}),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(clock: Clock, stream: IO[str], level: int = logging.INFO) -> logging.Handler:
    """Send every `irbis.*` record to `stream` as JSON lines. Returns the handler (to remove)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines(clock))
    root = logging.getLogger("irbis")
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    return handler
