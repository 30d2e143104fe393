"""What every bench figure comes with: how many runs, min and median (p95 and max for a
distribution of many samples), wall time and CPU time side by side, and the host's load.

- `Timings` collects (wall, CPU) seconds per run; `measure()` times a with-block by
  `time.perf_counter` and `time.process_time` (CPU of the whole process: every thread);
  `add()` takes figures measured otherwise (a subprocess's CPU from `resource.getrusage` or
  /proc). `line()` prints them.
- `run_count(default)`: the number of runs, unless `--runs N` or IRBIS_BENCH_RUNS says otherwise.
- `suite(main)`: runs one bench module's `main`, printing the host's load before and after and
  how busy its CPUs were meanwhile (this bench, other processes, the hypervisor's steal), so a
  figure measured on a busy host says so.

Prints only; nothing here fails on a slow machine.
"""

from __future__ import annotations

import math
import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

RUNS_ENV = "IRBIS_BENCH_RUNS"
UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6}


def run_count(default: int) -> int:
    """`default`, or the run count given by `--runs N` / IRBIS_BENCH_RUNS (at least 1)."""
    value = os.environ.get(RUNS_ENV, "").strip()
    return max(1, int(value)) if value else default


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def fmt(value: float) -> str:
    """Three significant figures or so, with thousands separators: 1,281 / 97.4 / 2.71 / 0.118."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


class Timings:
    """Wall and CPU seconds of the runs (or samples) of one figure."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []  # empty when CPU time could not be read

    @property
    def n(self) -> int:
        return len(self.wall)

    def add(self, wall_s: float, cpu_s: float | None = None) -> None:
        self.wall.append(wall_s)
        if cpu_s is not None:
            self.cpu.append(cpu_s)

    @contextmanager
    def measure(self) -> Iterator[None]:
        """Time the with-block: wall by perf_counter, CPU of this whole process (all threads)."""
        wall0, cpu0 = time.perf_counter(), time.process_time()
        yield
        self.add(time.perf_counter() - wall0, time.process_time() - cpu0)

    def _figures(self, values: list[float], tails: bool) -> dict[str, float]:
        out = {"min": min(values), "median": median(values)}
        if tails:
            out["p95"] = percentile(values, 0.95)
            if len(values) >= 100:
                out["p99"] = percentile(values, 0.99)
            out["max"] = max(values)
        return out

    def line(self, unit: str = "ms", tails: bool = False) -> str:
        """`n=5  wall min 12.3 / median 13.0 ms  CPU min 10.1 / median 10.5 ms`; with `tails`
        p95 (p99 from 100 samples) and max too, for distributions of many samples."""
        if not self.wall:
            return "n=0 (nothing measured)"
        scale = UNITS[unit]
        parts = [f"n={self.n}"]
        for name, values in (("wall", self.wall), ("CPU", self.cpu)):
            if not values:
                parts.append(f"{name} n/a")
                continue
            if len(values) == 1:
                parts.append(f"{name} {fmt(values[0] * scale)} {unit}")
                continue
            figures = self._figures(values, tails)
            parts.append(
                f"{name} "
                + " / ".join(f"{k} {fmt(v * scale)}" for k, v in figures.items())
                + f" {unit}"
            )
        return "  ".join(parts)

    def rate_line(self, count: float, what: str) -> str:
        """`count` things per run as a rate: at the fastest (min) and the median run, by wall
        and by CPU time."""
        parts = [f"n={self.n}"]
        for name, values in (("wall", self.wall), ("CPU", self.cpu)):
            if len(values) == 1 and values[0] > 0:
                parts.append(f"{name}: {fmt(count / values[0])} {what}")
            elif values and min(values) > 0:
                best, mid = count / min(values), count / median(values)
                parts.append(f"{name}: best {fmt(best)} / median {fmt(mid)} {what}")
            else:
                parts.append(f"{name} n/a")
        return "  ".join(parts)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def repeat(run: Callable[[], object], runs: int, warmup: int = 0) -> Timings:
    """Run `run` `warmup` times untimed, then `runs` times timed."""
    for _ in range(warmup):
        run()
    timings = Timings()
    for _ in range(runs):
        with timings.measure():
            run()
    return timings


def children_cpu_s() -> float:
    """CPU seconds (user + system) of this process's waited-for children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds so far of a running process (all its threads), read from /proc: per-thread
    schedstat (nanoseconds) where the kernel has it, else /proc/<pid>/stat (clock ticks,
    threads that already ended included). None where there is no /proc."""
    try:
        total_ns = 0
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total_ns += int(f.read().split()[0])
        if total_ns:
            return total_ns / 1e9
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class _CpuTicks:
    busy: int  # user nice system irq softirq (guest time is inside user)
    idle: int  # idle iowait
    steal: int


def _cpu_ticks() -> _CpuTicks | None:
    """The host's CPU tick counters from /proc/stat (None where there is none)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    fields += [0] * (8 - len(fields))
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    return _CpuTicks(user + nice + system + irq + softirq, idle + iowait, steal)


def cpu_model() -> str:
    """The processor's name and clock from /proc/cpuinfo, else what `platform` knows."""
    name = mhz = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and not name:
                    name = value.strip()
                elif key.strip() == "cpu MHz" and not mhz:
                    mhz = f" at {float(value):.0f} MHz"
    except (OSError, ValueError):
        pass
    return (name + mhz) if name else platform.processor() or platform.machine()


def load_line() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average n/a"
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min)"


class HostWatch:
    """The host's load when a bench starts and ends, and how its CPUs were used meanwhile."""

    def __init__(self) -> None:
        self.wall0 = time.perf_counter()
        self.own0 = time.process_time() + children_cpu_s()
        self.ticks0 = _cpu_ticks()

    def start_line(self) -> str:
        return f"host at start: {load_line()}; {os.cpu_count()} CPUs"

    def end_line(self) -> str:
        wall = time.perf_counter() - self.wall0
        own = time.process_time() + children_cpu_s() - self.own0
        line = f"host at end: {load_line()}; took {wall:.1f} s wall, {own:.1f} s CPU"
        ticks = _cpu_ticks()
        if self.ticks0 is None or ticks is None:
            return line
        busy = ticks.busy - self.ticks0.busy
        idle = ticks.idle - self.ticks0.idle
        steal = ticks.steal - self.ticks0.steal
        total = busy + idle + steal
        if total <= 0:
            return line
        hz = os.sysconf("SC_CLK_TCK")
        cpus = os.cpu_count() or 1
        capacity_s = total / hz  # CPU seconds the host's CPUs had while the bench ran
        others = max(0.0, busy / hz - own)
        return (
            f"{line}\n  host's {cpus} CPUs meanwhile: {100 * own / capacity_s:.0f} % this bench, "
            f"{100 * others / capacity_s:.0f} % other processes, "
            f"{100 * steal / total:.0f} % stolen by the hypervisor, "
            f"{100 * idle / total:.0f} % idle"
        )


def parse_runs(argv: list[str]) -> list[str]:
    """Take `--runs N` out of `argv` (into IRBIS_BENCH_RUNS); returns the rest."""
    rest, it = [], iter(argv)
    for arg in it:
        if arg == "--runs" or arg.startswith("--runs="):
            value = arg.partition("=")[2] or next(it, "")
            if not value.isdigit() or int(value) < 1:
                raise SystemExit(f"--runs needs a whole number >= 1, not {value!r}")
            os.environ[RUNS_ENV] = value
        else:
            rest.append(arg)
    return rest


def suite(main: Callable[[], None]) -> None:
    """Run a bench module's `main` (`python -m bench.<module> [--runs N]`) between two lines on
    the host's load."""
    parse_runs(sys.argv[1:])
    watch = HostWatch()
    print(f"  {watch.start_line()}", flush=True)
    main()
    print(f"  {watch.end_line()}", flush=True)
