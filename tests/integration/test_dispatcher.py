"""The dispatcher in-process, against a real Redis, driven by hand with fake clocks.

Each test builds one or more ``RunLoop``s (leader election, housekeeping, dispatcher) on
the same namespace and calls ``step()`` after moving their clocks; what reached Redis is
read back from the queue lists.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from scheduler.clock import FakeClock, RedisClock
from scheduler.dispatch.leader import LeaseSettings
from scheduler.dispatch.runloop import RunLoop, RunSettings, check_eviction
from scheduler.errors import ConfigError
from scheduler.keys import Keys
from scheduler.ops.status import gather, published_schedule
from scheduler.schedule.watch import ScheduleFile

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z

EVERY_15S = """\
jobs:
  tick:
    task: app.tasks:tick
    every: 15s
"""


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as c:
        yield c


@pytest.fixture
def keys(namespace: str) -> Keys:
    return Keys(namespace)


@pytest.fixture
def schedule_file(tmp_path: Path) -> Callable[[str], Path]:
    path = tmp_path / "schedule.yml"

    def write(text: str) -> Path:
        path.write_text(text)
        return path

    return write


LoopFactory = Callable[..., RunLoop]


@pytest.fixture
def make_loop(client: redis.Redis, keys: Keys) -> Iterator[LoopFactory]:
    loops: list[RunLoop] = []

    def make(path: Path, clock: FakeClock) -> RunLoop:
        settings = RunSettings(lease=LeaseSettings(lease=300.0, renew_every=1.0, poll_every=0.25))
        loop = RunLoop(client, keys, clock, ScheduleFile(str(path)), settings)
        loops.append(loop)
        return loop

    yield make
    for loop in loops:
        loop.leadership.release()


def fires(client: redis.Redis, keys: Keys, queue: str = "default") -> list[tuple[str, int]]:
    """(job, scheduled_for) of every payload in a queue, oldest first."""
    raw = client.lrange(keys.queue(queue), 0, -1)
    return [(p["schedule"], p["scheduled_for"]) for p in map(json.loads, reversed(raw))]


def advance(clock: FakeClock, loop: RunLoop, seconds: float) -> None:
    clock.advance(seconds)
    loop.step()


def test_the_leader_enqueues_each_fire_once_from_the_first_after_it_started(
    client: redis.Redis, keys: Keys, make_loop: LoopFactory, schedule_file: Callable[[str], Path]
) -> None:
    clock = FakeClock(T0 + 5)
    loop = make_loop(schedule_file(EVERY_15S), clock)
    loop.step()
    assert loop.leadership.is_leader
    assert fires(client, keys) == []  # a new job starts now: nothing from before T0 + 5

    for _ in range(6):
        advance(clock, loop, 10)
    assert fires(client, keys) == [("tick", T0 + 15 * k) for k in (1, 2, 3, 4)]


def test_a_standby_enqueues_nothing_and_takes_over_where_the_leader_stopped(
    client: redis.Redis, keys: Keys, make_loop: LoopFactory, schedule_file: Callable[[str], Path]
) -> None:
    path = schedule_file(EVERY_15S)
    clock_a, clock_b = FakeClock(T0), FakeClock(T0)
    a, b = make_loop(path, clock_a), make_loop(path, clock_b)
    a.step()
    b.step()
    assert (a.leadership.is_leader, b.leadership.is_leader) == (True, False)
    for loop, clock in ((a, clock_a), (b, clock_b)) * 3:
        advance(clock, loop, 10)
    assert fires(client, keys) == [("tick", T0 + 15), ("tick", T0 + 30)]

    client.delete(keys.lease())  # a's lease runs out (it froze)
    advance(clock_b, b, 10)
    assert b.leadership.is_leader
    # a wakes up and, before it renews, ticks as the leader it believes it is: Redis
    # refuses the enqueue (fencing), and a steps down.
    clock_a.advance(20)
    report = a.dispatcher.tick(clock_a.now())
    assert report.not_leader
    assert report.enqueued == 0
    assert a.leadership.epoch is None
    advance(clock_b, b, 20)
    assert fires(client, keys) == [("tick", T0 + 15 * k) for k in (1, 2, 3, 4)]


def test_a_fire_already_enqueued_is_refused_by_redis(
    client: redis.Redis, keys: Keys, make_loop: LoopFactory, schedule_file: Callable[[str], Path]
) -> None:
    clock = FakeClock(T0)
    loop = make_loop(schedule_file(EVERY_15S), clock)
    loop.step()
    advance(clock, loop, 30)
    assert len(fires(client, keys)) == 2
    # Make this leader forget what it did; Redis's watermark still stops a repeat.
    dispatcher = loop.dispatcher
    dispatcher._watermarks["tick"] = T0
    dispatcher.remembered.clear()
    dispatcher._plan_next("tick")
    report = dispatcher.tick(clock.now())
    assert (report.enqueued, report.duplicates) == (0, 2)
    assert len(fires(client, keys)) == 2


MINUTELY = """\
jobs:
  minutely:
    task: app.tasks:tick
    every: 1m
    misfire: {policy}
"""


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        # Away 10 minutes (until T0 + 661) with a 5-minute grace: the fires of the last 5
        # minutes go in late; the older ones follow the policy (once: the late runs cover them).
        ("once", [7, 8, 9, 10, 11]),
        ("skip", [7, 8, 9, 10, 11]),
        ("all", [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
    ],
)
def test_fires_missed_while_leaderless_follow_the_grace_and_policy(
    client: redis.Redis,
    keys: Keys,
    make_loop: LoopFactory,
    schedule_file: Callable[[str], Path],
    policy: str,
    expected: list[int],
) -> None:
    clock = FakeClock(T0 + 1)
    loop = make_loop(schedule_file(MINUTELY.format(policy=policy)), clock)
    loop.step()
    advance(clock, loop, 60)
    assert fires(client, keys) == [("minutely", T0 + 60)]
    clock.advance(600)  # nobody ticks for ten minutes
    loop.step()
    assert fires(client, keys)[1:] == [("minutely", T0 + 60 * m) for m in expected]


def test_a_paused_job_does_not_fire_and_resumes_by_its_misfire_policy(
    client: redis.Redis, keys: Keys, make_loop: LoopFactory, schedule_file: Callable[[str], Path]
) -> None:
    clock = FakeClock(T0 + 1)
    loop = make_loop(schedule_file(MINUTELY.format(policy="skip")), clock)
    loop.step()
    client.hset(keys.paused(), "minutely", json.dumps({"by": "test", "reason": "maintenance"}))
    for _ in range(3):
        advance(clock, loop, 60)
    assert fires(client, keys) == []

    client.hdel(keys.paused(), "minutely")
    advance(clock, loop, 1)
    assert fires(client, keys) == [("minutely", T0 + 60 * m) for m in (1, 2, 3)]


def test_a_job_added_to_the_file_starts_now_and_a_bad_edit_keeps_the_old_schedule(
    client: redis.Redis,
    keys: Keys,
    make_loop: LoopFactory,
    schedule_file: Callable[[str], Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(T0 + 1)
    path = schedule_file(EVERY_15S)
    loop = make_loop(path, clock)
    loop.step()
    path.write_text(EVERY_15S + "  broken:\n    task: app.tasks:x\n    every: soon\n")
    with caplog.at_level(logging.ERROR):
        loop.request_reload()
        advance(clock, loop, 15)
    assert "schedule reload refused" in caplog.text
    assert "soon" in caplog.text
    assert fires(client, keys) == [("tick", T0 + 15)]

    path.write_text(EVERY_15S + "  later:\n    task: app.tasks:x\n    every: 10s\n")
    loop.request_reload()
    advance(clock, loop, 1)  # 'later' is new at T0 + 17: its first fire is T0 + 20
    advance(clock, loop, 13)
    assert fires(client, keys) == [
        ("tick", T0 + 15),
        ("later", T0 + 20),
        ("later", T0 + 30),
        ("tick", T0 + 30),
    ]


def test_a_schedule_with_a_warning_runs_and_logs_the_warning_at_each_load(
    client: redis.Redis,
    keys: Keys,
    make_loop: LoopFactory,
    schedule_file: Callable[[str], Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(T0 + 1)
    path = schedule_file(EVERY_15S)
    loop = make_loop(path, clock)
    loop.step()
    path.write_text(EVERY_15S + "  croniter:\n    task: app.tasks:x\n    cron: '30 9 * * * 0'\n")
    with caplog.at_level(logging.WARNING):
        loop.request_reload()
        advance(clock, loop, 15)
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert record.getMessage().startswith(f"schedule warning: {path}:")
    assert "job 'croniter': cron '30 9 * * * 0' has six fields" in record.getMessage()
    assert "croniter" in loop.source.schedule.jobs  # taken: a warning does not refuse it
    assert fires(client, keys) == [("tick", T0 + 15)]


def test_a_job_whose_rule_changes_starts_from_now(
    client: redis.Redis, keys: Keys, make_loop: LoopFactory, schedule_file: Callable[[str], Path]
) -> None:
    clock = FakeClock(T0 + 1)
    path = schedule_file(MINUTELY.format(policy="all"))
    loop = make_loop(path, clock)
    loop.step()
    advance(clock, loop, 90)  # fire at T0 + 60; watermark T0 + 60
    path.write_text(MINUTELY.format(policy="all").replace("every: 1m", "every: 10s"))
    loop.request_reload()
    advance(clock, loop, 20)  # now T0 + 111: no catch-up of T0+70..T0+110 under the new rule
    advance(clock, loop, 0)
    advance(clock, loop, 10)
    assert fires(client, keys) == [("minutely", T0 + 60), ("minutely", T0 + 120)]


def test_a_job_back_in_the_file_keeps_its_place_and_its_state(
    client: redis.Redis, keys: Keys, make_loop: LoopFactory, schedule_file: Callable[[str], Path]
) -> None:
    clock = FakeClock(T0 + 1)
    path = schedule_file(EVERY_15S)
    loop = make_loop(path, clock)
    loop.step()
    advance(clock, loop, 15)  # fire at T0 + 15
    path.write_text(EVERY_15S.replace("tick:", "tock:"))
    loop.request_reload()
    advance(clock, loop, 1)
    assert client.ttl(keys.state("tick")) > 0  # gone from the file: kept for a while
    path.write_text(EVERY_15S)
    loop.request_reload()
    advance(clock, loop, 1)
    client.delete(keys.lease())  # a new term adopts the file again
    advance(clock, loop, 1)
    assert client.ttl(keys.state("tick")) == -1
    assert client.hget(keys.state("tick"), "watermark") == str(T0 + 15).encode()


def test_a_new_term_on_an_unchanged_file_writes_no_job_state(
    client: redis.Redis, keys: Keys, make_loop: LoopFactory, schedule_file: Callable[[str], Path]
) -> None:
    clock = FakeClock(T0 + 1)
    loop = make_loop(schedule_file(EVERY_15S), clock)
    loop.step()
    advance(clock, loop, 15)
    state = keys.state("tick")
    client.config_set("notify-keyspace-events", "Kgh")
    events = client.pubsub()
    events.subscribe(f"__keyspace@0__:{state}")
    first_term = loop.leadership.epoch
    client.delete(keys.lease())
    while loop.leadership.epoch in (None, first_term):
        advance(clock, loop, 1)
    client.hincrby(state, "probe", 1)  # the last event: every one before it was the term's
    seen = []
    while (message := events.get_message(timeout=5)) is None or message["data"] != b"hincrby":
        if message is not None and message["type"] == "message":
            seen.append(message["data"])
    events.close()
    client.config_set("notify-keyspace-events", "")
    client.hdel(state, "probe")
    assert seen == []


def test_overlap_skip_skips_fires_while_the_previous_run_is_active(
    client: redis.Redis, keys: Keys, make_loop: LoopFactory, schedule_file: Callable[[str], Path]
) -> None:
    clock = FakeClock(T0 + 1)
    loop = make_loop(schedule_file(EVERY_15S + "    overlap: skip\n"), clock)
    loop.step()
    for _ in range(3):
        advance(clock, loop, 15)
    assert fires(client, keys) == [("tick", T0 + 15)]
    assert loop.dispatcher.watermarks["tick"] == T0 + 45
    client.delete(keys.active("tick"))  # the run finished
    advance(clock, loop, 15)
    assert fires(client, keys) == [("tick", T0 + 15), ("tick", T0 + 60)]


def test_jitter_delays_the_run_not_the_fire(
    client: redis.Redis, keys: Keys, make_loop: LoopFactory, schedule_file: Callable[[str], Path]
) -> None:
    clock = FakeClock(T0 + 1)
    loop = make_loop(schedule_file(EVERY_15S + "    jitter: 10m\n"), clock)
    loop.step()
    advance(clock, loop, 15)
    assert fires(client, keys) == []
    [(payload, due)] = client.zrange(keys.delayed("default"), 0, -1, withscores=True)
    assert json.loads(payload)["scheduled_for"] == T0 + 15
    assert T0 + 15 <= due <= T0 + 15 + 600


def test_redis_losing_its_data_never_repeats_what_this_process_enqueued(
    client: redis.Redis,
    keys: Keys,
    make_loop: LoopFactory,
    schedule_file: Callable[[str], Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(T0 + 1)
    loop = make_loop(schedule_file(EVERY_15S), clock)
    loop.step()
    advance(clock, loop, 30)
    assert len(fires(client, keys)) == 2
    client.delete(*client.keys(f"{keys.prefix}*"))  # everything of the namespace is gone
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            advance(clock, loop, 1.5)
    assert "REDIS LOST ITS DATA" in caplog.text
    assert fires(client, keys) == []  # T0+15 and T0+30 are not enqueued again
    advance(clock, loop, 11)
    assert fires(client, keys) == [("tick", T0 + 45)]


def test_replicas_with_different_schedules_warn_with_both_digests(
    make_loop: LoopFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "a.yml").write_text(EVERY_15S)
    (tmp_path / "b.yml").write_text(EVERY_15S.replace("15s", "20s"))
    clock = FakeClock(T0)
    a = make_loop(tmp_path / "a.yml", clock)
    b = make_loop(tmp_path / "b.yml", clock)
    a.step()
    with caplog.at_level(logging.WARNING):
        b.step()
        assert "different schedules" not in caplog.text  # replicas may be a reload apart
        for _ in range(int(b.settings.divergence_grace) + 2):
            clock.advance(1)
            a.step()
            b.step()
    assert caplog.text.count("replicas run different schedules") == 1
    assert a.source.schedule.digest in caplog.text
    assert b.source.schedule.digest in caplog.text


def test_status_shows_the_leader_its_schedule_and_each_job(
    client: redis.Redis, keys: Keys, make_loop: LoopFactory, schedule_file: Callable[[str], Path]
) -> None:
    clock = FakeClock(T0 + 1)
    loop = make_loop(schedule_file(EVERY_15S), clock)
    loop.step()
    advance(clock, loop, 15)
    schedule = published_schedule(client, keys)
    assert schedule is not None
    report = gather(client, keys, clock.now(), schedule)
    assert report["leader"]["id"] == loop.leadership.id
    assert [s["role"] for s in report["schedulers"]] == ["leader"]
    [job] = report["jobs"]
    assert job["job"] == "tick"
    assert job["last"] == "2026-01-01T00:00:15Z"
    assert job["next"] == "2026-01-01T00:00:30Z"
    assert report["queues"] == {"default": 1}


def test_a_redis_that_may_evict_keys_is_refused_unless_allowed(own_redis: object) -> None:
    url = own_redis.url  # type: ignore[attr-defined]
    with redis.Redis.from_url(url) as c:
        c.config_set("maxmemory-policy", "allkeys-lru")
        with pytest.raises(ConfigError, match="allkeys-lru"):
            check_eviction(c, allow=False)
        check_eviction(c, allow=True)
        c.config_set("maxmemory-policy", "noeviction")
        check_eviction(c, allow=False)


def test_the_redis_clock_ignores_the_host_clock(
    client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    seconds, micros = client.time()
    server_now = seconds + micros / 1e6
    monkeypatch.setattr(time, "time", lambda: server_now + 86_400)  # this host is a day ahead
    assert abs(RedisClock(client).now() - server_now) < 1.0


def test_dispatchers_whose_clocks_disagree_still_enqueue_each_fire_once(
    client: redis.Redis, keys: Keys, make_loop: LoopFactory, schedule_file: Callable[[str], Path]
) -> None:
    """Were "now" read from skewed host clocks, a failover between them would still repeat
    and lose nothing: fires are identified by (job, fire time) and fenced by the watermark."""
    path = schedule_file(EVERY_15S)
    ahead, behind = FakeClock(T0 + 90), FakeClock(T0 - 90)
    a, b = make_loop(path, ahead), make_loop(path, behind)
    a.step()
    b.step()
    for _ in range(4):
        advance(ahead, a, 15)
        advance(behind, b, 15)
    client.delete(keys.lease())  # a goes away; b, three minutes behind, takes over
    for _ in range(20):
        advance(behind, b, 15)
        advance(ahead, a, 0)
    got = [at for _, at in fires(client, keys)]
    assert got == sorted(set(got))
    assert got == list(range(got[0], got[-1] + 15, 15))
    assert got[-1] >= T0 + 195


def test_a_renewal_due_just_before_a_fire_waits_until_the_fire_is_enqueued(
    client: redis.Redis, keys: Keys, make_loop: LoopFactory, schedule_file: Callable[[str], Path]
) -> None:
    """Renewing the lease and the heartbeat take round trips: due 10 ms before a fire, they
    would make it late; they run in the same pass, just after it."""
    clock = FakeClock(T0 + 15 - 1.01)
    loop = make_loop(schedule_file(EVERY_15S), clock)
    loop.step()  # leader; the next renewal and heartbeat are due at T0 + 15 - 0.01
    wait = loop.step()
    assert wait == pytest.approx(1.01)  # until the fire, not the renewal before it
    advance(clock, loop, wait)
    assert fires(client, keys) == [("tick", T0 + 15)]
    assert loop.step() == pytest.approx(1.0)  # renewed in that pass: due again in a second


def test_the_redis_clock_measures_its_offset_before_a_wait_that_would_outlast_it(
    client: redis.Redis,
) -> None:
    """So that reading the time when the wait ends (a fire is due) costs no round trip."""
    clock = RedisClock(client, resync=10.0)
    clock.now()
    woken = threading.Event()
    woken.set()  # the waits below return at once: only the measuring is observed

    def time_calls() -> int:
        return int(client.info("commandstats").get("cmdstat_time", {}).get("calls", 0))

    before = time_calls()
    clock.wait(woken, 9.0)
    assert time_calls() == before
    clock.wait(woken, 11.0)
    assert time_calls() == before + 3
    clock.now()
    assert time_calls() == before + 3
