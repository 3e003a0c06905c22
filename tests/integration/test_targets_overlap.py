"""``overlap: skip`` for RQ and Dramatiq jobs (docs/targets.md): a fire is skipped while
the target's own record shows the previous fire's message still queued or running. Real
`scheduler run`, the systems' unmodified workers, a task that stays on until the test
lets it end (tests/rq_tasks.py, hold), workers able to run two at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from scheduler.clock import FakeClock
from scheduler.dispatch.leader import LeaseSettings
from scheduler.dispatch.runloop import RunLoop, RunSettings
from scheduler.keys import Keys
from scheduler.schedule.watch import ScheduleFile
from tests.helpers import wait_until
from tests.integration.test_targets_rq_dramatiq import TargetRun, TargetWorker
from tests.redis_server import RedisServer

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z

SKIPPED = "fires skipped, previous run still active job=second"
SCHEDULES = {
    "rq": "jobs:\n  second:\n    rq: tests.rq_tasks.hold\n",
    "dramatiq": "jobs:\n  second:\n    dramatiq: hold\n    retries: 0\n",
}


@pytest.fixture(params=["rq", "dramatiq"])
def held_run(
    request: pytest.FixtureRequest, own_redis: RedisServer, namespace: str, tmp_path: Path
) -> Iterator[TargetRun]:
    system = request.param
    run = TargetRun(system, own_redis, namespace, tmp_path)
    rest = f"    every: 1s\n    overlap: skip\n    args: [{run.counters}]\n"
    run.cluster.schedule.write_text(SCHEDULES[system] + rest)
    # `rq worker` runs one job at a time: a second one could run a second fire at once.
    second = TargetWorker(system, own_redis.url, tmp_path, "second") if system == "rq" else None
    for worker in (run.worker, second):
        if worker is not None:
            worker.start()
    yield run
    run.cluster.stop_all()
    run.client.lpush(f"{run.counters}-gate", *["go"] * 10)
    for worker in (run.worker, second):
        if worker is not None:
            worker.stop()


def skipped(run: TargetRun) -> int:
    return run.cluster.logs().count(SKIPPED)


@pytest.mark.slow
def test_overlap_skip_sends_no_fire_while_the_previous_run_is_on(held_run: TargetRun) -> None:
    run, gate = held_run, f"{held_run.counters}-gate"
    run.cluster.start()
    wait_until(lambda: len(run.runs()) == 1, 30, "the first run to start")
    wait_until(lambda: skipped(run) >= 2, 30, "two fires skipped while it is on")
    assert len(run.runs()) == 1, run.cluster.logs()
    run.client.lpush(gate, "go")
    wait_until(lambda: len(run.runs()) == 2, 30, "a fire sent once the first run ended")
    seen = skipped(run)
    wait_until(lambda: skipped(run) > seen, 30, "fires skipped while the second run is on")
    assert len(run.runs()) == 2, run.cluster.logs()
    run.cluster.stop_all()
    run.client.lpush(gate, "go", "go")
    wait_until(lambda: run.client.get(f"{run.counters}-on") == b"0", 30, "the runs to end")
    context = f"{run.cluster.logs()}\n{run.worker.logs()}"
    assert run.client.get(f"{run.counters}-overlaps") is None, context
    assert sorted(run.runs()) == run.fired(), context
    assert set(run.runs().values()) == {1}, context


JOBS = {
    "rq": "    rq: app.jobs.reindex\n",
    "dramatiq": "    dramatiq: send_digest\n    retries: 0\n",
}


def ended(client: redis.Redis, system: str, message_id: bytes) -> None:
    """What the target's worker writes when a run ends: RQ's status, Dramatiq's ack."""
    if system == "rq":
        client.hset(b"rq:job:" + message_id, "status", "finished")
    else:
        client.hdel("dramatiq:default.msgs", message_id)


@pytest.mark.parametrize("system", ["rq", "dramatiq"])
def test_a_fire_waits_for_the_targets_record_of_the_previous_run_and_not_after_a_change(
    redis_url: str, namespace: str, tmp_path: Path, system: str
) -> None:
    """Each fire is skipped while the target's record shows the previous one on; once the
    job becomes a task: job, the id kept for the target holds nothing."""
    client, keys, clock = redis.Redis.from_url(redis_url), Keys(namespace), FakeClock(T0 + 1)
    client.delete("rq:queue:default", "dramatiq:default", "dramatiq:default.msgs")
    path = tmp_path / "schedule.yml"
    head = "jobs:\n  tick:\n    every: 15s\n    overlap: skip\n"
    path.write_text(head + JOBS[system])
    lease = LeaseSettings(lease=300.0, renew_every=1.0, poll_every=0.25)
    loop = RunLoop(client, keys, clock, ScheduleFile(str(path)), RunSettings(lease=lease))
    try:
        loop.step()
        for _ in range(3):
            clock.advance(15)
            loop.step()
        queue = "rq:queue:default" if system == "rq" else "dramatiq:default"
        (first,) = client.lrange(queue, 0, -1)
        assert client.get(keys.sent("tick")) == first
        assert loop.dispatcher.watermarks["tick"] == T0 + 45
        ended(client, system, first)
        clock.advance(15)
        loop.step()
        assert len(client.lrange(queue, 0, -1)) == 2
        path.write_text(head + "    task: app.tasks:tick\n")
        for _ in range(2):
            clock.advance(15)
            loop.step()
        assert client.llen(keys.queue("default")) == 1  # then our own marker holds it
    finally:
        loop.leadership.release()
        client.close()
