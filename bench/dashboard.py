"""Dashboard render times with 1,000 jobs in the schedule and 10,000 dead jobs.

Starts its own redis-server on a free loopback port, lets a real leader publish a
schedule of 1,000 jobs (every, cron and monthly rules in four time zones) and fire them
for a few minutes, lets a real worker run those fires (so every job has a last run and a
run history), fills the dead set to its cap of 10,000 (each with a 2 kB traceback), then
requests every page through the ASGI app in-process (Starlette's TestClient: routing,
the guard, Redis round trips, rendering) and prints the median and p95 of --requests
requests per page, with the size of the HTML.

Run: .venv/bin/python bench/dashboard.py [--requests 50]
(the project's venv, with the web extra: `make test` installs it).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import redis
from starlette.testclient import TestClient

from scheduler.cli.dev import EmbeddedRedis, find_redis_server
from scheduler.clock import FakeClock
from scheduler.dispatch.leader import LeaseSettings
from scheduler.dispatch.runloop import RunLoop, RunSettings
from scheduler.keys import Keys
from scheduler.registry import AllowList
from scheduler.schedule.watch import ScheduleFile
from scheduler.web import WebSettings, create_app
from scheduler.worker.worker import Worker, WorkerSettings

JOBS = 1_000
DEAD = 10_000
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
RULES = (
    "every: 1m",
    'cron: "*/5 * * * *"',
    'cron: "30 2 * * MON-FRI"',
    'monthly: {day: -1, at: "23:30"}',
    "every: 15m",
)
ZONES = ("UTC", "Europe/Madrid", "America/New_York", "Asia/Tokyo")


def schedule_text() -> str:
    lines = ["jobs:"]
    for i in range(JOBS):
        lines += [
            f"  job-{i:04d}:",
            "    task: operator:add",
            f"    {RULES[i % len(RULES)]}",
            f"    timezone: {ZONES[i % len(ZONES)]}",
            f"    args: [{i}, 1]",
        ]
    return "\n".join(lines) + "\n"


def fill(client: redis.Redis, keys: Keys, folder: Path) -> str:
    """A published schedule with fires and runs, and a full dead set; a dead job's id."""
    path = folder / "schedule.yml"
    path.write_text(schedule_text())
    clock = FakeClock(T0 + 1)
    settings = RunSettings(lease=LeaseSettings(lease=3.0, renew_every=1.0, poll_every=0.25))
    leader = RunLoop(client, keys, clock, ScheduleFile(str(path)), settings)
    leader.step()
    allow = AllowList(tasks=["operator:add"])
    worker = Worker(
        client, allow, WorkerSettings(concurrency=1), namespace=keys.namespace, clock=clock
    )
    worker.register()
    for _ in range(6):
        clock.advance(60)
        leader.step()
        while worker.fetch_once():
            worker.run_pending()
        worker.flush()
    pipe = client.pipeline(transaction=False)
    trace = "Traceback (most recent call last):\n" + '  File "app.py", line 1\n' * 80
    for i in range(DEAD):
        job_id = f"{i:032x}"
        record = {
            "v": 1,
            "id": job_id,
            "task": "app.jobs:sync",
            "args": [i],
            "kwargs": {},
            "queue": "default",
            "attempt": 4,
            "retries": 3,
            "enqueued_at": T0,
            "error": "ConnectionError: <refused>",
            "traceback": trace,
            "failed_at": T0 + i,
        }
        pipe.zadd(keys.dead(), {job_id: T0 + i})
        pipe.hset(keys.dead_jobs(), job_id, json.dumps(record))
    pipe.execute()
    leader.leadership.release()
    return f"{DEAD - 1:032x}"


def measure(web: TestClient, path: str, requests: int) -> tuple[float, float, int]:
    """Median and p95 milliseconds of ``requests`` GETs of ``path``, and the page size."""
    size = len(web.get(path).content)  # warm up (templates compiled, schedule parsed)
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        response = web.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    options = parser.parse_args()
    binary = find_redis_server()
    assert binary, "no redis-server (install the embedded extra)"
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(binary, Path(tmp))
        server.start()
        try:
            client = redis.Redis.from_url(server.url)
            keys = Keys("bench")
            dead_id = fill(client, keys, Path(tmp))
            app = create_app(client, keys, FakeClock(T0 + 400), WebSettings())
            web = TestClient(app, base_url="http://127.0.0.1:8080")
            report(web, dead_id, options.requests, server)
        finally:
            server.stop(kill=True)


def report(web: TestClient, dead_id: str, requests: int, server: EmbeddedRedis) -> None:
    pages = [
        ("overview", "/"),
        ("schedules, first page (100 jobs)", "/schedules"),
        ("schedules, all 1,000 jobs on one page", "/schedules?per_page=1000"),
        ("schedules, filtered", "/schedules?q=job-09"),
        ("one job", "/jobs/job-0001"),
        ("retries", "/retries"),
        ("dead jobs, first page (50)", "/dead"),
        ("dead jobs, last page", "/dead?page=200"),
        ("dead jobs, filtered (all 10,000 read)", "/dead?error=refused&task=sync"),
        ("one dead job", f"/dead/{dead_id}"),
    ]
    version = redis.Redis(port=server.port).info()["redis_version"]
    print(
        f"{JOBS:,} jobs, {DEAD:,} dead jobs; {requests} requests per page; "
        f"{platform.system()} {platform.machine()}, Python {platform.python_version()}, "
        f"redis-server {version}"
    )
    print(f"{'page':<40} {'median':>8} {'p95':>8} {'HTML':>9}")
    for name, path in pages:
        median, p95, size = measure(web, path, requests)
        print(f"{name:<40} {median:>6.1f}ms {p95:>6.1f}ms {size / 1024:>7.0f}kB")


if __name__ == "__main__":
    main()
