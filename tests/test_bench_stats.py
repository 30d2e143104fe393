"""The bench harness's shared statistics (bench/stats.py): what every figure prints."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bench import stats


def test_line_has_runs_min_median_wall_and_cpu():
    timings = stats.Timings()
    for wall, cpu in ((0.010, 0.008), (0.030, 0.009), (0.020, 0.007)):
        timings.add(wall, cpu)
    line = timings.line("ms")
    assert line == "n=3  wall min 10.0 / median 20.0 ms  CPU min 7.00 / median 8.00 ms"


def test_tails_for_distributions():
    timings = stats.Timings()
    for i in range(1, 201):  # 1..200 ms
        timings.add(i / 1000, i / 2000)
    line = timings.line("ms", tails=True)
    assert "wall min 1.00 / median 100 / p95 190 / p99 198 / max 200 ms" in line
    assert "CPU min 0.500 / median 50.2 / p95 95.0 / p99 99.0 / max 100 ms" in line


def test_one_run_and_missing_cpu():
    timings = stats.Timings()
    timings.add(2.5)
    assert timings.line("s") == "n=1  wall 2.50 s  CPU n/a"
    assert stats.Timings().line() == "n=0 (nothing measured)"


def test_rates_best_and_median():
    timings = stats.Timings()
    for wall in (1.0, 2.0, 4.0):
        timings.add(wall, wall / 2)
    line = timings.rate_line(90, "days/s")
    assert line == "n=3  wall: best 90.0 / median 45.0 days/s  CPU: best 180 / median 90.0 days/s"


def test_measure_counts_cpu_of_every_thread():
    import threading

    def spin():
        end = time.thread_time() + 0.05
        while time.thread_time() < end:
            pass

    timings = stats.Timings()
    with timings.measure():
        worker = threading.Thread(target=spin)
        worker.start()
        worker.join()
    assert timings.cpu[0] >= 0.04


def test_run_count_and_parse_runs(monkeypatch):
    monkeypatch.delenv(stats.RUNS_ENV, raising=False)
    assert stats.run_count(7) == 7
    assert stats.parse_runs(["triage", "--runs", "2"]) == ["triage"]
    assert stats.run_count(7) == 2
    assert stats.parse_runs(["--runs=4"]) == []
    assert os.environ[stats.RUNS_ENV] == "4"
    with pytest.raises(SystemExit):
        stats.parse_runs(["--runs", "zero"])


def test_process_cpu_of_a_running_child():
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nt = time.process_time()\n"
            "while time.process_time() - t < 0.2: pass\nprint('spun', flush=True)\n"
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "spun"
        cpu = stats.process_cpu_s(child.pid)
    finally:
        child.communicate("")
    if cpu is None:
        pytest.skip("no /proc here")
    assert 0.15 <= cpu < 5


def test_host_lines():
    watch = stats.HostWatch()
    assert "load average" in watch.start_line()
    assert "took" in watch.end_line()
