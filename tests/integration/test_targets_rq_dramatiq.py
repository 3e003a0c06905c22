"""Fires sent to RQ and Dramatiq: real `scheduler run` processes, the systems' own
unmodified workers (`rq worker`, `dramatiq`) and a real Redis (docs/targets.md).

Each task counts its run under the fire time it stands for (tests/rq_tasks.py,
tests/dramatiq_app.py). After each scenario every fire the schedulers recorded must have
run exactly once, and the fires must be every second of the run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import fired_seconds, wait_until
from tests.integration.test_run_process import Cluster
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

SCHEDULES = {
    "rq": """\
jobs:
  second:
    rq: tests.rq_tasks.tick
    every: 1s
    args: [{counters}]
""",
    "dramatiq": """\
jobs:
  second:
    dramatiq: tick
    every: 1s
    args: [{counters}]
""",
}


class TargetWorker:
    """The target system's own worker, unmodified, as a process of this test."""

    def __init__(self, system: str, url: str, workdir: Path, name: str = "worker") -> None:
        self.system, self.url, self.workdir = system, url, workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self._path = workdir / f"{system}-{name}.log"
        self._log = open(self._path, "wb")  # noqa: SIM115

    def start(self) -> None:
        bin_dir = Path(sys.executable).parent
        if self.system == "rq":
            cmd = [str(bin_dir / "rq"), "worker", "--url", self.url, "--with-scheduler"]
        else:
            cmd = [str(bin_dir / "dramatiq"), "tests.dramatiq_app", "-p", "1", "-t", "2"]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TARGET_REDIS_URL": self.url}
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self._log, stderr=self._log)

    def revive(self) -> None:
        """Start the worker again if it exited, as a process supervisor would (`rq worker`
        exits when Redis goes away)."""
        if self.proc is not None and self.proc.poll() is not None:
            self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def logs(self) -> str:
        return self._path.read_text(errors="replace")


class TargetRun:
    """Schedulers sending an ``every: 1s`` job to one target system, and its worker."""

    def __init__(self, system: str, redis: RedisServer, namespace: str, workdir: Path) -> None:
        self.cluster = Cluster(redis.url, namespace, workdir)
        self.counters = f"{namespace}:ran"
        self.cluster.schedule.write_text(SCHEDULES[system].format(counters=self.counters))
        self.worker = TargetWorker(system, redis.url, workdir)
        self.client = self.cluster.client

    def delayed(self) -> int:
        """How many fires wait in the target's own delay: RQ's scheduled registry, or
        Dramatiq's delay queue."""
        if self.worker.system == "rq":
            return int(self.client.zcard("rq:scheduled:default"))
        return int(self.client.hlen("dramatiq:default.DQ.msgs"))

    def fired(self) -> list[int]:
        """The fire instants the schedulers recorded as sent."""
        return fired_seconds(self.client, self.cluster.keys.fired("second"))

    def runs(self) -> dict[int, int]:
        """Fire instant -> how many times the target's worker ran it."""
        keys = list(self.client.scan_iter(f"{self.counters}:*"))
        values = self.client.mget(keys) if keys else []
        return {int(k.rsplit(b":", 1)[1]): int(v) for k, v in zip(keys, values, strict=True)}

    def wait_for_runs(self, more: int, timeout: float = 30) -> None:
        target = len(self.runs()) + more

        def done() -> bool:
            self.worker.revive()
            return len(self.runs()) >= target

        wait_until(done, timeout, f"{more} more runs")

    def finish(self) -> None:
        """Stop the schedulers, let the worker run what they sent, stop it."""
        self.cluster.stop_all()
        fired = set(self.fired())
        wait_until(lambda: fired <= set(self.runs()), 30, "every fire to run")
        self.worker.stop()

    def assert_every_fire_ran_exactly_once(self) -> None:
        fired, runs = self.fired(), self.runs()
        context = f"{self.cluster.logs()}\n{self.worker.logs()}"
        assert fired, f"nothing was sent\n{context}"
        assert sorted(runs) == fired, f"runs differ from fires\n{context}"
        twice = {at: n for at, n in runs.items() if n != 1}
        assert twice == {}, f"fires that ran more than once\n{context}"
        missing = sorted(set(range(fired[0], fired[-1] + 1)) - set(fired))
        assert missing == [], f"fires lost: {missing}\n{context}"


@pytest.fixture(params=["rq", "dramatiq"])
def target_run(
    request: pytest.FixtureRequest, own_redis: RedisServer, namespace: str, tmp_path: Path
) -> Iterator[TargetRun]:
    run = TargetRun(request.param, own_redis, namespace, tmp_path)
    run.worker.start()
    yield run
    run.cluster.stop_all()
    run.worker.stop()


def test_a_killed_leader_is_replaced_and_every_fire_runs_once_on_the_targets_worker(
    target_run: TargetRun,
) -> None:
    cluster = target_run.cluster
    procs = {p.pid: p for p in (cluster.start(), cluster.start())}
    wait_until(lambda: cluster.leader_pid() is not None, 30, "a leader")
    target_run.wait_for_runs(2)
    first = cluster.leader_pid()
    assert first is not None
    procs[first].kill()
    wait_until(lambda: cluster.leader_pid() not in (None, first), 30, "a new leader")
    target_run.wait_for_runs(3)
    target_run.finish()
    target_run.assert_every_fire_ran_exactly_once()


def test_after_a_redis_restart_every_fire_runs_once_on_the_targets_worker(
    target_run: TargetRun, own_redis: RedisServer
) -> None:
    cluster = target_run.cluster
    procs = [cluster.start(), cluster.start()]
    wait_until(lambda: cluster.leader_pid() is not None, 30, "a leader")
    target_run.wait_for_runs(2)
    own_redis.stop()
    wait_until(lambda: "redis unreachable" in cluster.logs(), 10, "the outage to be seen")
    own_redis.start()  # same port, same data (append-only file)
    target_run.wait_for_runs(3)
    assert all(p.poll() is None for p in procs)
    target_run.finish()
    target_run.assert_every_fire_ran_exactly_once()


def test_fires_delayed_by_jitter_run_once_through_the_targets_own_delay(
    target_run: TargetRun,
) -> None:
    """RQ's scheduled registry (moved by `rq worker --with-scheduler`), Dramatiq's delay
    queue (served by every worker)."""
    schedule = target_run.cluster.schedule
    schedule.write_text(schedule.read_text() + "    jitter: 3s\n")
    cluster = target_run.cluster
    cluster.start()
    cluster.start()
    wait_until(lambda: cluster.leader_pid() is not None, 30, "a leader")
    wait_until(lambda: target_run.delayed() > 0, 30, "a fire waiting in the target's delay")
    target_run.wait_for_runs(4)
    target_run.finish()
    target_run.assert_every_fire_ran_exactly_once()
