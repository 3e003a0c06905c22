"""``--durability replicated`` against a real primary and replica (docs/operations.md#durability):
writes wait for the replica, go on unconfirmed while it is frozen (SIGSTOP), and fires no
replica confirmed (its link cut) are sent again after a failover to it; with ``local``
they are lost."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio

from scheduler import aio
from scheduler.clock import FakeClock
from scheduler.dispatch.dispatcher import DispatchSettings
from scheduler.dispatch.leader import LeaseSettings
from scheduler.dispatch.runloop import RunLoop, RunSettings
from scheduler.keys import Keys
from scheduler.ops.status import gather
from scheduler.queue import Queue
from scheduler.registry import AllowList
from scheduler.schedule.watch import ScheduleFile
from scheduler.worker.worker import Worker, WorkerSettings
from tests import tasks
from tests.helpers import wait_until
from tests.redis_server import RedisServer, require_binary

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
SCHEDULE = """\
jobs:
  minutely:
    task: tests.tasks:add
    every: 1m
    misfire: all
"""


class Pair:
    """A primary and its replica, on loopback; the replica can be frozen and promoted."""

    def __init__(self, folder: Path) -> None:
        binary = require_binary()
        for name in ("primary", "replica"):
            (folder / name).mkdir()
        self.primary = RedisServer(binary, folder / "primary")
        self.replica = RedisServer(binary, folder / "replica")
        self.frozen = False

    def start(self) -> None:
        self.primary.start()
        self.replica.start()
        self.replica_client().replicaof("127.0.0.1", self.primary.port)
        wait_until(self.in_sync, what="the replica in sync")

    def in_sync(self) -> bool:
        return self.replica_client().info("replication").get("master_link_status") == "up"

    def replica_client(self) -> redis.Redis:
        return redis.Redis(port=self.replica.port, socket_timeout=5)

    def freeze(self, frozen: bool) -> None:
        assert self.replica.process is not None
        os.kill(self.replica.process.pid, signal.SIGSTOP if frozen else signal.SIGCONT)
        self.frozen = frozen

    def cut(self) -> None:
        """The replica loses its link to the primary: what is written now never reaches it."""
        self.replica_client().replicaof("NO", "ONE")

    def fail_over(self, client: redis.Redis) -> None:
        """Kill the primary, promote the replica, and send ``client`` to it, as a client
        that follows the primary (redis+sentinel://) does."""
        self.primary.stop(kill=True)
        if self.frozen:
            self.freeze(False)
        self.replica_client().replicaof("NO", "ONE")
        client.connection_pool.connection_kwargs["port"] = self.replica.port
        client.connection_pool.disconnect()
        client.connection_pool.reset()

    def stop(self) -> None:
        if self.frozen:
            self.freeze(False)
        self.replica.stop(kill=True)
        self.primary.stop(kill=True)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    made = Pair(tmp_path)
    made.start()
    yield made
    made.stop()


def queued(client: redis.Redis, keys: Keys) -> list[int]:
    raw = client.lrange(keys.queue("default"), 0, -1)
    return sorted(json.loads(payload)["scheduled_for"] for payload in raw)


def test_async_enqueues_wait_for_the_replica_and_go_on_unconfirmed_while_it_is_frozen(
    pair: Pair,
) -> None:
    async def enqueue(queue: aio.Queue, times: int) -> None:
        for i in range(times):
            await queue.enqueue("tests.tasks:add", i, 2)

    async def main() -> tuple[int, int, int]:
        client = redis.asyncio.Redis(port=pair.primary.port)
        async with aio.Queue(client, "durable", durability="replicated") as queue:
            queue.durability.timeout = 0.2
            await enqueue(queue, 1)
            # WAIT: the replica has it as soon as the enqueue returns
            first = pair.replica_client().llen(Keys("durable").queue("default"))
            await asyncio.to_thread(pair.freeze, True)
            await enqueue(queue, 2)
            frozen = queue.durability.unconfirmed
            await asyncio.to_thread(pair.freeze, False)
            await asyncio.to_thread(wait_until, pair.in_sync, what="the replica back")
            queue.durability.probe_every = 0
            await enqueue(queue, 1)
            return first, frozen, queue.durability.unconfirmed

    assert asyncio.run(main()) == (1, 2, 0)
    assert pair.replica_client().llen(Keys("durable").queue("default")) == 4


def test_enqueues_wait_for_the_replica_and_go_on_unconfirmed_while_it_is_frozen(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    client = redis.Redis(port=pair.primary.port)
    queue = Queue(client, "durable", durability="replicated")
    queue.durability.timeout = 0.2
    first = queue.enqueue("tests.tasks:add", 1, 2)
    assert queue.durability.unconfirmed == 0
    assert pair.replica_client().llen(Keys("durable").queue("default")) == 1  # WAIT: it is there

    pair.freeze(True)
    with caplog.at_level(logging.ERROR):
        queue.enqueue("tests.tasks:add", 3, 4)
        queue.enqueue("tests.tasks:add", 5, 6)
    assert queue.durability.unconfirmed == 2
    assert [r.message for r in caplog.records if "NO REPLICA" in r.message][:1]
    assert queue.depth() == 3  # availability first: the jobs are on the primary

    pair.freeze(False)
    wait_until(pair.in_sync, what="the replica back")
    queue.durability.probe_every = 0  # the next enqueue waits again at once
    queue.enqueue("tests.tasks:add", 7, 8)
    assert queue.durability.unconfirmed == 0
    assert pair.replica_client().llen(Keys("durable").queue("default")) == 4
    assert first


def test_acknowledgements_go_on_unconfirmed_while_the_replica_is_frozen(pair: Pair) -> None:
    client = redis.Redis(port=pair.primary.port, socket_timeout=5)
    queue = Queue(client, "durable")
    settings = WorkerSettings(durability="replicated")
    allow = AllowList(prefixes=["tests.tasks"])
    worker = Worker(client, allow, settings, namespace="durable", clock=FakeClock(T0))
    worker.register()
    durability = worker.consumer.durability
    durability.timeout = 0.2
    try:
        pair.freeze(True)
        queue.enqueue("tests.tasks:add", 1, 2)
        assert worker.fetch_once() == 1
        worker.run_pending()
        worker.flush()
        assert worker.fetch_once() == 0  # the acknowledgement goes with the next fetch
        assert durability.unconfirmed >= 1 and durability.unconfirmed_total >= 1
        assert client.llen(Keys("durable").worker_jobs(worker.id, "default")) == 0
        worker.register()
        fields = client.hgetall(Keys("durable").worker(worker.id))
        assert int(fields[b"unconfirmed"]) >= 1 and fields[b"durability"] == b"replicated"

        pair.freeze(False)
        wait_until(pair.in_sync, what="the replica back")
        durability.probe_every = 0
        queue.enqueue("tests.tasks:add", 3, 4)
        assert worker.fetch_once() == 1
        assert durability.unconfirmed == 0
        worker.run_pending()
        assert tasks.CALLS[-2:] == [(1, 2), (3, 4)]
    finally:
        worker.pool.runner.close()
        worker.consumer.close()


def make_loop(client: redis.Redis, path: Path, clock: FakeClock, durability: str) -> RunLoop:
    lease = LeaseSettings(lease=1e6, renew_every=1e5, poll_every=0.25)
    dispatch = DispatchSettings(durability=durability, durability_timeout=0.2)
    settings = RunSettings(lease=lease, dispatch=dispatch)
    return RunLoop(client, Keys("durable"), clock, ScheduleFile(str(path)), settings)


@pytest.mark.parametrize("durability", ["replicated", "local"])
def test_fires_no_replica_confirmed_are_sent_again_after_a_failover(
    pair: Pair, tmp_path: Path, durability: str
) -> None:
    path = tmp_path / "schedule.yml"
    path.write_text(SCHEDULE)
    client = redis.Redis(port=pair.primary.port, socket_timeout=5)
    clock = FakeClock(T0 + 1)
    loop = make_loop(client, path, clock, durability)
    loop.step()
    for minute in range(1, 7):
        if minute == 4:
            pair.cut()  # fires 4, 5 and 6 never reach the replica
        clock.set(T0 + 60 * minute + 1)
        loop.step()
    keys = Keys("durable")
    assert queued(client, keys) == [T0 + 60 * m for m in range(1, 7)]
    [scheduler] = gather(client, keys, clock.now(), None)["schedulers"]
    if durability == "replicated":
        assert scheduler["unconfirmed"] >= 1  # `status` says so
        assert loop.dispatcher.durability.unconfirmed_total >= 1

    pair.fail_over(client)
    clock.set(T0 + 60 * 7 + 1)
    loop.step()
    fires = queued(client, keys)
    if durability == "replicated":
        assert fires == [T0 + 60 * m for m in range(1, 8)]  # each once: none lost, none twice
    else:  # local: the leader goes on from what it sent; the lost fires stay lost
        assert fires == [T0 + 60 * m for m in (1, 2, 3, 7)]


def test_after_a_promotion_a_new_leader_skips_the_fires_the_lost_primary_may_have_sent(
    pair: Pair, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With ``local`` durability, fires 4 and 5 and their watermark never reached the
    replica, yet a worker may have taken them from the old primary: a leader that did not
    enqueue them itself skips them, and what follows up to now (lost, never run twice)."""
    path = tmp_path / "schedule.yml"
    path.write_text(SCHEDULE)
    keys = Keys("durable")
    old = redis.Redis(port=pair.primary.port, socket_timeout=5)
    clock = FakeClock(T0 + 1)
    first = make_loop(old, path, clock, "local")
    first.step()
    for minute in range(1, 6):
        if minute == 4:
            pair.cut()
        clock.set(T0 + 60 * minute + 1)
        first.step()
    assert queued(old, keys) == [T0 + 60 * m for m in range(1, 6)]  # a worker may take 4, 5

    pair.fail_over(old)
    new = redis.Redis(port=pair.replica.port, socket_timeout=5)
    new.delete(keys.lease())  # the first leader is gone with the old primary; its lease ran out
    clock.set(T0 + 60 * 7 + 1)
    second = make_loop(new, path, clock, "local")
    with caplog.at_level(logging.WARNING, logger="scheduler.dispatch.dispatcher"):
        second.step()
    assert queued(new, keys) == [T0 + 60 * m for m in (1, 2, 3)]
    assert "primary promoted since the last term" in caplog.text
    clock.set(T0 + 60 * 8 + 1)
    second.step()
    assert queued(new, keys) == [T0 + 60 * m for m in (1, 2, 3, 8)]
