"""Jobs of another target (Celery) dispatched in-process against a real Redis: the fire is
written into the target's own list by the fenced dispatch script, once."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from scheduler.clock import FakeClock
from scheduler.dispatch.leader import LeaseSettings
from scheduler.dispatch.runloop import RunLoop, RunSettings
from scheduler.keys import Keys
from scheduler.ops.control import Control
from scheduler.ops.status import gather, render
from scheduler.schedule.loader import parse_schedule
from scheduler.schedule.watch import ScheduleFile
from scheduler.targets.broker import check_brokers
from scheduler.targets.load import load_target

pytest.importorskip("celery")

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
CELERY_JOB = "jobs:\n  r: {celery: myproj.tasks.report, every: 1m}\n"


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as c:
        yield c


def celery_schedule(prefix: str, extra: str = "") -> str:
    return f"""\
targets:
  celery: {{global_keyprefix: "{prefix}"}}
jobs:
  report:
    celery: myproj.tasks.send_report
    every: 15s
    args: [1, "a"]
    kwargs: {{k: 2}}
    queue: reports
    expires: 10m
    timeout: 30
    headers: {{tenant: acme}}
{extra}"""


def messages(client: redis.Redis, key: str) -> list[dict[str, Any]]:
    """The Celery messages of a kombu list, oldest first."""
    return [json.loads(raw) for raw in reversed(client.lrange(key, 0, -1))]


def body(message: dict[str, Any]) -> Any:
    return json.loads(base64.b64decode(message["body"]))


@pytest.fixture
def loop_on(
    client: redis.Redis, namespace: str, tmp_path: Path
) -> Iterator[Callable[..., RunLoop]]:
    loops: list[RunLoop] = []

    def make(text: str, clock: FakeClock) -> RunLoop:
        path = tmp_path / "schedule.yml"
        path.write_text(text)
        settings = RunSettings(lease=LeaseSettings(lease=300.0, renew_every=1.0, poll_every=0.25))
        loop = RunLoop(client, Keys(namespace), clock, ScheduleFile(str(path)), settings)
        loops.append(loop)
        return loop

    yield make
    for loop in loops:
        loop.leadership.release()


def test_a_celery_fire_is_one_protocol_v2_message_in_kombus_list(
    client: redis.Redis, namespace: str, loop_on: Callable[..., RunLoop]
) -> None:
    prefix = f"{namespace}-celery:"
    clock = FakeClock(T0 + 1)
    loop = loop_on(celery_schedule(prefix), clock)
    loop.step()
    for _ in range(3):
        clock.advance(15)
        loop.step()
        loop.step()  # a second pass at the same instant enqueues nothing more
    sent = messages(client, f"{prefix}reports")
    assert len(sent) == 3
    first = sent[0]
    headers = first["headers"]
    assert headers["task"] == "myproj.tasks.send_report"
    assert headers["timelimit"] == [30, None]
    assert headers["expires"] == "2026-01-01T00:10:15+00:00"
    assert headers["tenant"] == "acme"
    assert headers["root_id"] == headers["id"] == first["properties"]["correlation_id"]
    assert body(first) == [
        [1, "a"],
        {"k": 2},
        {"callbacks": None, "errbacks": None, "chain": None, "chord": None},
    ]
    assert first["properties"]["delivery_info"]["routing_key"] == "reports"
    assert len({m["headers"]["id"] for m in sent}) == 3
    assert len({m["properties"]["delivery_tag"] for m in sent}) == 3
    state = client.hgetall(Keys(namespace).state("report"))
    assert int(state[b"watermark"]) == T0 + 45
    assert state[b"job_id"].decode() == sent[-1]["headers"]["id"]


def test_a_celery_priority_goes_to_kombus_priority_list(
    client: redis.Redis, namespace: str, loop_on: Callable[..., RunLoop]
) -> None:
    prefix = f"{namespace}-celery:"
    clock = FakeClock(T0 + 1)
    text = celery_schedule(prefix).replace("queue: reports", "queue: reports\n    priority: 7")
    loop = loop_on(text, clock)
    loop.step()
    clock.advance(15)
    loop.step()
    [sent] = messages(client, f"{prefix}reports\x06\x166")
    assert sent["properties"]["priority"] == 7


def test_trigger_and_backfill_write_celery_messages(
    client: redis.Redis, namespace: str, loop_on: Callable[..., RunLoop]
) -> None:
    prefix = f"{namespace}-celery:"
    schedule = parse_schedule(celery_schedule(prefix))
    job = schedule.jobs["report"]
    clock = FakeClock(T0 + 100)
    control = Control(client, Keys(namespace), clock)
    task_id = control.trigger(job, schedule.targets)
    fired = control.backfill(job, T0, T0 + 30, dry_run=False, targets=schedule.targets)
    assert [f.outcome for f in fired] == ["enqueued", "enqueued"]
    again = control.backfill(job, T0, T0 + 30, dry_run=False, targets=schedule.targets)
    assert [f.outcome for f in again] == ["already enqueued", "already enqueued"]
    sent = messages(client, f"{prefix}reports")
    assert sent[0]["headers"]["id"] == task_id
    assert len(sent) == 3


def run_process(path: Path, redis_url: str, **env: str) -> tuple[int, str]:
    """`scheduler run` as a process: (exit code, stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "scheduler", "run", str(path), "--redis", redis_url],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        check=False,
    )
    return done.returncode, done.stderr


def test_run_refuses_a_celery_broker_that_is_not_redis(redis_url: str, tmp_path: Path) -> None:
    path = tmp_path / "s.yml"
    path.write_text("targets: {celery: {broker: 'amqp://guest@rabbit//'}}\n" + CELERY_JOB)
    code, err = run_process(path, redis_url)
    assert code == 2
    assert err.count("\n") == 1
    assert "celery broker amqp://guest@rabbit// is not Redis: exactly-once needs" in err


def test_run_refuses_a_celery_broker_on_another_database(redis_url: str, tmp_path: Path) -> None:
    path = tmp_path / "s.yml"
    path.write_text(CELERY_JOB)
    other = redis_url.rsplit("/", 1)[0] + "/5"
    code, err = run_process(path, redis_url, CELERY_BROKER_URL=other)
    assert code == 2
    assert err.count("\n") == 1
    assert "/5 is not the Redis server and database of --redis" in err


def test_the_same_database_written_another_way_is_the_same_broker(
    client: redis.Redis, redis_url: str
) -> None:
    port = redis.Redis.from_url(redis_url).connection_pool.connection_kwargs["port"]
    target = load_target("celery", {"broker": f"redis://localhost:{port}/0"})
    check_brokers(client, {"celery": target})


def test_jitter_becomes_celerys_eta_and_a_paused_job_sends_nothing(
    client: redis.Redis, namespace: str, loop_on: Callable[..., RunLoop]
) -> None:
    prefix = f"{namespace}-celery:"
    text = celery_schedule(prefix).replace("queue: reports", "queue: reports\n    jitter: 10s")
    clock = FakeClock(T0 + 1)
    loop = loop_on(text, clock)
    loop.step()
    clock.advance(15)
    loop.step()
    [sent] = messages(client, f"{prefix}reports")
    eta = sent["headers"]["eta"]
    assert "2026-01-01T00:00:15+00:00" <= eta <= "2026-01-01T00:00:25+00:00"
    assert (sent["headers"]["schedule"], sent["headers"]["scheduled_for"]) == ("report", T0 + 15)
    control = Control(client, Keys(namespace), clock)
    control.pause("report", "tests")
    for _ in range(3):
        clock.advance(15)
        loop.step()
    assert len(messages(client, f"{prefix}reports")) == 1
    control.resume("report")
    clock.advance(1)
    loop.step()
    loop.step()
    caught_up = messages(client, f"{prefix}reports")[1:]  # within misfire_grace: each, once
    assert [m["headers"]["scheduled_for"] for m in caught_up] == [T0 + 30, T0 + 45, T0 + 60]


def test_status_shows_a_celery_jobs_target_and_sent_fire(
    client: redis.Redis, namespace: str, loop_on: Callable[..., RunLoop]
) -> None:
    clock = FakeClock(T0 + 1)
    loop = loop_on(celery_schedule(f"{namespace}-celery:"), clock)
    loop.step()
    clock.advance(15)
    loop.step()
    status = gather(client, Keys(namespace), clock.now(), loop.source.schedule)
    [row] = status["jobs"]
    assert (row["target"], row["task"], row["queue"]) == (
        "celery",
        "myproj.tasks.send_report",
        "reports",
    )
    assert (row["last"], row["last_status"]) == ("2026-01-01T00:00:15Z", "sent")
    assert "-> celery reports" in render(status)
