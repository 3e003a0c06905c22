"""Control commands end to end: the CLI against a real Redis, with an in-process leader
driven by a fake clock where fires matter."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from scheduler.cli import main
from scheduler.clock import FakeClock
from scheduler.keys import Keys
from scheduler.leader import LeaseSettings
from scheduler.runloop import RunLoop, RunSettings
from scheduler.watch import ScheduleFile
from tests.helpers import run_cli

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z

SCHEDULE = """\
jobs:
  minutely:
    task: tests.tasks:add
    every: 1m
    args: [1, 2]
    misfire: skip
  hourly:
    task: tests.tasks:add
    cron: "0 * * * *"
    args: [3, 4]
"""


class Cli:
    def __init__(
        self, url: str, namespace: str, schedule: Path, capsys: pytest.CaptureFixture[str]
    ):
        self.common = ["--redis", url, "--namespace", namespace]
        self.schedule = schedule
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        return run_cli(self.capsys, *args, *self.common)

    def json(self, *args: str) -> object:
        code, out, err = self(*args, "--json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def schedule(tmp_path: Path) -> Path:
    path = tmp_path / "schedule.yml"
    path.write_text(SCHEDULE)
    return path


@pytest.fixture
def cli(redis_url: str, namespace: str, schedule: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(redis_url, namespace, schedule, capsys)


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as c:
        yield c


@pytest.fixture
def leader(
    client: redis.Redis, namespace: str, schedule: Path
) -> Iterator[tuple[RunLoop, FakeClock]]:
    clock = FakeClock(T0 + 1)
    settings = RunSettings(lease=LeaseSettings(lease=3.0, renew_every=1.0, poll_every=0.25))
    loop = RunLoop(client, Keys(namespace), clock, ScheduleFile(str(schedule)), settings)
    loop.step()
    yield loop, clock
    loop.leadership.release()


def scheduled(
    client: redis.Redis, namespace: str, queue: str = "default"
) -> list[tuple[str, int | None]]:
    raw = client.lrange(Keys(namespace).queue(queue), 0, -1)
    return [(p["schedule"], p.get("scheduled_for")) for p in map(json.loads, reversed(raw))]


def test_trigger_enqueues_now_even_with_no_leader_and_leaves_the_watermark(
    cli: Cli, client: redis.Redis, namespace: str, schedule: Path
) -> None:
    document = cli.json("trigger", "minutely", "--schedule", str(schedule))
    assert document["job"] == "minutely"  # type: ignore[index]
    assert scheduled(client, namespace) == [("minutely", None)]
    assert client.hget(Keys(namespace).state("minutely"), "watermark") is None


def test_pause_stops_fires_and_resume_applies_the_misfire_policy(
    cli: Cli, client: redis.Redis, namespace: str, leader: tuple[RunLoop, FakeClock]
) -> None:
    loop, clock = leader
    code, out, _ = cli("pause", "minutely", "--reason", "maintenance window", "--by", "ops")
    assert code == 0
    assert "paused by ops (maintenance window)" in out
    for _ in range(10):  # ten minutes of a paused every-1m job
        clock.advance(60)
        loop.step()
    assert scheduled(client, namespace) == []
    status = cli.json("status")
    [job] = [j for j in status["jobs"] if j["job"] == "minutely"]  # type: ignore[index]
    assert job["paused"]["by"] == "ops"
    assert job["paused"]["reason"] == "maintenance window"

    assert cli("resume", "minutely")[0] == 0
    clock.advance(1)
    loop.step()
    # misfire: skip with a 5-minute grace: only the fires of the last five minutes go in.
    assert scheduled(client, namespace) == [("minutely", T0 + 60 * m) for m in (6, 7, 8, 9, 10)]


def test_backfill_enqueues_each_missed_fire_once_and_a_second_run_nothing(
    cli: Cli, client: redis.Redis, namespace: str, leader: tuple[RunLoop, FakeClock]
) -> None:
    loop, clock = leader
    cli("pause", "minutely")
    clock.advance(20 * 60)
    loop.step()
    cli("resume", "minutely")
    clock.advance(1)
    loop.step()  # fires 00:16 .. 00:20 go in (grace); 00:01 .. 00:15 were skipped
    assert len(scheduled(client, namespace)) == 5
    window = ("--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T00:30:00Z")

    dry = cli.json("backfill", "minutely", *window, "--dry-run")
    outcomes = [f["outcome"] for f in dry["fires"]]  # type: ignore[index]
    assert outcomes == ["enqueued"] * 15 + ["already enqueued"] * 5 + ["pending"] * 10
    assert len(scheduled(client, namespace)) == 5

    first = cli.json("backfill", "minutely", *window)
    assert [f["outcome"] for f in first["fires"]] == outcomes  # type: ignore[index]
    assert sorted(at for _, at in scheduled(client, namespace)) == [
        T0 + 60 * m for m in range(1, 21)
    ]
    second = cli.json("backfill", "minutely", *window)
    assert {f["outcome"] for f in second["fires"]} == {"already enqueued", "pending"}  # type: ignore[index]
    assert len(scheduled(client, namespace)) == 20

    for _ in range(10):  # the dispatcher carries on from its watermark: nothing twice
        clock.advance(60)
        loop.step()
    fires = [at for _, at in scheduled(client, namespace)]
    assert len(fires) == len(set(fires)) == 30


def test_dead_list_show_retry_and_purge(cli: Cli, client: redis.Redis, namespace: str) -> None:
    keys = Keys(namespace)
    for n in (1, 2, 3):
        record = {
            "v": 1, "id": f"job{n}", "task": "tests.tasks:add", "args": [], "kwargs": {},
            "queue": "default", "attempt": 4, "retries": 3, "enqueued_at": T0,
            "error": f"ValueError: boom {n}", "traceback": "Traceback ...", "failed_at": T0 + n,
        }  # fmt: skip
        client.zadd(keys.dead(), {f"job{n}": T0 + n})
        client.hset(keys.dead_jobs(), f"job{n}", json.dumps(record))
    listed = cli.json("dead", "list")
    assert [row["id"] for row in listed] == ["job3", "job2", "job1"]  # type: ignore[union-attr]
    code, out, _ = cli("dead", "show", "job2")
    assert code == 0
    assert "boom 2" in out and "Traceback ..." in out
    assert cli("dead", "show", "nope")[0] == 2

    assert cli.json("dead", "retry", "job1") == {"retried": 1, "unreadable": 0}
    assert json.loads(client.lindex(keys.queue("default"), 0))["attempt"] == 1
    assert cli.json("dead", "purge", "--all") == {"purged": 2}
    assert cli("dead", "list")[1].strip() == "the dead set is empty"
    code, _, err = cli("dead", "retry")
    assert code == 2
    assert "give job ids, or --all" in err


def test_queues_show_depth_age_delayed_and_running(
    cli: Cli, client: redis.Redis, namespace: str, schedule: Path
) -> None:
    cli("trigger", "minutely", "--schedule", str(schedule))
    cli("trigger", "hourly", "--schedule", str(schedule))
    rows = cli.json("queues")
    [row] = rows  # type: ignore[misc]
    assert row["name"] == "default"
    assert row["depth"] == 2
    assert row["delayed"] == 0
    assert row["in_progress"] == 0
    assert row["oldest_age"] is not None and row["oldest_age"] >= 0


def test_health_answers_for_redis_and_for_a_scheduler_of_this_host(
    cli: Cli, leader: tuple[RunLoop, FakeClock]
) -> None:
    assert cli("health")[0] == 0
    code, out, _ = cli("health", "--role", "scheduler", "--max-age", "3600000000")
    assert code == 0, out
    assert socket.gethostname() in out
    code, out, _ = cli("health", "--role", "worker")
    assert code == 1
    assert "no worker" in out


def test_unknown_job_and_unreachable_redis_are_one_line(
    cli: Cli, schedule: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli("pause", "minutly", "--schedule", str(schedule))
    assert code == 2
    assert err.strip() == f"no job named 'minutly' in {schedule} (did you mean 'minutely'?)"
    old = sys.argv
    sys.argv = ["scheduler", "queues", "--redis", "redis://127.0.0.1:1/0"]
    try:
        main()
    except SystemExit as exc:
        assert exc.code == 1
    finally:
        sys.argv = old
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_retry_all_sends_dead_jobs_in_batches_and_leaves_unreadable_ones(
    cli: Cli, client: redis.Redis, namespace: str
) -> None:
    keys = Keys(namespace)
    for n in range(1200):
        record = {
            "v": 1, "id": f"j{n}", "task": "tests.tasks:add", "args": [n, n], "kwargs": {},
            "queue": "default", "attempt": 4, "retries": 3, "enqueued_at": T0,
            "error": "boom", "failed_at": T0,
        }  # fmt: skip
        client.zadd(keys.dead(), {f"j{n}": T0})
        client.hset(keys.dead_jobs(), f"j{n}", json.dumps(record))
    client.zadd(keys.dead(), {"garbled": T0})
    client.hset(keys.dead_jobs(), "garbled", json.dumps({"raw": "not json", "error": "bad"}))
    assert cli.json("dead", "retry", "--all") == {"retried": 1200, "unreadable": 1}
    assert client.llen(keys.queue("default")) == 1200
    assert [row["id"] for row in cli.json("dead", "list")] == ["garbled"]  # type: ignore[union-attr]


def test_a_bad_namespace_or_spin_setting_is_one_line_and_exit_2(
    redis_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "queues", "--redis", redis_url, "--namespace", "bad ns!")
    assert (code, err) == (
        2,
        "error: invalid namespace 'bad ns!': use 1-64 of A-Z a-z 0-9 _ . : -\n",
    )
    worker = [sys.executable, "-m", "scheduler", "worker", "--redis", redis_url, "--burst"]
    env = {**os.environ, "SCHEDULER_SPIN_US": "fast", "SCHEDULER_NAMESPACE": namespace}
    done = subprocess.run(worker, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("error: SCHEDULER_SPIN_US must be microseconds from 0 to 10000")
    assert done.stderr.count("\n") == 1
