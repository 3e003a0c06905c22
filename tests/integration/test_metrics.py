"""Metrics of real `scheduler run` and `scheduler worker` processes, scraped over HTTP,
and the Redis side of them (queue depths, cached between scrapes)."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from redis.backoff import NoBackoff
from redis.retry import Retry

from scheduler.clock import FakeClock
from scheduler.dispatch.leader import LeaseSettings
from scheduler.dispatch.runloop import RunLoop, RunSettings
from scheduler.keys import Keys
from scheduler.ops.metrics import RedisCollector
from scheduler.queue import Queue
from scheduler.schedule.watch import ScheduleFile
from tests.helpers import wait_until
from tests.integration.conftest import WorkerFactory

ROOT = Path(__file__).resolve().parents[2]

SCHEDULE = """\
jobs:
  tick:
    task: tests.tasks:noop
    every: 1s
  boom:
    task: tests.tasks:fail
    every: 1s
"""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> Samples | None:
    """Every sample of http://127.0.0.1:PORT/metrics; None while nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as reply:
            text = reply.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return None
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(port: int, name: str, **labels: str) -> float:
    """One sample's value now (0 if it is not there yet)."""
    return (scrape(port) or {}).get((name, frozenset(labels.items())), 0.0)


Start = Callable[..., int]


@pytest.fixture
def start(redis_url: str, namespace: str, tmp_path: Path) -> Iterator[Start]:
    """Start `scheduler COMMAND ...` with metrics on a free port; returns the port."""
    procs: list[subprocess.Popen[bytes]] = []
    (tmp_path / "schedule.yml").write_text(SCHEDULE)

    def run(command: str, *args: str) -> int:
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, "-m", "scheduler", command, *args, "--redis", redis_url]
        cmd += ["--namespace", namespace, "--metrics-port", str(port)]
        with (tmp_path / f"{command}.log").open("wb") as log:
            procs.append(subprocess.Popen(cmd, cwd=tmp_path, env=env, stderr=log))
        wait_until(lambda: scrape(port) is not None, what=f"{command}'s /metrics")
        return port

    yield run
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(10)


@pytest.mark.slow
def test_metrics_move_as_jobs_fire_and_run(start: Start, redis_url: str, namespace: str) -> None:
    q = Queue.from_url(redis_url, namespace)
    worker = start("worker", "--schedule", "schedule.yml", "--allow", "tests.tasks")
    run = start("run", "schedule.yml", "--poll", "0.05")

    # The dispatcher: leader of epoch 1, fires going in on time.
    wait_until(lambda: value(run, "scheduler_leader") == 1, what="leadership")
    assert value(run, "scheduler_leader_epoch") >= 1
    tick = {"schedule_job": "tick"}
    wait_until(lambda: value(run, "scheduler_fires_enqueued_total", **tick) >= 2, what="fires")
    assert value(run, "scheduler_fire_lateness_seconds_count") >= 2
    assert value(run, "scheduler_fire_lateness_seconds_bucket", le="1.0") >= 2

    # The worker: runs started and succeeded, timed; failures retried (the first
    # retry is due in 10 s or more: none runs during the test).
    noop = {"queue": "default", "task": "tests.tasks:noop"}
    fail = {"queue": "default", "task": "tests.tasks:fail"}
    wait_until(lambda: value(worker, "scheduler_jobs_succeeded_total", **noop) >= 2, what="runs")
    assert value(worker, "scheduler_jobs_started_total", **noop) >= 2
    assert value(worker, "scheduler_job_duration_seconds_count", **noop) >= 2
    wait_until(lambda: value(worker, "scheduler_jobs_retried_total", **fail) >= 1, what="retry")
    assert value(worker, "scheduler_jobs_dead_total", **fail) == 0

    # A job with no retries goes dead; queues no worker serves fill up.
    q.enqueue("tests.tasks:fail", retries=0)
    for _ in range(3):
        q.enqueue("tests.tasks:noop", queue="idle")
    wait_until(lambda: value(worker, "scheduler_jobs_dead_total", **fail) == 1, what="a death")
    assert value(worker, "scheduler_jobs_failed_total", **fail) >= 2
    for port in (run, worker):
        wait_until(lambda p=port: value(p, "scheduler_dead_jobs") == 1, what="the dead set")
        assert value(port, "scheduler_queue_depth", queue="idle") == 3
        assert value(port, "scheduler_queue_delayed", queue="default") >= 1
    q.client.close()


def outward_address() -> str:
    """An address of this machine that is not loopback: where another host connects."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # sends nothing: only picks the route's address
            address = str(sock.getsockname()[0])
        except OSError:
            address = ""
    if not address or ipaddress.ip_address(address).is_loopback:
        problem = "this machine has no address but loopback"
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    return address


def answers(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=2).close()
    except OSError:
        return False
    return True


@pytest.mark.slow
def test_metrics_listen_on_loopback_unless_told_otherwise(start: Start) -> None:
    outside = outward_address()
    local = start("worker", "--allow", "tests.tasks")
    assert scrape(local) is not None  # served on 127.0.0.1
    assert not answers(outside, local)  # and nowhere else
    everywhere = start("worker", "--allow", "tests.tasks", "--metrics-host", "0.0.0.0")
    assert answers(outside, everywhere)


def test_a_leader_counts_fires_caught_up_and_lease_renewals_that_failed(
    redis_url: str, namespace: str, tmp_path: Path
) -> None:
    path = tmp_path / "schedule.yml"
    path.write_text("jobs:\n  tick:\n    task: app.tasks:tick\n    every: 15s\n")
    client = redis.Redis.from_url(redis_url)
    clock, keys = FakeClock(1_767_225_600), Keys(namespace)
    settings = RunSettings(lease=LeaseSettings(lease=300.0, renew_every=1.0, poll_every=0.25))
    loop = RunLoop(client, keys, clock, ScheduleFile(str(path)), settings)
    stats = loop.dispatcher.stats
    loop.step()  # leader from T0
    clock.advance(15)
    loop.step()  # T0+15 on time
    assert (stats.enqueued, stats.caught_up) == ({"tick": 1}, {})
    clock.advance(40)
    loop.step()  # T0+30 and T0+45 late, within the grace
    assert (stats.enqueued, stats.caught_up) == ({"tick": 3}, {"tick": 2})
    assert stats.lateness.counts[12:14] == [1, 1]  # 10 s and 25 s late: le 10, le 30

    client.delete(keys.lease())  # as if it had run out
    clock.advance(1)
    loop.step()
    assert loop.leadership.renew_failures == 1 and not loop.leadership.is_leader
    client.close()


def test_queue_depths_are_read_at_most_once_per_max_age(redis_url: str, namespace: str) -> None:
    client = redis.Redis.from_url(redis_url)
    q = Queue(client, namespace)
    now = [0.0]
    collector = RedisCollector(client, Keys(namespace), ["default"], clock=lambda: now[0])

    def depth() -> float:
        [family] = [m for m in collector.collect() if m.name == "scheduler_queue_depth"]
        return {s.labels["queue"]: s.value for s in family.samples}["default"]

    assert depth() == 0  # a queue of the worker's that never had a job
    q.enqueue("tests.tasks:noop")
    assert depth() == 0  # cached
    now[0] += 1.0
    assert depth() == 1
    client.close()


def test_without_redis_the_queue_metrics_are_left_out() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        client = redis.Redis(port=port, retry=Retry(NoBackoff(), 0))
        assert RedisCollector(client, Keys("x")).collect() == []


def test_a_worker_counts_each_run_once_by_queue_and_task(
    queue: Queue, client: redis.Redis, make_worker: WorkerFactory
) -> None:
    queue.enqueue("tests.tasks:noop")
    queue.enqueue("tests.tasks:fail", retries=0)
    queue.enqueue("tests.tasks:fail")
    queue.enqueue("os:system", "true")
    client.lpush(queue.keys.queue("default"), b"not json")
    worker = make_worker()
    worker.fetch_once()
    worker.run_pending()
    totals = {task: counts for (_, task), counts in worker.pool.stats.totals().items()}
    noop, fail = totals["tests.tasks:noop"], totals["tests.tasks:fail"]
    assert (noop.started, noop.succeeded, noop.failed, sum(noop.duration.counts)) == (1, 1, 0, 1)
    assert (fail.started, fail.failed, fail.retried, fail.dead) == (2, 2, 1, 1)
    assert sum(fail.duration.counts) == 2
    assert (totals["(not allowed)"].started, totals["(not allowed)"].dead) == (0, 1)
    assert totals["(bad payload)"].dead == 1
    assert "os:system" not in totals
