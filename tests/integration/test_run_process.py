"""`scheduler run` as real processes against a real Redis, with real faults.

Several dispatchers run an ``every: 1s`` job; processes are SIGKILLed, SIGSTOPped,
SIGTERMed, or stop themselves at a named failure point (``SCHEDULER_FAULTS``), and Redis
itself is stopped and restarted. After each scenario, the fire times in the queue must be
every second of the run, each exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from scheduler.keys import Keys
from tests.helpers import wait_until
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow

SCHEDULE = """\
jobs:
  second:
    task: app.tasks:tick
    every: 1s
"""


class Cluster:
    """Dispatcher processes on one namespace, and what they enqueued."""

    def __init__(self, url: str, namespace: str, workdir: Path) -> None:
        self.url = url
        self.keys = Keys(namespace)
        self.namespace = namespace
        self.workdir = workdir
        self.schedule = workdir / "schedule.yml"
        self.schedule.write_text(SCHEDULE)
        self.client = redis.Redis.from_url(url, socket_timeout=5)
        self.procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[object] = []

    def start(self, faults: str = "", *extra: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "SCHEDULER_FAULTS": faults}
        log = open(self.workdir / f"run-{len(self.procs)}.log", "wb")  # noqa: SIM115
        cmd = [
            sys.executable, "-m", "scheduler", "run", str(self.schedule), "--redis", self.url,
            "--namespace", self.namespace, "--lease", "1.5", "--poll", "0.1", *extra,
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
        self.procs.append(proc)
        self._logs.append(log)
        return proc

    def leader_pid(self) -> int | None:
        try:
            raw = self.client.get(self.keys.lease())
        except redis.ConnectionError:
            return None
        return None if raw is None else int(json.loads(raw)["pid"])

    def fires(self) -> list[int]:
        raw = self.client.lrange(self.keys.queue("default"), 0, -1)
        return sorted(json.loads(p)["scheduled_for"] for p in raw)

    def count(self) -> int:
        try:
            return int(self.client.llen(self.keys.queue("default")))
        except redis.ConnectionError:
            return 0

    def wait_for_fires(self, more: int, timeout: float = 15) -> None:
        target = self.count() + more
        wait_until(lambda: self.count() >= target, timeout, f"{more} more fires")

    def logs(self) -> str:
        return "".join(p.read_text() for p in sorted(self.workdir.glob("run-*.log")))

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in self._logs:
            log.close()  # type: ignore[attr-defined]
        self._logs.clear()

    def assert_every_second_exactly_once(self) -> list[int]:
        fires = self.fires()
        assert fires, "nothing was enqueued"
        duplicates = sorted({f for f in fires if fires.count(f) > 1})
        assert duplicates == [], f"fires enqueued twice: {duplicates}\n{self.logs()}"
        missing = sorted(set(range(fires[0], fires[-1] + 1)) - set(fires))
        assert missing == [], f"fires lost: {missing}\n{self.logs()}"
        return fires


@pytest.fixture
def cluster(redis_url: str, namespace: str, tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(redis_url, namespace, tmp_path)
    yield c
    c.stop_all()


def process_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_three_dispatchers_enqueue_every_fire_exactly_once(cluster: Cluster) -> None:
    for _ in range(3):
        cluster.start()
    wait_until(lambda: cluster.leader_pid() is not None, 10, "a leader")
    cluster.wait_for_fires(6)
    cluster.stop_all()
    fires = cluster.assert_every_second_exactly_once()
    assert len(fires) >= 6


def test_a_killed_leader_is_replaced_and_nothing_is_lost_or_doubled(cluster: Cluster) -> None:
    procs = {p.pid: p for p in (cluster.start(), cluster.start())}
    wait_until(lambda: cluster.leader_pid() is not None, 10, "a leader")
    cluster.wait_for_fires(2)
    first = cluster.leader_pid()
    assert first is not None
    procs[first].kill()
    wait_until(lambda: cluster.leader_pid() not in (None, first), 10, "a new leader")
    cluster.wait_for_fires(3)
    cluster.stop_all()
    cluster.assert_every_second_exactly_once()


def test_a_leader_frozen_before_its_enqueue_cannot_enqueue_when_it_wakes(
    cluster: Cluster,
) -> None:
    frozen = cluster.start(faults="before_enqueue=stop")
    wait_until(lambda: cluster.leader_pid() == frozen.pid, 10, "the first process to lead")
    wait_until(lambda: process_state(frozen.pid) == "T", 10, "the leader to freeze")
    cluster.start()
    wait_until(lambda: cluster.leader_pid() not in (None, frozen.pid), 10, "a new leader")
    cluster.wait_for_fires(3)
    before = cluster.count()
    os.kill(frozen.pid, signal.SIGCONT)  # it goes on with its stale epoch
    wait_until(lambda: "Redis refused our lease" in cluster.logs(), 10, "the refusal")
    cluster.wait_for_fires(2)
    cluster.stop_all()
    assert cluster.count() > before
    cluster.assert_every_second_exactly_once()


@pytest.mark.parametrize("fault", ["after_plan=kill@2", "after_enqueue=kill@2"])
def test_a_leader_killed_around_its_enqueue_loses_and_doubles_nothing(
    cluster: Cluster, fault: str
) -> None:
    doomed = cluster.start(faults=fault)
    wait_until(lambda: cluster.leader_pid() == doomed.pid, 10, "the doomed process to lead")
    cluster.start()
    wait_until(lambda: doomed.poll() is not None, 10, "the leader to die at the fault point")
    wait_until(lambda: cluster.leader_pid() not in (None, doomed.pid), 10, "a new leader")
    cluster.wait_for_fires(3)
    cluster.stop_all()
    cluster.assert_every_second_exactly_once()


def test_a_leader_stopped_with_sigterm_hands_over_at_once(cluster: Cluster) -> None:
    procs = {p.pid: p for p in (cluster.start(), cluster.start())}
    wait_until(lambda: cluster.leader_pid() is not None, 10, "a leader")
    cluster.wait_for_fires(2)
    first = cluster.leader_pid()
    assert first is not None
    procs[first].terminate()
    assert procs[first].wait(timeout=10) == 0
    wait_until(lambda: cluster.leader_pid() not in (None, first), 10, "a new leader")
    assert "leadership released" in cluster.logs()
    cluster.wait_for_fires(2)
    cluster.stop_all()
    cluster.assert_every_second_exactly_once()


@pytest.fixture
def own_cluster(own_redis: RedisServer, namespace: str, tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(own_redis.url, namespace, tmp_path)
    yield c
    c.stop_all()


def test_dispatchers_survive_a_redis_restart_and_catch_up_once(
    own_cluster: Cluster, own_redis: RedisServer
) -> None:
    procs = [own_cluster.start(), own_cluster.start()]
    wait_until(lambda: own_cluster.leader_pid() is not None, 10, "a leader")
    own_cluster.wait_for_fires(2)
    own_redis.stop()
    wait_until(lambda: "redis unreachable" in own_cluster.logs(), 10, "the outage to be seen")
    own_redis.start()  # same port, same data (append-only file)
    own_cluster.wait_for_fires(4)
    assert all(p.poll() is None for p in procs)
    assert "redis reachable again" in own_cluster.logs()
    own_cluster.stop_all()
    own_cluster.assert_every_second_exactly_once()


def test_json_logs_are_one_object_per_line_with_stable_fields(cluster: Cluster) -> None:
    cluster.start("", "--log-format", "json")
    cluster.wait_for_fires(1)
    cluster.stop_all()
    lines = [json.loads(line) for line in cluster.logs().splitlines()]
    events = {line["event"] for line in lines}
    assert {"scheduler started", "leadership acquired", "fire enqueued"} <= events
    [fire] = [line for line in lines if line["event"] == "fire enqueued"][:1]
    assert fire["job"] == "second"
    assert set(fire) >= {"ts", "level", "logger", "event", "job", "fire", "lateness", "message"}
