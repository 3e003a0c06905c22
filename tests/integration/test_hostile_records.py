"""Every reader of Redis data against records written straight into Redis (as anyone with
Redis access could): JSON nested 100,000 deep, text that is not JSON, JSON of the wrong
shape. The CLI answers without a traceback and shows what it cannot read as unreadable;
the dashboard answers 200; a scheduler keeps running."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from starlette.testclient import TestClient

from scheduler.clock import FakeClock
from scheduler.dispatch.leader import LeaseSettings
from scheduler.dispatch.runloop import RunLoop, RunSettings
from scheduler.jobs import build_payload, encode
from scheduler.keys import Keys
from scheduler.schedule.watch import ScheduleFile
from scheduler.web import WebSettings, create_app
from tests.helpers import run_cli

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
DEEP = b"[" * 100_000 + b"]" * 100_000
WRONG = json.dumps(
    {
        "id": [1],
        "job": {"a": 1},
        "task": 5,
        "queue": [],
        "attempt": "x",
        "retries": "y",
        "error": 7,
        "failed_at": "soon",
        "finished_at": "inf",
        "duration": "nan",
        "fire": 1e308,
        "since": 1e300,
        "epoch": {},
        "pid": [],
        "enqueued_at": "x",
        "by": 1,
        "at": "x",
        "reason": [],
        "text": 5,
        "digest": [],
        "status": 3,
        "job_id": None,
        "traceback": 9,
    }
).encode()
HOSTILE = {"deep": DEEP, "text": b"\xffnot json", "wrong": WRONG, "list": b"[1, 2]"}
SCHEDULE = "jobs:\n  minutely:\n    task: tests.tasks:add\n    every: 1m\n    args: [1, 2]\n"


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as c:
        yield c


@pytest.fixture
def keys(namespace: str) -> Keys:
    return Keys(namespace)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0 + 1)


@pytest.fixture
def leader(client: redis.Redis, keys: Keys, clock: FakeClock, tmp_path: Path) -> Iterator[RunLoop]:
    path = tmp_path / "schedule.yml"
    path.write_text(SCHEDULE)
    settings = RunSettings(lease=LeaseSettings(lease=3.0, renew_every=1.0, poll_every=0.25))
    loop = RunLoop(client, keys, clock, ScheduleFile(str(path)), settings)
    loop.step()
    yield loop
    loop.leadership.release()


def write_hostile(client: redis.Redis, keys: Keys, bad: bytes) -> None:
    """The bad value in every record a reader parses, beside one good dead job."""
    good = build_payload("tests.tasks:add", [1, 2], {}, enqueued_at=T0, job_id="good")
    client.zadd(keys.dead(), {"good": T0, "bad": T0 + 1})
    client.hset(keys.dead_jobs(), "good", encode({**good, "error": "boom", "failed_at": T0}))
    client.hset(keys.dead_jobs(), "bad", bad)
    client.sadd(keys.queues(), "default")
    client.lpush(keys.queue("default"), bad)  # the oldest job of its queue
    client.zadd(keys.delayed("default"), {bad: T0 + 60})
    for runs in (keys.runs(), keys.runs("minutely")):
        client.lpush(runs, bad)
    client.hset(
        keys.last("minutely"),
        mapping={"status": "ok", "finished_at": "soon", "duration": "x", "fire": "inf"},
    )
    client.hset(keys.paused(), "minutely", bad)
    client.set(keys.lease(), bad, px=3000)
    client.zadd(keys.schedulers(), {"ghost": T0 + 1})
    client.hset(
        keys.scheduler("ghost"), mapping={"pid": "x", "started": "y", "role": "z", "refused": bad}
    )
    client.zadd(keys.fired("minutely"), {"soon": T0})  # a last fire that is no instant
    client.zadd(keys.workers(), {"ghost": T0 + 1})
    client.hset(keys.worker("ghost"), mapping={"queues": bad, "started_at": "x"})
    client.lpush(keys.worker_jobs("ghost", "default"), bad)


@pytest.mark.parametrize("bad", HOSTILE.values(), ids=HOSTILE.keys())
def test_the_cli_reads_hostile_records_without_a_traceback(
    client: redis.Redis, keys: Keys, redis_url: str, bad: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    write_hostile(client, keys, bad)
    client.set(keys.schedule(), bad)

    def cli(*args: str) -> tuple[int, str, str]:
        code, out, err = run_cli(capsys, *args, "--redis", redis_url, "--namespace", keys.namespace)
        assert "Traceback" not in out + err
        return code, out, err

    for command in (["status"], ["status", "--json"], ["queues"], ["queues", "--json"]):
        assert cli(*command)[0] == 0
    code, out, _ = cli("dead", "list")
    assert code == 0 and "good" in out
    assert "bad" in out and ("unreadable" in out or bad == WRONG)
    assert cli("dead", "list", "--json")[0] == 0
    code, out, err = cli("dead", "show", "bad")
    assert code == 0 and ('unreadable: "dead record is' in out or bad == WRONG)
    code, out, err = cli("dead", "retry", "bad")
    assert code == 2 and "dead job bad" in err and len(err.splitlines()) == 1
    code, out, _ = cli("dead", "retry", "--all")
    assert (code, out) == (0, "1 dead jobs enqueued again; 1 unreadable stayed in the dead set\n")
    assert client.zrange(keys.dead(), 0, -1) == [b"bad"]


@pytest.mark.parametrize("bad", HOSTILE.values(), ids=HOSTILE.keys())
def test_status_reads_the_jobs_of_a_schedule_file_beside_hostile_records(
    client: redis.Redis,
    keys: Keys,
    redis_url: str,
    bad: bytes,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_hostile(client, keys, bad)
    client.zadd(keys.fired("minutely"), {str(T0 + 60): T0 + 60})  # its runs are searched
    client.zadd(keys.schedulers(), {"ghost": 2**33})  # a fresh heartbeat, whatever the time
    path = tmp_path / "schedule.yml"
    path.write_text(SCHEDULE)
    where = ("--redis", redis_url, "--namespace", keys.namespace)
    code, out, err = run_cli(capsys, "status", str(path), *where)
    assert (code, err) == (0, "") and "Traceback" not in out
    assert "minutely" in out and "schedule reload refused" in out
    document = json.loads(run_cli(capsys, "status", str(path), "--json", *where)[1])
    [job] = document["jobs"]
    assert (job["last"], job["last_status"]) == ("2026-01-01T00:01:00Z", "pending")


@pytest.mark.parametrize("bad", HOSTILE.values(), ids=HOSTILE.keys())
def test_every_dashboard_page_answers_with_hostile_records(
    client: redis.Redis, keys: Keys, clock: FakeClock, leader: RunLoop, bad: bytes
) -> None:
    write_hostile(client, keys, bad)
    app = create_app(client, keys, clock, WebSettings())
    web = TestClient(app, base_url="http://127.0.0.1:8080", follow_redirects=False)
    pages = {}
    for path in ("/", "/schedules", "/jobs/minutely", "/retries", "/dead", "/dead/bad"):
        page = web.get(path)
        assert page.status_code == 200, path
        pages[path] = page.text
    assert "good" in pages["/dead"]
    if bad != WRONG:
        assert "unreadable lease" in pages["/"]
        assert all("unreadable: run record is" in pages[p] for p in ("/", "/jobs/minutely"))
        assert "1 unreadable, each dead-lettered by a worker" in pages["/retries"]
        assert all("unreadable: dead record is" in pages[p] for p in ("/dead", "/dead/bad"))
    client.set(keys.schedule(), bad)
    for path in ("/", "/schedules", "/jobs/minutely"):
        assert web.get(path).status_code in (200, 404), path


@pytest.mark.parametrize("bad", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_scheduler_waits_out_a_hostile_lease_then_leads_past_a_hostile_watermark(
    client: redis.Redis, keys: Keys, clock: FakeClock, tmp_path: Path, bad: bytes
) -> None:
    client.set(keys.lease(), bad, px=60_000)
    client.hset(keys.state("minutely"), "watermark", bad)
    path = tmp_path / "schedule.yml"
    path.write_text(SCHEDULE)
    settings = RunSettings(lease=LeaseSettings(lease=3.0, renew_every=1.0, poll_every=0.25))
    loop = RunLoop(client, keys, clock, ScheduleFile(str(path)), settings)
    loop.step()
    assert not loop.leadership.is_leader
    client.delete(keys.lease())
    clock.advance(1)
    loop.step()
    assert loop.leadership.is_leader
    clock.advance(60)
    loop.step()
    assert client.llen(keys.queue("default")) == 1
    assert client.hget(keys.state("minutely"), "watermark") == str(T0 + 60).encode()
    loop.leadership.release()
