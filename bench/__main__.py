"""`make bench`: speed figures. Prints; never fails on a slow machine.

    python -m bench [name ...] [--runs N]

Each suite runs in a fresh process of its own (`python -m bench.<module>`), so a figure is the
same whether its suite runs alone or after the others (no numpy thread pool, heap or thread
left over from an earlier suite). `name` picks suites by part of their module name (`triage`,
`sim`, `storage`); `--runs N` (or IRBIS_BENCH_RUNS=N) sets every suite's number of runs.
Every figure says how many runs, their min and median (p95 and max for distributions), wall
and CPU time; every suite prints the host's load when it starts and ends.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time

from bench.stats import RUNS_ENV, cpu_model, load_line, parse_runs

SUITES = [
    "bench.sim_speed",
    "bench.trigger_latency",
    "bench.start_to_armed",
    "bench.render_bench",
    "bench.storage_bench",
    "bench.triage_bench",
]


def main() -> int:
    only = parse_runs(sys.argv[1:])
    chosen = [s for s in SUITES if not only or any(o in s for o in only)]
    if not chosen:
        print(f"no suite matches {only}; suites: {', '.join(SUITES)}")
        return 0
    runs = os.environ.get(RUNS_ENV)
    counts = f"{runs} (--runs / {RUNS_ENV})" if runs else "each suite's default"
    print(
        f"bench: {cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"runs per figure: {counts}; {load_line()}",
        flush=True,
    )
    start = time.perf_counter()
    for name in chosen:
        print(f"\n== {name} ==", flush=True)
        try:
            # one broken suite must not hide the others' figures
            code = subprocess.call([sys.executable, "-m", name])
        except OSError as exc:
            code = f"{type(exc).__name__}: {exc}"
        if code:
            print(f"  {name} failed ({code})", flush=True)
    print(f"\nbench: {time.perf_counter() - start:.0f} s in all; {load_line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
