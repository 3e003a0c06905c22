"""Celery as a target, all real: redis-server, `scheduler run` processes and an unmodified
`celery worker --pool solo` (tests/celery_app.py), whose task counts its runs per fire
time. Every fire the schedulers accounted for must have run exactly once, and every second
of the run must have fired, through a leader's SIGKILL and a Redis restart (AOF).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.helpers import fired_seconds, wait_until
from tests.integration.test_run_process import Cluster
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow
pytest.importorskip("celery")

REPO = Path(__file__).resolve().parents[2]
SCHEDULE = """\
targets:
  celery: {{global_keyprefix: "{prefix}"}}
jobs:
  second:
    celery: tests.tick
    every: 1s
    args: [{label}]
    queue: {queue}
"""


class CeleryCluster(Cluster):
    """Dispatchers sending to Celery, and the Celery worker's record of its runs."""

    def __init__(self, url: str, namespace: str, workdir: Path) -> None:
        super().__init__(url, namespace, workdir)
        self.prefix, self.label, self.queue = f"{namespace}:", namespace, f"q-{namespace}"
        text = SCHEDULE.format(prefix=self.prefix, label=self.label, queue=self.queue)
        self.schedule.write_text(text)
        self.worker: subprocess.Popen[bytes] | None = None

    def start_worker(self) -> None:
        env = {**os.environ, "CELERY_BROKER_URL": self.url, "CELERY_PREFIX": self.prefix}
        log = open(self.workdir / "celery.log", "wb")  # noqa: SIM115
        self._logs.append(log)
        cmd = [sys.executable, "-m", "celery", "-A", "tests.celery_app", "worker"]
        cmd += ["--pool", "solo", "-Q", self.queue, "--without-mingle", "--without-gossip"]
        self.worker = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=log)

    def runs(self) -> dict[int, int]:
        """Fire time -> how many times the Celery task ran it."""
        try:
            keys = self.client.keys(f"runs:{self.label}:*")
            counts = self.client.mget(keys) if keys else []
        except redis.ConnectionError:
            return {}
        return {int(k.rsplit(b":", 1)[1]): int(n) for k, n in zip(keys, counts, strict=True)}

    def fires(self) -> list[int]:
        return sorted(at for at, n in self.runs().items() for _ in range(n))

    def count(self) -> int:
        return sum(self.runs().values())

    def sent(self) -> set[int]:
        """The fires the schedulers accounted for (the job's fired record)."""
        return set(fired_seconds(self.client, self.keys.fired("second")))

    def drain(self) -> None:
        """Wait until the worker ran every fire that was sent."""
        wait_until(lambda: set(self.runs()) >= self.sent(), 60, "the worker to run them all")

    def stop_all(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.terminate()
            try:
                self.worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait()
        super().stop_all()

    def assert_each_fire_ran_once(self) -> None:
        fires = self.assert_every_second_exactly_once()
        assert set(fires) == self.sent(), self.logs()


@pytest.fixture
def celery_cluster(
    own_redis: RedisServer, namespace: str, tmp_path: Path
) -> Iterator[CeleryCluster]:
    c = CeleryCluster(own_redis.url, namespace, tmp_path)
    yield c
    c.stop_all()


def test_celery_runs_every_fire_once_when_the_leader_is_killed(
    celery_cluster: CeleryCluster,
) -> None:
    c = celery_cluster
    c.start_worker()
    procs = {p.pid: p for p in (c.start(), c.start())}
    wait_until(lambda: c.leader_pid() is not None, 60, "a leader")  # imports Celery first
    c.wait_for_fires(3, timeout=60)
    first = c.leader_pid()
    assert first is not None
    procs[first].send_signal(signal.SIGKILL)
    wait_until(lambda: c.leader_pid() not in (None, first), 30, "a new leader")
    c.wait_for_fires(3, timeout=60)
    last = procs[c.leader_pid() or 0]
    last.terminate()
    last.wait(timeout=10)
    c.drain()
    c.assert_each_fire_ran_once()


def test_celery_runs_every_fire_once_across_a_redis_restart(
    celery_cluster: CeleryCluster, own_redis: RedisServer
) -> None:
    c = celery_cluster
    c.start_worker()
    c.start()
    c.start()
    wait_until(lambda: c.leader_pid() is not None, 60, "a leader")  # imports Celery first
    c.wait_for_fires(3, timeout=60)
    own_redis.stop()
    own_redis.start()  # same port, same data (append-only file)
    c.wait_for_fires(3, timeout=60)
    for proc in c.procs:
        proc.terminate()
    for proc in c.procs:
        proc.wait(timeout=10)
    c.drain()
    c.assert_each_fire_ran_once()
