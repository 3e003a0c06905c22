"""Log lines from job threads: our handler against the standard library's queue handler.

A worker logs two lines per job from each of its job threads. This prints, for the
handler ``configure_logging`` installs and for ``logging.handlers.QueueHandler`` with a
``QueueListener`` writing through a ``StreamHandler`` (the standard library's way to log
from many threads without waiting on a stream), how many lines per second ten threads
log and how much CPU each line costs, all of them written to /dev/null. Each variant runs
in a process of its own, alternating, --rounds times; figures are medians.

Run: .venv/bin/python bench/log_handlers.py [--lines 40000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from logging.handlers import QueueHandler, QueueListener
from queue import SimpleQueue

from scheduler.cli.logs import TextFormatter, configure_logging

THREADS = 10
VARIANTS = ("ours", "stdlib")


def stdlib_logging() -> Callable[[], None]:
    """QueueHandler in the logging threads, a QueueListener writing each line to stderr;
    returns what writes the lines still queued."""
    configure_logging("info")  # the same records (fields no format shows left out) ...
    root = logging.getLogger()
    for ours in root.handlers:
        ours.close()
    records: SimpleQueue[logging.LogRecord] = SimpleQueue()
    handler = QueueHandler(records)
    handler.setFormatter(TextFormatter())
    listener = QueueListener(records, logging.StreamHandler(sys.stderr))
    listener.start()
    root.handlers[:] = [handler]  # ... through the other handler
    return listener.stop


def our_logging() -> Callable[[], None]:
    """What the CLI sets up; returns what writes the lines still queued."""
    configure_logging("info")
    return logging.shutdown


def measure(variant: str, lines: int) -> tuple[float, float]:
    """(lines/s until every line is written, CPU µs per line) in this process."""
    finish = our_logging() if variant == "ours" else stdlib_logging()
    log = logging.getLogger("scheduler.worker.worker")
    job_id, task = "5cd665d16d7f7d958826bf374fab4d74", "tasks_ours:noop"

    def job_thread() -> None:
        for _ in range(lines // THREADS // 2):
            log.info("job started id=%s task=%s queue=%s", job_id, task, "default")
            log.info("job succeeded id=%s task=%s duration=%.3fs", job_id, task, 0.0001)

    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    threads = [threading.Thread(target=job_thread) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    finish()
    elapsed, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return lines / elapsed, cpu / lines * 1e6


def run(variant: str, lines: int) -> tuple[float, float]:
    """``measure`` in a process of its own, its log lines sent to /dev/null."""
    command = [sys.executable, __file__, "--variant", variant, "--lines", str(lines)]
    with open(os.devnull, "w") as null:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=null, check=True)
    rate, cpu = (float(x) for x in done.stdout.split())
    return rate, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.variant:
        rate, cpu = measure(options.variant, options.lines)
        print(f"{rate} {cpu}")
        return
    results: dict[str, list[tuple[float, float]]] = {v: [] for v in VARIANTS}
    for _ in range(options.rounds):
        for variant in VARIANTS:
            results[variant].append(run(variant, options.lines))
    print(f"{options.lines:,} log lines from {THREADS} threads, median of {options.rounds}")
    print(f"{'handler':<40} {'lines/s':>9} {'CPU µs/line':>12}  (each round)")
    labels = {"ours": "ours (configure_logging)", "stdlib": "QueueHandler + QueueListener"}
    for variant, label in labels.items():
        rates, cpus = [r for r, _ in results[variant]], [c for _, c in results[variant]]
        each = ", ".join(f"{r:,.0f}" for r in rates)
        rate, cpu = statistics.median(rates), statistics.median(cpus)
        print(f"{label:<40} {rate:>9,.0f} {cpu:>12.1f}  ({each})")


if __name__ == "__main__":
    main()
