"""Loading and listing speed: what `scheduler check` and `scheduler next` cost.

Prints, on this machine:
  * seconds to load and validate a 10,000-job schedule (in process, best of 3);
  * seconds for `scheduler next --count 5` over it (a whole process, best of 3);
  * wall time of `scheduler check` on schedule.example.yml (process start included,
    median of 10).
Targets (issue 2): load + next 5 for 10,000 jobs under 2 s; check on the example under 0.3 s.

Run: .venv/bin/python bench/next_times.py [--jobs 10000]
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=10_000)
    jobs = parser.parse_args().jobs
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
