"""Sentinel: `scheduler run`, `worker` and the control commands through
``redis+sentinel://`` on a real topology (tests/topologies.py), and a primary killed under
load: fires resume on the new primary, none doubled."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler import aio
from scheduler.queue import Queue
from tests.helpers import wait_until
from tests.topologies import Fleet, SentinelTopology

pytestmark = pytest.mark.slow


@pytest.fixture
def fleet(sentinel_topology: SentinelTopology, namespace: str, tmp_path: Path) -> Iterator[Fleet]:
    made = Fleet(sentinel_topology.url(), namespace, tmp_path / "fleet")
    yield made
    made.stop()


def test_a_killed_primary_is_followed_and_fires_resume_none_doubled(
    sentinel_topology: SentinelTopology, fleet: Fleet
) -> None:
    for command in ("run", "run", "worker"):
        fleet.start(command)
    wait_until(lambda: len(fleet.runs()) >= 3, 30, "three fires run")

    old = sentinel_topology.primary
    killed_at = time.time()
    old.stop(kill=True)
    wait_until(lambda: fleet.ran_after(killed_at), 15, f"a fire after the kill\n{fleet.logs()}")
    wait_until(lambda: fleet.ran_after(killed_at + 5), 15, "five more seconds of fires")
    fleet.stop()

    counts = fleet.counts(killed_at)
    print(f"sentinel failover, local durability: {counts}")
    assert counts["doubled"] == [], fleet.logs()
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
    done = subprocess.run(
        [sys.executable, "-m", "scheduler", "queues", "--redis", url, "--namespace", namespace],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert "mail" in done.stdout


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


def test_with_replicated_durability_a_killed_primary_loses_and_doubles_no_fire(
    sentinel_topology: SentinelTopology, fleet: Fleet
) -> None:
    for command in ("run", "run", "worker"):
        fleet.start(command, "--durability", "replicated")
    wait_until(lambda: len(fleet.runs()) >= 3, 30, "three fires run")

    killed_at = time.time()
    sentinel_topology.primary.stop(kill=True)
    wait_until(lambda: fleet.ran_after(killed_at + 5), 30, f"fires after the kill\n{fleet.logs()}")
    fleet.stop()

    counts = fleet.counts(killed_at)
    print(f"sentinel failover, replicated durability: {counts}")
    assert counts["lost"] == [] and counts["doubled"] == [], fleet.logs()
    assert "Traceback" not in fleet.logs()


def test_with_replicated_durability_and_no_replica_left_fires_go_on_unconfirmed(
    tmp_path: Path, namespace: str
) -> None:
    with SentinelTopology(tmp_path / "sentinel", replicas=1) as topology:
        fleet = Fleet(topology.url(), namespace, tmp_path / "fleet")
        try:
            for command in ("run", "run", "worker"):
                fleet.start(command, "--durability", "replicated")
            wait_until(lambda: len(fleet.runs()) >= 3, 30, "three fires run")
            killed_at = time.time()
            topology.primary.stop(kill=True)  # the promoted replica has none to confirm
            wait_until(lambda: fleet.ran_after(killed_at + 5), 30, f"fires\n{fleet.logs()}")
        finally:
            fleet.stop()
    counts = fleet.counts(killed_at)
    print(f"sentinel failover, replicated durability, no replica left: {counts}")
    assert counts["doubled"] == [], fleet.logs()
    assert "NO REPLICA CONFIRMED A WRITE" in fleet.logs()
    assert "Traceback" not in fleet.logs()
