"""Redis Cluster: two namespaces on different shards of a real cluster (tests/topologies.py)
both dispatch and drain through ``redis+cluster://``; one shard's primary is killed, its
replica takes over, and that namespace's fires resume, none doubled. With replicated
durability each write waits for the replica of its own shard (docs/operations.md)."""

from __future__ import annotations

import asyncio
import os
import signal
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
from scheduler.ops.status import gather
from scheduler.queue import Queue
from scheduler.registry import AllowList
from scheduler.transport.durability import Durability
from scheduler.transport.urls import client_from_url, routed_to
from scheduler.worker.worker import Worker, WorkerSettings
from tests import tasks
from tests.helpers import wait_until
from tests.streams import WORKER_OPTIONS, EnqueueStream, kill_under_load
from tests.topologies import ClusterTopology, Fleet, Node, assert_queues_command_lists

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


def freeze(node: Node, frozen: bool) -> None:
    """SIGSTOP (or SIGCONT) ``node``: a frozen replica confirms nothing."""
    assert node.process is not None
    os.kill(node.process.pid, signal.SIGSTOP if frozen else signal.SIGCONT)


def linked(replica: Node) -> bool:
    return replica.info("replication").get("master_link_status") == "up"


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
    assert_queues_command_lists(url, namespace)
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
    here, there = namespaces_on_two_shards(cluster_topology, f"{namespace}-")
    declared, built = f"{{{here}}}:lease", f"{{{here}}}:state:job"
    foreign = f"{{{there}}}:state:job"  # served by another primary
    script = "return redis.call('SET', ARGV[1], '1')"
    with cluster_topology.primary_of(key_slot(declared.encode())).client() as node:
        assert node.eval(script, 1, declared, built) == b"OK"
        with pytest.raises(redis.ResponseError, match=r"same slot|non local"):
            node.eval(script, 1, declared, foreign)


def replica_of(cluster: ClusterTopology, namespace: str) -> Node:
    """The replica of the namespace's shard, once listed and in sync."""
    slot = key_slot(f"{{{namespace}}}".encode())
    wait_until(lambda: cluster.replicas_of(slot), 30, "the shard's replica listed")
    [replica] = cluster.replicas_of(slot)
    wait_until(lambda: linked(replica), 30, "the shard's replica in sync")
    return replica


def unconfirmed_writes(queue: Queue, worker: Worker, args: tuple[int, int]) -> tuple[bool, bool]:
    """Enqueue a job, fetch, run and acknowledge it: whether the queue has writes no
    replica confirmed, and whether the worker has."""
    queue.enqueue("tests.tasks:add", *args)
    assert worker.fetch_once() == 1
    worker.run_pending()
    worker.flush()
    assert worker.fetch_once() == 0  # the acknowledgement goes with the next fetch
    assert tasks.CALLS[-1] == args
    return queue.durability.unconfirmed > 0, worker.consumer.durability.unconfirmed > 0


def test_replicated_writes_wait_for_the_replica_of_their_own_shard(
    cluster_topology: ClusterTopology, namespace: str
) -> None:
    """An enqueue and a worker's fetch and acknowledgement are confirmed by the replica of
    the namespace's shard: while another shard's replica is frozen they are confirmed,
    while their own is they go on unconfirmed, and they are confirmed once it is back."""
    mine, other = namespaces_on_two_shards(cluster_topology, namespace)
    replica, elsewhere = replica_of(cluster_topology, mine), replica_of(cluster_topology, other)
    client = client_from_url(cluster_topology.url(), socket_timeout=5)
    with cluster_topology.primary_of(key_slot(f"{{{mine}}}".encode())).client() as primary:
        server = primary.info("server")["run_id"]  # what a failover check must ask
    assert client.info("server", **routed_to(client, f"{{{mine}}}:lease"))["run_id"] == server
    queue = Queue(client, mine, durability=Durability("replicated", 0.2, probe_every=0))
    settings = WorkerSettings(durability="replicated")
    worker = Worker(client, AllowList(prefixes=["tests.tasks"]), settings, namespace=mine)
    worker.consumer.durability.timeout, worker.consumer.durability.probe_every = 0.2, 0
    worker.register()
    try:
        for frozen, expected in ((elsewhere, (False, False)), (replica, (True, True))):
            freeze(frozen, True)
            assert unconfirmed_writes(queue, worker, (1, 2)) == expected
            freeze(frozen, False)
            wait_until(lambda node=frozen: linked(node), 30, "the replica back")
        assert unconfirmed_writes(queue, worker, (3, 4)) == (False, False)
    finally:
        for node in (replica, elsewhere):
            freeze(node, False)
        worker.pool.runner.close()
        worker.consumer.close()
        client.close()


def all_confirmed(queue: Queue) -> bool:
    """Whether `status` shows both schedulers and the worker replicated, each with no
    write unconfirmed (a write whose WAIT is under way counts until it returns)."""
    client, keys = queue.client, queue.keys
    rows = gather(client, keys, time.time(), None)["schedulers"]
    schedulers = [(row["durability"], row["unconfirmed"]) for row in rows]
    [worker] = client.zrange(keys.workers(), 0, -1)
    fields = client.hmget(keys.worker(worker.decode()), ["durability", "unconfirmed"])
    return schedulers == [("replicated", 0)] * 2 and fields == [b"replicated", b"0"]


def test_with_replicated_durability_a_cluster_primary_killed_loses_and_doubles_nothing(
    cluster_topology: ClusterTopology, namespace: str, tmp_path: Path
) -> None:
    url = cluster_topology.url()
    fleet = Fleet(url, namespace, tmp_path / "fleet")
    for command in ("run", "run"):
        fleet.start(command, "--durability", "replicated")
    fleet.start("worker", "--durability", "replicated", *WORKER_OPTIONS)
    stream = EnqueueStream(url, namespace, tmp_path / "fleet", "replicated").start()
    primary = shard_of(cluster_topology, namespace)
    fires, jobs = kill_under_load(
        fleet, stream, lambda: primary.stop(kill=True), lambda: all_confirmed(stream.queue)
    )
    print(f"cluster primary killed, replicated durability: fires {fires}, application jobs {jobs}")
    assert fires["lost"] == [] and fires["doubled"] == [], fleet.logs()
    assert jobs["lost"] == [] and jobs["twice"] == [], fleet.logs()
    assert "Traceback" not in fleet.logs()
