"""Loading and listing speed: what `scheduler check` and `scheduler next` cost.

Prints, on this machine:
  * seconds to load and validate a 10,000-job schedule (in process, best of 3);
  * seconds for `scheduler next --count 5` over it (a whole process, best of 3);
  * wall time of `scheduler check` on schedule.example.yml (process start included,
    median of 10);
  * wall time and max RSS of `scheduler check` on a 100,000-job schedule (the whole
    process, best of 3; the RSS is the kernel's, as `/usr/bin/time -v` reports it).
Targets: load + next 5 for 10,000 jobs under 2 s; check on the example under 0.3 s;
check on 100,000 jobs under 5 s and 250 MiB.

Run: .venv/bin/python bench/next_times.py [--jobs 10000] [--big-jobs 100000]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scheduler.schedule.loader import load_schedule

ROOT = Path(__file__).resolve().parent.parent
SCHEDULER = str(Path(sys.executable).parent / "scheduler")
ZONES = ["UTC", "Europe/Madrid", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]
RULES = [
    "every: {n}m",
    'cron: "{m} {h} * * *"',
    'cron: "{m} 9 * * MON-FRI"',
    'cron: "*/{s} * * * *"',
    'cron: "0 {m} {h} L * *"',
    'monthly: {{day: [1, -1], at: ["{h:02}:{m:02}"]}}',
    'monthly: {{weekday: TUE, nth: 2, at: "{h:02}:{m:02}"}}',
]


def write_schedule(path: Path, jobs: int) -> None:
    rng = random.Random(42)
    lines = ["timezone: Europe/Madrid", "defaults:", "  queue: default", "jobs:"]
    for i in range(jobs):
        rule = rng.choice(RULES).format(
            n=rng.randint(1, 120), m=rng.randint(0, 59), h=rng.randint(0, 23), s=rng.randint(2, 30)
        )
        lines += [
            f"  job-{i}:",
            f"    task: app.tasks:job_{i % 50}",
            f"    {rule}",
            f"    timezone: {rng.choice(ZONES)}",
            f"    args: [{i}]",
        ]
    path.write_text("\n".join(lines) + "\n")


def best_of(runs: int, action: object) -> float:
    assert callable(action)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def run(*args: str) -> None:
    subprocess.run([SCHEDULER, *args], check=True, stdout=subprocess.DEVNULL, cwd=ROOT)


def measured_check(path: Path) -> tuple[float, float]:
    """Wall seconds and max RSS (MiB) of one `scheduler check` process."""
    start = time.perf_counter()
    child = subprocess.Popen([SCHEDULER, "check", str(path)], stdout=subprocess.DEVNULL, cwd=ROOT)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"scheduler check {path} exited {code}")
    return wall, usage.ru_maxrss / 1024


def big_check(jobs: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.yml"
        write_schedule(path, jobs)
        size = path.stat().st_size / 1e6
        runs = [measured_check(path) for _ in range(rounds)]
    wall = min(run[0] for run in runs)
    rss = max(run[1] for run in runs)
    print(f"`scheduler check` on {jobs} jobs ({size:.1f} MB), best of {rounds}:")
    print(f"  wall {wall:6.2f} s   target < 5 s    (all: {', '.join(f'{r[0]:.2f}' for r in runs)})")
    print(f"  max RSS {rss:4.0f} MiB   target < 250 MiB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--big-jobs", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only-big", action="store_true", help="measure only the big check")
    options = parser.parse_args()
    big_check(options.big_jobs, options.rounds)
    if options.only_big:
        return
    jobs = options.jobs
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.yml"
        write_schedule(path, jobs)
        size = path.stat().st_size / 1e6
        load = best_of(3, lambda: load_schedule(path))
        listing = best_of(3, lambda: run("next", str(path), "--count", "5"))
        listing_json = best_of(3, lambda: run("next", str(path), "--count", "5", "--json"))
    example = str(ROOT / "schedule.example.yml")
    checks = []
    for _ in range(10):
        start = time.perf_counter()
        run("check", example)
        checks.append(time.perf_counter() - start)
    check = statistics.median(checks)
    print(f"schedule of {jobs} jobs ({size:.1f} MB)")
    print(f"  load + validate, in process:             {load:6.3f} s")
    print(f"  `scheduler next --count 5` (process):    {listing:6.3f} s   target < 2 s")
    print(f"  `scheduler next --count 5 --json`:       {listing_json:6.3f} s")
    print(
        f"`scheduler check schedule.example.yml`:    {check:6.3f} s   target < 0.3 s (median of 10)"
    )


if __name__ == "__main__":
    main()
