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
from starlette.testclient import TestClient

from scheduler.clock import RedisClock
from scheduler.dispatch.runloop import RunSettings
from scheduler.keys import Keys, as_text
from scheduler.schedule.loader import parse_schedule
from scheduler.web import create_app
from tests.helpers import run_cli, wait_until
from tests.integration.test_metrics import free_port, scrape, value
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

    def start(
        self, faults: str = "", *extra: str, schedule: Path | None = None
    ) -> subprocess.Popen[bytes]:
        env = {**os.environ, "SCHEDULER_FAULTS": faults}
        log = open(self.workdir / f"run-{len(self.procs)}.log", "wb")  # noqa: SIM115
        path = str(schedule or self.schedule)
        cmd = [
            sys.executable,
            "-m",
            "scheduler",
            "run",
            path,
            "--redis",
            self.url,
            "--namespace",
            self.namespace,
            "--lease",
            "1.5",
            "--poll",
            "0.1",
            *extra,
        ]
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

    def digests(self) -> list[str]:
        """The schedule digest each live scheduler process reports, in registry order."""
        ids = self.client.zrange(self.keys.schedulers(), 0, -1)
        return [as_text(self.client.hget(self.keys.scheduler(as_text(i)), "digest")) for i in ids]

    def heartbeats(self) -> list[float]:
        """Each live scheduler process's last heartbeat (epoch seconds)."""
        return [s for _, s in self.client.zrange(self.keys.schedulers(), 0, -1, withscores=True)]

    def now(self) -> float:
        """Redis' clock, the one heartbeats are stamped with."""
        seconds, micros = self.client.time()
        return seconds + micros / 1e6

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
    wait_until(lambda: cluster.leader_pid() is not None, 30, "a leader")
    cluster.wait_for_fires(6)
    cluster.stop_all()
    fires = cluster.assert_every_second_exactly_once()
    assert len(fires) >= 6


def test_a_killed_leader_is_replaced_and_nothing_is_lost_or_doubled(cluster: Cluster) -> None:
    procs = {p.pid: p for p in (cluster.start(), cluster.start())}
    wait_until(lambda: cluster.leader_pid() is not None, 30, "a leader")
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
    wait_until(lambda: cluster.leader_pid() is not None, 30, "a leader")
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


# -- reloads and standbys ----------------------------------------------------------------

EDITED = (
    SCHEDULE
    + """\
  hourly:
    task: app.tasks:report
    every: 1h
"""
)

BROKEN = (
    SCHEDULE
    + """\
  "bad\\e[2J<b>name</b>":
    task: app.tasks:tick
    every: 1x
"""
)


def status_of(cluster: Cluster, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    common = ["--redis", cluster.url, "--namespace", cluster.namespace]
    code, out, err = run_cli(capsys, "status", *args, *common)
    assert code == 0, err
    return out


def test_a_refused_reload_shows_in_status_dashboard_and_metrics_until_a_good_file(
    cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    proc = cluster.start("", "--metrics-host", "127.0.0.1", "--metrics-port", str(port))
    wait_until(lambda: cluster.leader_pid() == proc.pid, 10, "a leader")
    wait_until(lambda: scrape(port) is not None, 10, "/metrics")
    assert value(port, "scheduler_schedule_reload_refused") == 0
    good = parse_schedule(SCHEDULE).digest
    cluster.schedule.write_text(BROKEN)
    refused = "scheduler_schedule_reload_refused"
    wait_until(lambda: value(port, refused) == 1, 10, "the refusal in the metrics")

    [row] = json.loads(status_of(cluster, capsys, "--json"))["schedulers"]
    assert row["digest"] == good  # the old schedule keeps running
    problems = row["reload_refused"]["problems"]
    assert row["reload_refused"]["count"] == len(problems) == 2
    assert any("'1x' is not a duration" in p for p in problems)
    assert all("\x1b" not in p and "\\x1b[2J" in p for p in problems)  # escaped
    text = status_of(cluster, capsys)
    assert "schedule reload refused" in text and "'1x' is not a duration" in text
    assert "\x1b" not in text and "\\x1b[2J" in text
    common = ["--redis", cluster.url, "--namespace", cluster.namespace]
    assert run_cli(capsys, "health", "--role", "scheduler", *common)[0] == 0

    app = create_app(cluster.client, cluster.keys, RedisClock(cluster.client))
    web = TestClient(app, base_url="http://127.0.0.1:8080")
    page = web.get("/").text
    assert "Schedule reload refused" in page and "&#39;1x&#39; is not a duration" in page
    assert "\x1b" not in page and "<b>name" not in page and "&lt;b&gt;name" in page

    cluster.schedule.write_text(EDITED)
    wait_until(lambda: value(port, refused) == 0, 10, "the good file to load")
    [row] = json.loads(status_of(cluster, capsys, "--json"))["schedulers"]
    assert row["reload_refused"] is None and row["digest"] == parse_schedule(EDITED).digest
    assert "refused" not in status_of(cluster, capsys)
    assert "Schedule reload refused" not in web.get("/").text


def test_an_edit_raises_no_alarm_between_leader_and_standby(cluster: Cluster) -> None:
    first = cluster.start()
    wait_until(lambda: cluster.leader_pid() == first.pid, 10, "a leader")
    standby = cluster.start()
    wait_until(lambda: len(cluster.digests()) == 2, 10, "the standby to register")
    edits = [EDITED, EDITED.replace("every: 1h", "every: 2h")]
    for n, text in enumerate(edits):
        cluster.schedule.write_text(text)
        if n:  # the standby's host is reloaded first (systemctl reload: SIGHUP)
            os.kill(standby.pid, signal.SIGHUP)
        new = parse_schedule(text).digest
        wait_until(lambda: cluster.digests() == [new, new], 10, "both to reload")  # noqa: B023
    # Both had well past the grace to tell the difference, had there been one.
    settled = cluster.now() + RunSettings().divergence_grace + 1
    wait_until(lambda: min(cluster.heartbeats()) > settled, 20, "heartbeats past the grace")
    assert "different schedules" not in cluster.logs()


def test_a_standby_whose_file_stays_different_is_warned_about_once(
    cluster: Cluster, tmp_path: Path
) -> None:
    first = cluster.start()
    wait_until(lambda: cluster.leader_pid() == first.pid, 10, "a leader")
    other = tmp_path / "other.yml"
    other.write_text(EDITED)
    cluster.start(schedule=other)
    warning = "replicas run different schedules"
    wait_until(lambda: warning in cluster.logs(), 20, "the divergence warning")
    later = cluster.now() + 2
    wait_until(lambda: min(cluster.heartbeats()) > later, 10, "two more comparisons")
    [line] = [line for line in cluster.logs().splitlines() if warning in line]
    assert parse_schedule(SCHEDULE).digest in line and parse_schedule(EDITED).digest in line


def test_a_standby_logs_once_that_it_stands_by_and_who_leads(cluster: Cluster) -> None:
    first = cluster.start()
    wait_until(lambda: cluster.leader_pid() == first.pid, 10, "a leader")
    lease = json.loads(cluster.client.get(cluster.keys.lease()) or "{}")
    cluster.start()
    wait_until(lambda: "standing by" in cluster.logs(), 10, "the standby's line")
    cluster.wait_for_fires(3)  # many looks at the lease later
    lines = [line for line in cluster.logs().splitlines() if "standing by" in line]
    assert len(lines) == 1, lines
    assert f"leader={lease['id']}" in lines[0] and f"epoch={lease['epoch']}" in lines[0]
