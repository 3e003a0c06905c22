"""Control commands end to end: the CLI against a real Redis, with an in-process leader
driven by a fake clock where fires matter."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import redis

from scheduler.cli.main import main
from scheduler.clock import FakeClock
from scheduler.dispatch.leader import LeaseSettings
from scheduler.dispatch.runloop import RunLoop, RunSettings
from scheduler.keys import Keys
from scheduler.registry import AllowList
from scheduler.rules.describe import utc_text
from scheduler.schedule.watch import ScheduleFile
from scheduler.testing import perform_fire
from scheduler.worker.worker import Worker
from tests.helpers import run_cli
from tests.integration.conftest import WorkerFactory

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
    settings = RunSettings(lease=LeaseSettings(lease=300.0, renew_every=1.0, poll_every=0.25))
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


EXPIRING = """\
jobs:
  fresh:
    task: tests.tasks:decoded
    every: 1m
    expires: 10m
"""


def test_every_path_counts_expiry_from_when_the_run_was_due(
    capsys: pytest.CaptureFixture[str],
    client: redis.Redis,
    namespace: str,
    tmp_path: Path,
    redis_url: str,
) -> None:
    # docs/schedule.md, expires: from the fire time; from now for a run asked for by hand.
    path = tmp_path / "expiring.yml"
    path.write_text(EXPIRING)
    common = ("--schedule", str(path), "--redis", redis_url, "--namespace", namespace)
    due = T0 + 3600  # a fire instant of the job, and "now" for every path below
    window = ("--from", utc_text(due - 180), "--to", utc_text(due - 60))
    for command in (("backfill", "fresh", *window), ("trigger", "fresh")):
        code, _, err = run_cli(capsys, *command, *common, clock=FakeClock(due))
        assert (code, err) == (0, "")
    clock = FakeClock(due - 1)
    settings = RunSettings(lease=LeaseSettings(lease=300.0, renew_every=1.0, poll_every=0.25))
    loop = RunLoop(client, Keys(namespace), clock, ScheduleFile(str(path)), settings)
    try:
        loop.step()
        clock.set(due)
        loop.step()  # the fire at `due`, on time
        clock.set(due + 150)
        loop.step()  # two fires, late: their expiry still counts from their fire time
    finally:
        loop.leadership.release()
    ran = perform_fire(str(path), "fresh", datetime.fromtimestamp(due, timezone.utc))

    raw = reversed(client.lrange(Keys(namespace).queue("default"), 0, -1))
    expiry = [(p.get("scheduled_for"), p["expires_at"]) for p in map(json.loads, raw)]
    assert expiry == [
        (due - 120, due + 600),  # backfilled
        (due - 60, due + 600),
        (None, due + 600),  # triggered
        (due, due + 600),  # dispatched
        (due + 60, due + 660),
        (due + 120, due + 720),
    ]
    assert ran is not None and (ran.scheduled_for, ran.expires_at) == (due, due + 600)


MADRID = """\
jobs:
  standup:
    task: tests.tasks:add
    cron: "30 9 * * MON-FRI"
    timezone: Europe/Madrid
"""
MONDAY_NOON = 1_774_872_000  # 2026-03-30T12:00:00Z; Madrid went to summer time on the 29th


def test_backfill_lists_fires_in_the_jobs_zone_and_in_utc(
    cli: Cli, client: redis.Redis, namespace: str, tmp_path: Path
) -> None:
    # Madrid moved to summer time on Sunday 29 March 2020; every fire is before now.
    path = tmp_path / "madrid.yml"
    path.write_text(MADRID)
    window = ("--from", "2020-03-26T12:00:00Z", "--to", "2020-03-30T12:00:00Z")
    code, out, err = cli("backfill", "standup", *window, "--schedule", str(path), "--dry-run")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "standup: at 09:30 on Monday to Friday (cron: 30 9 * * MON-FRI)",
        "  Fri 2020-03-27 09:30:00 +01:00 Europe/Madrid        2020-03-27T08:30:00Z  enqueued",
        "  Mon 2020-03-30 09:30:00 +02:00 Europe/Madrid        2020-03-30T07:30:00Z  enqueued",
        "standup: would enqueue 2 of 2 fires after 2020-03-26T12:00:00Z up to 2020-03-30T12:00:00Z",
    ]
    document = cli.json("backfill", "standup", *window, "--schedule", str(path), "--dry-run")
    assert document["fires"] == [  # type: ignore[index]
        {"at": "2020-03-27T08:30:00Z", "local": "2020-03-27T09:30:00+01:00", "outcome": "enqueued"},
        {"at": "2020-03-30T07:30:00Z", "local": "2020-03-30T09:30:00+02:00", "outcome": "enqueued"},
    ]
    assert (document["from"], document["to"]) == ("2020-03-26T12:00:00Z", "2020-03-30T12:00:00Z")  # type: ignore[index]
    assert scheduled(client, namespace) == []


def test_backfill_reads_now_and_relative_times_on_the_clock(
    capsys: pytest.CaptureFixture[str],
    client: redis.Redis,
    namespace: str,
    tmp_path: Path,
    redis_url: str,
) -> None:
    path = tmp_path / "madrid.yml"
    path.write_text(MADRID)
    common = ("--schedule", str(path), "--redis", redis_url, "--namespace", namespace, "--json")
    clock = FakeClock(MONDAY_NOON)
    code, out, err = run_cli(capsys, "backfill", "standup", "--from", "-4d", *common, clock=clock)
    assert (code, err) == (0, "")  # --to is now by default
    document = json.loads(out)
    assert (document["from"], document["to"]) == ("2026-03-26T12:00:00Z", "2026-03-30T12:00:00Z")
    assert [f["outcome"] for f in document["fires"]] == ["enqueued", "enqueued"]
    assert scheduled(client, namespace) == [
        ("standup", 1_774_600_200),  # 2026-03-27T08:30:00Z
        ("standup", 1_774_855_800),  # 2026-03-30T07:30:00Z
    ]
    # After now, a fire is the dispatcher's to enqueue (pending); now-1w2h is read as well.
    window = ("--from", "now-1w2h", "--to", "+1d")
    code, out, err = run_cli(capsys, "backfill", "standup", *window, *common, clock=clock)
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert (document["from"], document["to"]) == ("2026-03-23T10:00:00Z", "2026-03-31T12:00:00Z")
    assert [(f["at"], f["outcome"]) for f in document["fires"]] == [
        ("2026-03-24T08:30:00Z", "enqueued"),
        ("2026-03-25T08:30:00Z", "enqueued"),
        ("2026-03-26T08:30:00Z", "enqueued"),
        ("2026-03-27T08:30:00Z", "already enqueued"),
        ("2026-03-30T07:30:00Z", "already enqueued"),
        ("2026-03-31T07:30:00Z", "pending"),
    ]


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (("--from", "yesterday"), "'--from': 'yesterday' is not a time: write now, -2h, +30m"),
        (("--from", "-1h", "--to", "-2h"), "'--to': --to must be after --from"),
        (("--from", "-1h", "--to", "2026-03-30T12:00"), "'--to': '2026-03-30T12:00' has no offset"),
    ],
)
def test_backfill_refuses_a_bad_time_in_one_line(
    cli: Cli, window: tuple[str, ...], message: str
) -> None:
    code, out, err = cli("backfill", "minutely", *window)
    assert (code, out) == (2, "")
    [line] = err.splitlines()
    assert message in line


def test_dead_list_show_retry_and_purge(cli: Cli, client: redis.Redis, namespace: str) -> None:
    keys = Keys(namespace)
    for n in (1, 2, 3):
        record = {
            "v": 1,
            "id": f"job{n}",
            "task": "tests.tasks:add",
            "args": [],
            "kwargs": {},
            "queue": "default",
            "attempt": 4,
            "retries": 3,
            "enqueued_at": T0,
            "error": f"ValueError: boom {n}",
            "traceback": "Traceback ...",
            "failed_at": T0 + n,
        }
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
            "v": 1,
            "id": f"j{n}",
            "task": "tests.tasks:add",
            "args": [n, n],
            "kwargs": {},
            "queue": "default",
            "attempt": 4,
            "retries": 3,
            "enqueued_at": T0,
            "error": "boom",
            "failed_at": T0,
        }
        client.zadd(keys.dead(), {f"j{n}": T0})
        client.hset(keys.dead_jobs(), f"j{n}", json.dumps(record))
    client.zadd(keys.dead(), {"garbled": T0})
    client.hset(keys.dead_jobs(), "garbled", json.dumps({"raw": "not json", "error": "bad"}))
    assert cli.json("dead", "retry", "--all") == {"retried": 1200, "unreadable": 1}
    assert client.llen(keys.queue("default")) == 1200
    assert [row["id"] for row in cli.json("dead", "list")] == ["garbled"]  # type: ignore[union-attr]


def test_a_bad_namespace_is_one_line_and_exit_2(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "queues", "--redis", redis_url, "--namespace", "bad ns!")
    assert (code, err) == (
        2,
        "error: invalid namespace 'bad ns!': use 1-64 of A-Z a-z 0-9 _ . : -\n",
    )
    worker = [sys.executable, "-m", "scheduler", "worker", "--redis", redis_url, "--burst"]
    env = {**os.environ, "SCHEDULER_NAMESPACE": "bad ns!"}
    done = subprocess.run(worker, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr == "error: invalid namespace 'bad ns!': use 1-64 of A-Z a-z 0-9 _ . : -\n"


# -- status ------------------------------------------------------------------------------


def job_status(cli: Cli, name: str, *args: str) -> dict[str, Any]:
    [job] = [j for j in cli.json("status", *args)["jobs"] if j["job"] == name]  # type: ignore[index]
    return job  # type: ignore[no-any-return]


def test_status_text_says_who_paused_a_job_when_and_why_and_its_next_fire_is_to_come(
    cli: Cli, client: redis.Redis, leader: tuple[RunLoop, FakeClock]
) -> None:
    loop, clock = leader
    clock.advance(60)
    loop.step()  # minutely fired at 00:01: its watermark stays there while it is paused
    cli("pause", "minutely", "--reason", "maintenance window", "--by", "ops")
    for _ in range(5):
        clock.advance(60)
        loop.step()
    seconds, _ = client.time()
    now = datetime.fromtimestamp(seconds, timezone.utc).isoformat()[:19] + "Z"
    job = job_status(cli, "minutely")
    assert job["next"] > now  # the next fire is one still to come, not 00:02 (long past)
    since = datetime.fromtimestamp(job["paused"]["at"], timezone.utc).isoformat()[:19] + "Z"

    code, out, _ = cli("status")
    assert code == 0
    lines = out.splitlines()
    [row] = [i for i, line in enumerate(lines) if line.strip().startswith("minutely ")]
    assert f"next {job['next']}" in lines[row] and lines[row].endswith("paused")
    assert lines[row + 1].strip() == f"paused by ops since {since}: maintenance window"


def test_pausing_again_without_a_reason_keeps_the_reason_and_since_when(
    cli: Cli, leader: tuple[RunLoop, FakeClock]
) -> None:
    cli("pause", "minutely", "--reason", "db migration", "--by", "alice")
    first = job_status(cli, "minutely")["paused"]
    code, out, _ = cli("pause", "minutely", "--by", "bob")
    assert code == 0
    assert "paused by alice (db migration)" in out
    assert job_status(cli, "minutely")["paused"] == first
    cli("pause", "minutely", "--reason", "still migrating", "--by", "carol")
    again = job_status(cli, "minutely")["paused"]
    assert (again["by"], again["reason"], again["at"]) == ("carol", "still migrating", first["at"])


def test_status_shows_the_outcome_of_the_last_fire_not_of_another_run(
    cli: Cli, leader: tuple[RunLoop, FakeClock], schedule: Path, make_worker: WorkerFactory
) -> None:
    loop, clock = leader
    runs, refuses = make_worker(), make_worker(allow=AllowList(prefixes=["elsewhere"]))
    clock.advance(60)
    loop.step()  # fire 00:01
    drain(runs)
    cli("trigger", "minutely", "--schedule", str(schedule))
    drain(refuses)  # the triggered run dies: its task is not allowed on that worker
    job = job_status(cli, "minutely")
    assert (job["last"], job["last_status"]) == ("2026-01-01T00:01:00Z", "ok")
    assert job["last_run"]["status"] == "dead" and job["last_run"]["fire"] is None

    clock.advance(60)
    loop.step()  # fire 00:02, queued and not run yet
    job = job_status(cli, "minutely")
    assert (job["last"], job["last_status"]) == ("2026-01-01T00:02:00Z", "pending")
    assert job["last_finished"] is None and job["last_error"] is None
    drain(runs)
    assert job_status(cli, "minutely")["last_status"] == "ok"


def drain(worker: Worker) -> None:
    while worker.fetch_once():
        worker.run_pending()
    worker.flush()


def test_status_reads_the_schedule_named_by_the_variable_the_argument_or_the_option(
    cli: Cli, schedule: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SCHEDULER_SCHEDULE", raising=False)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # no schedule.yml here
    assert cli.json("status")["jobs"] == []  # type: ignore[index]
    monkeypatch.setenv("SCHEDULER_SCHEDULE", str(schedule))
    names = ["minutely", "hourly"]
    assert [j["job"] for j in cli.json("status")["jobs"]] == names  # type: ignore[index]
    monkeypatch.delenv("SCHEDULER_SCHEDULE")
    for given in ([str(schedule)], ["--schedule", str(schedule)]):
        assert [j["job"] for j in cli.json("status", *given)["jobs"]] == names  # type: ignore[index]
    code, _, err = cli("status", "nope.yml")
    assert code == 2 and "nope.yml" in err and len(err.splitlines()) == 1


# -- the dead set ------------------------------------------------------------------------


def bury(client: redis.Redis, namespace: str, job_id: str, died: int, **fields: object) -> None:
    """Put a dead job straight into the dead set."""
    record = {"v": 1, "id": job_id, "task": "tests.tasks:add", "args": [], "kwargs": {}}
    record |= {"queue": "default", "attempt": 4, "retries": 3, "enqueued_at": T0}
    record |= {"error": "ValueError: boom", "traceback": "Traceback ...", "failed_at": died}
    record |= fields
    keys = Keys(namespace)
    client.zadd(keys.dead(), {job_id: died})
    client.hset(keys.dead_jobs(), job_id, json.dumps(record))


def test_dead_show_prints_utc_times_and_ids_may_be_a_unique_start(
    cli: Cli, client: redis.Redis, namespace: str
) -> None:
    bury(client, namespace, "7f3a01", T0 + 1)
    bury(client, namespace, "7f3b02", T0 + 2)
    bury(client, namespace, "8c0003", T0 + 3, schedule="nightly", scheduled_for=T0)
    code, out, _ = cli("dead", "show", "8c")
    assert code == 0
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    assert fields["id"] == '"8c0003"'
    assert fields["failed_at"] == "2026-01-01T00:00:03Z"
    assert fields["enqueued_at"] == fields["scheduled_for"] == "2026-01-01T00:00:00Z"
    assert cli.json("dead", "show", "8c0003")["failed_at"] == T0 + 3  # type: ignore[index]

    code, out, err = cli("dead", "show", "7f")
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "dead job id '7f' is ambiguous: 2 dead jobs start with it (give more characters)"
    ]
    code, _, err = cli("dead", "show", "9")
    assert (code, err) == (2, "no dead job with an id that is or starts with '9'\n")

    assert cli("dead", "purge", "8c0", "7f3")[0] == 2  # 7f3 is ambiguous: nothing is purged
    assert client.zcard(Keys(namespace).dead()) == 3
    assert cli.json("dead", "retry", "7f3a") == {"retried": 1, "unreadable": 0}
    assert cli.json("dead", "purge", "7f", "8c0") == {"purged": 2}  # 7f: 7f3b02 alone now
    assert cli("dead", "purge", "7f")[0] == 1  # nothing there any more


def test_dead_list_filters_by_task_queue_job_and_error_and_shows_the_schedule_job(
    cli: Cli, client: redis.Redis, namespace: str
) -> None:
    bury(client, namespace, "a", T0 + 1, task="myapp.mail:send_welcome", queue="mailers")
    bury(client, namespace, "b", T0 + 2, schedule="nightly", error="JobTimeout: ran past 60s")
    bury(client, namespace, "c", T0 + 3, schedule="nightly", queue="reports")
    bury(client, namespace, "d", T0 + 4, task="myapp.mail:send_digest", error="SMTP TIMEOUT")

    def ids(*filters: str) -> list[str]:
        return [row["id"] for row in cli.json("dead", "list", *filters)]  # type: ignore[union-attr]

    assert ids() == ["d", "c", "b", "a"]
    assert ids("--task", "myapp.mail") == ["d", "a"]
    assert ids("--task", "send_welcome") == ["a"]
    assert ids("--queue", "mailers") == ["a"]
    assert ids("--queue", "mail") == []  # a queue is named exactly
    assert ids("--job", "nightly") == ["c", "b"]
    assert ids("--error", "timeout") == ["d", "b"]  # any case
    assert ids("--job", "nightly", "--error", "timeout") == ["b"]
    assert ids("--error", "timeout", "--limit", "1") == ["d"]

    code, out, _ = cli("dead", "list", "--job", "nightly", "--limit", "1")
    assert code == 0
    row, more = out.splitlines()
    assert row.startswith("c  2026-01-01T00:00:03Z  tests.tasks:add  queue reports  job nightly")
    assert more == "1 of 2 matching dead jobs shown (--limit for more)"
    assert "  job -  " in cli("dead", "list", "--task", "send_welcome")[1]
    assert cli("dead", "list", "--queue", "nope")[1] == "no dead job matches\n"
