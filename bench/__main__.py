"""`make bench`: speed figures. Prints; never fails on a slow machine."""

from __future__ import annotations

import importlib
import sys

SUITES = [
    "bench.sim_speed",
    "bench.trigger_latency",
    "bench.start_to_armed",
    "bench.render_bench",
    "bench.storage_bench",
    "bench.triage_bench",
]


def main() -> int:
    only = sys.argv[1:]
    for name in SUITES:
        if only and not any(o in name for o in only):
            continue
        print(f"\n== {name} ==", flush=True)
        try:
            importlib.import_module(name).main()
        except Exception as exc:  # one broken bench must not hide the others' figures
            print(f"  {name} failed: {type(exc).__name__}: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
