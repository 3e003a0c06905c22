"""The per-job cost of unique jobs and result_ttl: no-op jobs enqueued and drained, plain and
with each option, by one worker process.

For --jobs (20,000) no-op jobs per variant, prints enqueue jobs/s (one call per job) and,
for `scheduler worker --burst` at its default concurrency, drain jobs/s and the worker's
CPU time per job (user + system), each less what a worker on an empty queue takes to
start and stop. CPU time is the figure a busy machine disturbs least. Variants:
  plain       enqueue("tasks_ours:noop")
  unique      key="job-<n>", unique_for=600 (every key free: each job is enqueued)
  result_ttl  result_ttl=600 (a record per job, its status written at start and end)
  both        key=, unique_for= and result_ttl=
With --rounds R each figure is the median of R rounds, the variants interleaved.

Run: .venv/bin/python bench/job_options.py [--jobs 20000] [--rounds 3] [--variants ...]
It uses the interpreter it runs with (the project's .venv) and starts its own
redis-server on a free loopback port. Another checkout's code is measured with
PYTHONPATH=<that checkout> (its worker gets it too), e.g. to compare `plain` before a change.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis

from scheduler.cli.dev import EmbeddedRedis, find_redis_server
from scheduler.queue import Queue

BENCH = Path(__file__).resolve().parent
VARIANTS: dict[str, dict[str, Any]] = {
    "plain": {},
    "unique": {"unique_for": 600},
    "result_ttl": {"result_ttl": 600},
    "both": {"unique_for": 600, "result_ttl": 600},
}


def enqueue(queue: Queue, jobs: int, variant: str) -> float:
    """Enqueue ``jobs`` no-ops one call at a time; jobs per second."""
    options = VARIANTS[variant]
    unique = "unique_for" in options
    start = time.perf_counter()
    for n in range(jobs):
        if unique:
            queue.enqueue("tasks_ours:noop", key=f"job-{n}", **options)
        else:
            queue.enqueue("tasks_ours:noop", **options)
    return jobs / (time.perf_counter() - start)


def burst(url: str) -> tuple[float, float]:
    """Run `scheduler worker --burst` until the queue is dry: (wall s, CPU s)."""
    path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(BENCH)) if p)
    command = [sys.executable, "-m", "scheduler", "worker", "--allow", "tasks_ours", "--burst"]
    command += ["--redis", url, "--namespace", "bench"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        command,
        cwd=BENCH,
        env={**os.environ, "PYTHONPATH": path},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def one_round(url: str, admin: redis.Redis, jobs: int, variants: list[str]) -> dict[str, float]:
    """Every variant once, after an empty-queue start-up for the baseline."""
    idle_wall, idle_cpu = burst(url)
    figures: dict[str, float] = {}
    with Queue.from_url(url, "bench") as queue:
        for variant in variants:
            admin.flushall()
            figures[f"{variant} enqueue"] = enqueue(queue, jobs, variant)
            wall, cpu = burst(url)
            if queue.depth() or queue.dead_count():
                raise SystemExit(f"{variant}: the worker left jobs behind")
            figures[f"{variant} drain"] = jobs / max(wall - idle_wall, 1e-9)
            figures[f"{variant} cpu"] = (cpu - idle_cpu) / jobs * 1e6
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    options = parser.parse_args()
    variants = [v for v in options.variants.split(",") if v]
    sys.path.insert(0, str(BENCH))
    workdir = BENCH / "out" / "redis-options"
    workdir.mkdir(parents=True, exist_ok=True)
    binary = find_redis_server()
    if binary is None:
        raise SystemExit("no redis-server found")
    server = EmbeddedRedis(binary, workdir)
    server.start()
    try:
        admin = redis.Redis.from_url(server.url)
        rounds = [
            one_round(server.url, admin, options.jobs, variants) for _ in range(options.rounds)
        ]
    finally:
        server.stop(kill=True)
    print(f"{options.jobs:,} no-op jobs per variant; median of {options.rounds} round(s)")
    print(f"{'variant':<12} {'enqueue/s':>10} {'drain/s':>10} {'worker CPU/job':>15}")
    for variant in variants:
        enq, drain, cpu = (
            statistics.median(r[f"{variant} {what}"] for r in rounds)
            for what in ("enqueue", "drain", "cpu")
        )
        print(f"{variant:<12} {enq:>10,.0f} {drain:>10,.0f} {cpu:>12,.1f} µs")


if __name__ == "__main__":
    main()
