"""The record of enqueued fires (``{ns}:fired:<job>``): its size does not grow with a job's
history, and backfill's dedupe against it stays exact (docs/operations.md#backfill)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from scheduler.clock import FakeClock
from scheduler.dispatch.leader import LeaseSettings
from scheduler.dispatch.runloop import RunLoop, RunSettings
from scheduler.keys import FIRED_KEEP, Keys
from scheduler.ops.control import Control
from scheduler.schedule.loader import Job, load_schedule
from scheduler.schedule.watch import ScheduleFile

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
MINUTE = 60

SCHEDULE = """\
jobs:
  minutely:
    task: tests.tasks:add
    every: 1m
    misfire: skip
    misfire_grace: 2m
    overlap: {overlap}
"""


class Leader:
    """An in-process leader on a fake clock, and the control operations beside it."""

    def __init__(self, client: redis.Redis, namespace: str, path: Path) -> None:
        self.client, self.keys, self.path = client, Keys(namespace), path
        self.clock = FakeClock(T0 + 1)
        lease = LeaseSettings(lease=1e6, renew_every=1e5, poll_every=0.25)
        schedule = ScheduleFile(str(path))
        self.loop = RunLoop(client, self.keys, self.clock, schedule, RunSettings(lease=lease))
        self.control = Control(client, self.keys, self.clock)
        self.loop.step()

    def minutes(self, count: int) -> None:
        """Let ``count`` minutes pass, a tick each minute."""
        for _ in range(count):
            self.clock.advance(MINUTE)
            self.loop.step()

    def job(self) -> Job:
        return load_schedule(str(self.path)).jobs["minutely"]

    def backfill(self, start: int, end: int, dry_run: bool = False) -> list[str]:
        fires = self.control.backfill(self.job(), start, end, dry_run=dry_run)
        return [fire.outcome for fire in fires]

    def queued(self) -> list[int]:
        """Fire instants of the queued runs, oldest enqueue first."""
        raw = reversed(self.client.lrange(self.keys.queue("default"), 0, -1))
        return [json.loads(payload)["scheduled_for"] for payload in raw]

    def drain(self) -> None:
        """Runs end: the queue empties and the overlap marker goes."""
        self.client.delete(self.keys.queue("default"), self.keys.active("minutely"))


MakeLeader = Callable[..., Leader]


@pytest.fixture
def make_leader(client: redis.Redis, namespace: str, tmp_path: Path) -> Iterator[MakeLeader]:
    made: list[Leader] = []

    def make(overlap: str = "allow") -> Leader:
        path = tmp_path / "schedule.yml"
        path.write_text(SCHEDULE.format(overlap=overlap))
        leader = Leader(client, namespace, path)
        made.append(leader)
        return leader

    yield make
    for leader in made:
        leader.loop.leadership.release()


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as c:
        yield c


def at(minute: int) -> int:
    return T0 + minute * MINUTE


def test_the_fired_record_stays_small_however_many_fires_were_enqueued(
    make_leader: MakeLeader,
) -> None:
    leader = make_leader()
    leader.minutes(600)
    assert len(leader.queued()) == 600
    fired = leader.keys.fired("minutely")
    assert leader.client.zcard(fired) == 1
    assert leader.backfill(T0, at(601)) == ["already enqueued"] * 600 + ["pending"]


def test_backfill_enqueues_exactly_the_fires_a_pause_and_the_misfire_policy_dropped(
    make_leader: MakeLeader,
) -> None:
    leader = make_leader()
    leader.minutes(10)
    leader.control.pause("minutely", "ops")
    leader.minutes(10)
    leader.control.resume("minutely")
    leader.minutes(10)  # at 21: 11 .. 19 dropped (misfire: skip, grace 2m), 20 .. 30 go in
    assert leader.queued() == [at(m) for m in [*range(1, 11), *range(20, 31)]]
    assert leader.client.zcard(leader.keys.fired("minutely")) == 2

    expected = ["already enqueued"] * 10 + ["enqueued"] * 9 + ["already enqueued"] * 11
    assert leader.backfill(T0, at(30), dry_run=True) == expected
    assert leader.backfill(T0, at(30)) == expected
    assert sorted(leader.queued()) == [at(m) for m in range(1, 31)]
    assert leader.backfill(T0, at(30)) == ["already enqueued"] * 30
    assert leader.client.zcard(leader.keys.fired("minutely")) == 1  # one stretch again
    leader.minutes(5)
    assert sorted(leader.queued()) == [at(m) for m in range(1, 36)]


def test_backfill_enqueues_exactly_the_fires_overlap_skipped(make_leader: MakeLeader) -> None:
    leader = make_leader(overlap="skip")
    for minute in range(1, 13):
        leader.minutes(1)
        if minute % 3 == 0:
            leader.drain()  # runs end at 3, 6, 9, 12: fires 4, 7, 10 go in next
    ran = [1, 4, 7, 10]
    assert leader.backfill(T0, at(12), dry_run=True) == [
        "already enqueued" if m in ran else "enqueued" for m in range(1, 13)
    ]
    leader.backfill(T0, at(6))
    assert leader.backfill(T0, at(12)) == [
        "already enqueued" if m in ran or m <= 6 else "enqueued" for m in range(1, 13)
    ]
    assert leader.queued() == [at(m) for m in (2, 3, 5, 6, 8, 9, 11, 12)]
    assert leader.backfill(T0 - 10 * MINUTE, at(12)).count("enqueued") == 10  # before it began


def test_a_backfill_of_more_than_one_call_records_one_stretch(make_leader: MakeLeader) -> None:
    leader = make_leader()
    leader.minutes(1)
    start = T0 - 2500 * MINUTE  # before the job existed: never enqueued
    assert leader.backfill(start, at(1)) == ["enqueued"] * 2500 + ["already enqueued"]
    assert leader.client.zcard(leader.keys.fired("minutely")) == 1
    assert set(leader.backfill(start, at(1))) == {"already enqueued"}


def test_fires_of_an_edited_rule_are_unknown_where_the_old_rule_enqueued(
    make_leader: MakeLeader,
) -> None:
    leader = make_leader()
    leader.minutes(10)
    leader.path.write_text(SCHEDULE.format(overlap="allow").replace("every: 1m", "every: 30s"))
    leader.clock.advance(2)  # the file's change is seen at the next step
    leader.loop.step()
    leader.minutes(3)  # the new rule starts from now: 10:30, 11:00, ... are enqueued
    outcomes = leader.backfill(T0 - 5 * MINUTE, at(13))
    before = outcomes[:10]  # fires of the new rule before the job began: never enqueued
    assert before == ["enqueued"] * 10
    assert outcomes[10:30] == ["unknown"] * 20  # the old rule enqueued within that time
    assert "enqueued" not in outcomes[30:] and "unknown" not in outcomes[30:]


def test_the_oldest_stretches_are_dropped_and_then_unknown(make_leader: MakeLeader) -> None:
    leader = make_leader(overlap="skip")
    for _ in range(FIRED_KEEP + 10):
        leader.minutes(2)  # the second fire of each pair is skipped: a stretch each
        leader.drain()
    fired = leader.keys.fired("minutely")
    assert leader.client.zcard(fired) == FIRED_KEEP
    outcomes = leader.backfill(T0, at(2 * (FIRED_KEEP + 10)), dry_run=True)
    # the tenth stretch dropped ends at minute 19: what came after is known exactly
    assert outcomes[:19] == ["unknown"] * 19
    assert outcomes[19:] == ["enqueued"] + ["already enqueued", "enqueued"] * FIRED_KEEP


def test_a_record_of_single_instants_written_before_is_read_as_it_was(
    make_leader: MakeLeader,
) -> None:
    leader = make_leader()
    fired = leader.keys.fired("minutely")
    leader.client.zadd(fired, {str(at(m)): at(m) for m in (-3, -2)})  # the old format
    leader.minutes(2)
    outcomes = leader.backfill(at(-5), at(2), dry_run=True)  # minutes -4 .. 2
    assert outcomes == [
        ("already enqueued" if m in (-3, -2, 1, 2) else "enqueued") for m in range(-4, 3)
    ]
