"""Real Redis topologies on loopback ports, for the tests of Sentinel and Cluster.

``SentinelTopology``: one primary, ``replicas`` replicas and three sentinels (quorum 2)
watching the service ``SERVICE``, tuned to fail over fast (down after one second).
``ClusterTopology``: three primaries with one replica each, made by ``redis-cli --cluster
create``. Both are context managers that return once the topology is whole (every replica
in sync, every sentinel knowing the others, the cluster ``ok``) and kill every process on
exit. The binaries come from PATH: in CI a missing one fails the test, locally it skips.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.helpers import wait_until
from tests.redis_server import RedisServer, require_binary

SERVICE = "primary"
DOWN_AFTER_MS = 1000


def require_tool(name: str) -> str:
    """The binary ``name`` from PATH; in CI a missing one is a failure, locally a skip."""
    found = shutil.which(name)
    if found is None:
        message = f"no {name} on PATH (Debian: apt-get install redis-server redis-tools)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def cluster_port() -> int:
    """A loopback port free now, below 55536, whose cluster bus port (+10000) is free too."""
    while True:
        port = random.randint(20000, 55535)
        if all(_free(p) for p in (port, port + 10000)):
            return port


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Node(RedisServer):
    """A redis-server with extra command-line settings (replica of, cluster mode)."""

    def __init__(self, binary: str, folder: Path, extra: list[str]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        super().__init__(binary, folder)
        self.extra = extra

    def arguments(self) -> list[str]:
        return [*super().arguments(), *self.extra]

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        """A new client of this node alone."""
        return redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=1)

    def info(self, section: str) -> dict[str, object]:
        """INFO ``section`` of this node, or {} when it does not answer."""
        try:
            with self.client() as c:
                return dict(c.info(section))
        except redis.RedisError:
            return {}


class SentinelNode(Node):
    """A redis-server in sentinel mode watching ``SERVICE`` on the primary's port."""

    def __init__(self, binary: str, folder: Path, primary_port: int) -> None:
        super().__init__(binary, folder, [])
        self.config = folder / "sentinel.conf"
        self.config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {folder}\n"
            f"logfile {folder / 'sentinel.log'}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {primary_port} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {SERVICE} 3000\n"
            f"sentinel parallel-syncs {SERVICE} 2\n"
        )

    def arguments(self) -> list[str]:
        return [self.binary, str(self.config), "--sentinel"]

    def service(self) -> dict[str, object]:
        """What this sentinel knows of ``SERVICE`` (SENTINEL MASTER), {} if it cannot say."""
        try:
            with self.client() as c:
                return dict(c.sentinel_master(SERVICE))
        except redis.RedisError:
            return {}


class SentinelTopology:
    """One primary, ``replicas`` replicas and three sentinels on loopback."""

    def __init__(self, folder: Path, replicas: int = 2) -> None:
        binary = require_binary()
        self.primary = Node(binary, folder / "primary", [])
        self.replicas = [
            Node(binary, folder / f"replica{i}", ["--replicaof", "127.0.0.1", "0"])
            for i in range(replicas)
        ]
        self.sentinels: list[SentinelNode] = []
        self._binary, self._folder = binary, folder

    @property
    def servers(self) -> list[Node]:
        """The primary and the replicas, as started (the primary first)."""
        return [self.primary, *self.replicas]

    def url(self, db: int = 0) -> str:
        """``redis+sentinel://`` URL of the service through the three sentinels."""
        hosts = ",".join(s.address for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE}/{db}"

    def current_primary(self) -> Node | None:
        """The server the sentinels name as primary now, if one of ours."""
        for sentinel in self.sentinels:
            port = sentinel.service().get("port")
            for node in self.servers:
                if port == node.port and node.process is not None:
                    return node
        return None

    def __enter__(self) -> SentinelTopology:
        try:
            self.primary.start()
            for replica in self.replicas:
                replica.extra[-1] = str(self.primary.port)
                replica.start()
            self.sentinels = [
                SentinelNode(self._binary, self._folder / f"sentinel{i}", self.primary.port)
                for i in range(3)
            ]
            for sentinel in self.sentinels:
                sentinel.start()
            wait_until(self._whole, timeout=30, what="the sentinel topology to form")
        except BaseException:
            self.__exit__()
            raise
        return self

    def _whole(self) -> bool:
        synced = all(r.info("replication").get("master_link_status") == "up" for r in self.replicas)
        wanted = {"num-slaves": len(self.replicas), "num-other-sentinels": 2}
        known = all(all(s.service().get(k) == v for k, v in wanted.items()) for s in self.sentinels)
        return synced and known

    def __exit__(self, *exc: object) -> None:
        for node in [*self.sentinels, *self.servers]:
            node.stop(kill=True)


class ClusterTopology:
    """Three primaries and three replicas in one Redis Cluster on loopback."""

    def __init__(self, folder: Path, node_timeout_ms: int = 1000) -> None:
        binary = require_binary()
        self._cli = require_tool("redis-cli")
        settings = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
        settings += ["--cluster-node-timeout", str(node_timeout_ms)]
        self.nodes = [Node(binary, folder / f"node{i}", settings) for i in range(6)]
        for node in self.nodes:
            node.port = cluster_port()

    def url(self) -> str:
        """``redis+cluster://`` URL naming every node."""
        return "redis+cluster://" + ",".join(n.address for n in self.nodes)

    def primary_of(self, slot: int) -> Node:
        """The live node that serves ``slot`` now."""
        return self._serving(slot)[0]

    def replicas_of(self, slot: int) -> list[Node]:
        """The replicas of the primary that serves ``slot`` now."""
        return self._serving(slot)[1:]

    def _serving(self, slot: int) -> list[Node]:
        """The primary of ``slot``, then its replicas (CLUSTER SLOTS of a live node)."""
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                with node.client() as c:
                    for start, end, *owners in c.execute_command("CLUSTER", "SLOTS"):
                        if start <= slot <= end:
                            return [self._node(int(owner[1])) for owner in owners]
            except redis.RedisError:
                continue
        raise AssertionError(f"no live node serves slot {slot}")

    def _node(self, port: int) -> Node:
        return next(n for n in self.nodes if n.port == port)

    def __enter__(self) -> ClusterTopology:
        try:
            for node in self.nodes:
                node.start()
            create = [self._cli, "--cluster", "create", *(n.address for n in self.nodes)]
            create += ["--cluster-replicas", "1", "--cluster-yes"]
            subprocess.run(create, check=True, capture_output=True, timeout=60)
            wait_until(self.is_ok, timeout=30, what="the cluster to be ok")
        except BaseException:
            self.__exit__()
            raise
        return self

    def is_ok(self) -> bool:
        """Whether every live node says the cluster is ok and every slot is served."""
        for node in self.nodes:
            if node.process is None:
                continue
            info = _cluster_info(node)
            if info.get("cluster_state") != "ok" or info.get("cluster_slots_ok") != "16384":
                return False
        return True

    def __exit__(self, *exc: object) -> None:
        for node in self.nodes:
            node.stop(kill=True)


def _cluster_info(node: Node) -> dict[str, str]:
    try:
        with node.client() as c:
            text = c.execute_command("CLUSTER", "INFO")
    except redis.RedisError:
        return {}
    text = text.decode() if isinstance(text, bytes) else str(text)
    return dict(line.split(":", 1) for line in text.split() if ":" in line)


FIRE_LOG_SCHEDULE = """\
jobs:
  second:
    task: tests.tasks:log_fire
    every: 1s
    args: [{log}]
"""
ROOT = Path(__file__).resolve().parents[1]


class Fleet:
    """``scheduler run`` processes and workers on one URL and namespace, running a job
    that fires every second and whose runs are appended to ``fire_log`` (tests.tasks:
    log_fire): what ran, and when, survives whatever happens to Redis."""

    def __init__(self, url: str, namespace: str, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.url, self.namespace, self.folder = url, namespace, folder
        self.fire_log = folder / "fires.log"
        self.fire_log.touch()
        self.schedule = folder / "schedule.yml"
        self.schedule.write_text(FIRE_LOG_SCHEDULE.format(log=self.fire_log))
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, command: str, *options: str) -> subprocess.Popen[bytes]:
        """Start ``scheduler COMMAND`` (``run`` or ``worker``) with this fleet's schedule."""
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        where = ["--redis", self.url, "--namespace", self.namespace]
        if command == "run":
            args = ["run", str(self.schedule), *where, "--lease", "1.5", "--poll", "0.1"]
        else:
            args = ["worker", "--schedule", str(self.schedule), *where]
        log = self.folder / f"{command}-{len(self.procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "scheduler", *args, *options], env=env, stderr=out
            )
        self.procs.append(proc)
        return proc

    def runs(self) -> list[tuple[int, float]]:
        """(fire instant, time it ran) of every run so far, in the order they ran."""
        rows = [line.split() for line in self.fire_log.read_text().splitlines()]
        return [(int(fire), float(ran)) for fire, _, ran in rows]

    def ran_after(self, instant: float) -> bool:
        """Whether a fire later than ``instant`` has run."""
        return any(fire > instant for fire, _ in self.runs())

    def counts(self, killed_at: float) -> dict[str, object]:
        """Fires lost and doubled over the whole run, and seconds from ``killed_at`` until
        the first fire after it ran."""
        runs = self.runs()
        fires = sorted(fire for fire, _ in runs)
        doubled = sorted({f for f in fires if fires.count(f) > 1})
        lost = sorted(set(range(fires[0], fires[-1] + 1)) - set(fires))
        resumed = min(ran for fire, ran in runs if fire > killed_at) - killed_at
        return {"fires": len(fires), "lost": lost, "doubled": doubled, "resumed": resumed}

    def logs(self) -> str:
        """Every process's log, for an assertion message."""
        return "\n".join(p.read_text() for p in sorted(self.folder.glob("*-*.log")))

    def stop(self) -> None:
        """SIGTERM every process and wait for it (SIGKILL after ten seconds)."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def assert_queues_command_lists(url: str, namespace: str, queue: str = "mail") -> None:
    """`scheduler queues` on ``url`` runs cleanly and lists ``queue``."""
    done = subprocess.run(
        [sys.executable, "-m", "scheduler", "queues", "--redis", url, "--namespace", namespace],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert queue in done.stdout
