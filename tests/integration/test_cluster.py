"""Redis Cluster: two namespaces on different shards of a real cluster (tests/topologies.py)
both dispatch and drain through ``redis+cluster://``; one shard's primary is killed, its
replica takes over, and that namespace's fires resume, none doubled."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest
import redis
from redis.cluster import key_slot

from scheduler import aio
from scheduler.queue import Queue
from tests.helpers import wait_until
from tests.topologies import ClusterTopology, Fleet, Node

pytestmark = pytest.mark.slow


def namespaces_on_two_shards(cluster: ClusterTopology, prefix: str) -> tuple[str, str]:
    """Two namespaces whose keys live on different primaries."""
    first = f"{prefix}0"
    home = cluster.primary_of(key_slot(f"{{{first}}}".encode()))
    for n in count(1):
        other = f"{prefix}{n}"
        if cluster.primary_of(key_slot(f"{{{other}}}".encode())) is not home:
            return first, other
    raise AssertionError("unreachable")


def shard_of(cluster: ClusterTopology, namespace: str) -> Node:
    return cluster.primary_of(key_slot(f"{{{namespace}}}".encode()))


@pytest.fixture
def fleets(
    cluster_topology: ClusterTopology, namespace: str, tmp_path: Path
) -> Iterator[tuple[Fleet, Fleet]]:
    hit, spared = namespaces_on_two_shards(cluster_topology, namespace)
    made = tuple(Fleet(cluster_topology.url(), ns, tmp_path / ns) for ns in (hit, spared))
    yield made[0], made[1]
    for fleet in made:
        fleet.stop()


def test_two_namespaces_on_two_shards_survive_one_primary_killed(
    cluster_topology: ClusterTopology, fleets: tuple[Fleet, Fleet]
) -> None:
    hit, spared = fleets
    for command in ("run", "run", "worker"):
        hit.start(command)
    for command in ("run", "worker"):
        spared.start(command)
    for fleet in fleets:
        wait_until(lambda f=fleet: len(f.runs()) >= 3, 30, f"fires in {fleet.namespace}")

    old = shard_of(cluster_topology, hit.namespace)
    assert old is not shard_of(cluster_topology, spared.namespace)
    killed_at = time.time()
    old.stop(kill=True)
    for fleet in fleets:
        wait_until(lambda f=fleet: f.ran_after(killed_at + 5), 30, f"fires\n{fleet.logs()}")
        fleet.stop()

    for fleet in fleets:
        counts = fleet.counts(killed_at)
        print(f"cluster primary killed, namespace={fleet.namespace}: {counts}")
        assert counts["doubled"] == [], fleet.logs()
        assert "Traceback" not in fleet.logs()
    assert shard_of(cluster_topology, hit.namespace) is not old


def test_queue_from_url_and_the_commands_work_on_a_cluster(
    cluster_topology: ClusterTopology, namespace: str
) -> None:
    url = cluster_topology.url()
    with Queue.from_url(url, namespace) as queue:
        queue.enqueue("tests.tasks:noop", queue="mail")
        assert queue.depth("mail") == 1
    done = subprocess.run(
        [sys.executable, "-m", "scheduler", "queues", "--redis", url, "--namespace", namespace],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert "mail" in done.stdout
    for command in (["queue", "pause", "mail"], ["queues"], ["queue", "resume", "mail"]):
        done = subprocess.run(
            [sys.executable, "-m", "scheduler", *command, "--redis", url, "--namespace", namespace],
            capture_output=True,
            text=True,
            check=False,
        )
        assert (done.returncode, done.stderr) == (0, ""), command
        if command == ["queues"]:
            assert done.stdout.splitlines()[-1].endswith("paused")


def test_the_async_queue_from_url_enqueues_reads_and_cancels_on_a_cluster(
    cluster_topology: ClusterTopology, namespace: str
) -> None:
    async def main() -> tuple[int, str, str, int]:
        async with aio.Queue.from_url(cluster_topology.url(), namespace) as queue:
            job_id = await queue.enqueue("tests.tasks:noop", queue="mail", result_ttl=60)
            depth, status = await queue.depth("mail"), (await queue.job(job_id)).status
            return depth, status, await queue.cancel(job_id), await queue.depth("mail")

    assert asyncio.run(main()) == (1, "queued", "cancelled", 0)


def test_a_script_may_build_keys_of_its_own_slot_and_no_other(
    cluster_topology: ClusterTopology, namespace: str
) -> None:
    """What redis-server does with the keys dispatch.lua and reap.lua build from the
    namespace's prefix (docs/operations.md): accepted in the declared key's slot only."""
    declared, built = f"{{{namespace}}}:lease", f"{{{namespace}}}:state:job"
    foreign = f"{{{namespace}-other}}:state:job"
    script = "return redis.call('SET', ARGV[1], '1')"
    with cluster_topology.primary_of(key_slot(declared.encode())).client() as node:
        assert node.eval(script, 1, declared, built) == b"OK"
        with pytest.raises(redis.ResponseError, match=r"same slot|non local"):
            node.eval(script, 1, declared, foreign)
