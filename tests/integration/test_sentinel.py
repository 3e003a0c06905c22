"""Sentinel: `scheduler run`, `worker` and the control commands through
``redis+sentinel://`` on a real topology (tests/topologies.py), and a primary killed under
load (the every-second job and a stream of application enqueues): fires resume on the new
primary, none doubled; with replicated durability no fire and no acknowledged enqueue is
lost and no job runs twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler import aio
from scheduler.queue import Queue
from tests.streams import WORKER_OPTIONS, EnqueueStream, kill_under_load
from tests.topologies import Fleet, SentinelTopology, assert_queues_command_lists

pytestmark = pytest.mark.slow


@pytest.fixture
def fleet(sentinel_topology: SentinelTopology, namespace: str, tmp_path: Path) -> Iterator[Fleet]:
    made = Fleet(sentinel_topology.url(), namespace, tmp_path / "fleet")
    yield made
    made.stop()


def fail_over_under_load(
    topology: SentinelTopology, fleet: Fleet, durability: str
) -> tuple[dict[str, object], dict[str, object]]:
    """2 `scheduler run` + 1 worker on the every-second job and a stream of application
    enqueues, all with ``durability``; SIGKILL the primary, let five seconds of fires run
    on the new one, drain the application jobs: (fire counts, application job counts)."""
    options = ("--durability", durability)
    for command in ("run", "run"):
        fleet.start(command, *options)
    fleet.start("worker", *options, *WORKER_OPTIONS)
    stream = EnqueueStream(topology.url(), fleet.namespace, fleet.folder, durability).start()
    return kill_under_load(fleet, stream, lambda: topology.primary.stop(kill=True), lambda: True)


def test_a_killed_primary_is_followed_and_fires_resume_none_doubled(
    sentinel_topology: SentinelTopology, fleet: Fleet
) -> None:
    old = sentinel_topology.primary
    fires, jobs = fail_over_under_load(sentinel_topology, fleet, "local")

    print(f"sentinel failover, local durability: fires {fires}, application jobs {jobs}")
    assert fires["doubled"] == [], fleet.logs()
    new = sentinel_topology.current_primary()
    assert new is not None and new is not old
    logs = fleet.logs()
    assert "redis primary changed service=primary" in logs
    assert "Traceback" not in logs


def test_the_commands_and_queue_from_url_reach_the_primary_through_the_sentinels(
    sentinel_topology: SentinelTopology, namespace: str
) -> None:
    url = sentinel_topology.url()
    with Queue.from_url(url, namespace) as queue:
        queue.enqueue("tests.tasks:noop", queue="mail")
    with sentinel_topology.primary.client() as primary:
        assert primary.llen(f"{{{namespace}}}:queue:mail") == 1
    assert_queues_command_lists(url, namespace)


def test_the_async_queue_from_url_reaches_the_primary_through_the_sentinels(
    sentinel_topology: SentinelTopology, namespace: str
) -> None:
    async def main() -> tuple[str, int, str]:
        async with aio.Queue.from_url(sentinel_topology.url(), namespace) as queue:
            job_id = await queue.enqueue("tests.tasks:noop", queue="mail", result_ttl=60)
            return job_id, await queue.depth("mail"), (await queue.job(job_id)).status

    job_id, depth, status = asyncio.run(main())
    assert (depth, status) == (1, "queued")
    with sentinel_topology.primary.client() as primary:
        assert primary.llen(f"{{{namespace}}}:queue:mail") == 1
        assert primary.hget(f"{{{namespace}}}:job:{job_id}", "status") == b"queued"


def test_with_replicated_durability_a_killed_primary_loses_and_doubles_nothing(
    sentinel_topology: SentinelTopology, fleet: Fleet
) -> None:
    fires, jobs = fail_over_under_load(sentinel_topology, fleet, "replicated")

    print(f"sentinel failover, replicated durability: fires {fires}, application jobs {jobs}")
    assert fires["lost"] == [] and fires["doubled"] == [], fleet.logs()
    assert jobs["lost"] == [] and jobs["twice"] == [], fleet.logs()
    assert "Traceback" not in fleet.logs()


def test_with_replicated_durability_and_no_replica_left_work_goes_on_unconfirmed(
    tmp_path: Path, namespace: str
) -> None:
    with SentinelTopology(tmp_path / "sentinel", replicas=1) as topology:
        fleet = Fleet(topology.url(), namespace, tmp_path / "fleet")
        fires, jobs = fail_over_under_load(topology, fleet, "replicated")  # none to confirm after

    print(f"sentinel failover, replicated, no replica left: fires {fires}, application jobs {jobs}")
    assert fires["doubled"] == [], fleet.logs()
    assert jobs["lost"] == [] and jobs["twice"] == [], fleet.logs()
    assert "NO REPLICA CONFIRMED A WRITE" in fleet.logs()
    assert "Traceback" not in fleet.logs()
