"""Shared fixtures: one real redis-server per test session, a clean namespace per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis_server import RedisServer, require_binary
from tests.topologies import ClusterTopology, SentinelTopology

_namespaces = itertools.count(1)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server shared by the session; tests must not stop it (use `own_redis`)."""
    binary = require_binary()
    with RedisServer(binary, tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server (with AOF) of this test alone, free to stop, kill and restart."""
    binary = require_binary()
    (tmp_path / "redis").mkdir()
    with RedisServer(binary, tmp_path / "redis", appendonly=True) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def namespace() -> str:
    """A namespace no other test in this session uses."""
    return f"test{next(_namespaces)}"


@pytest.fixture
def sentinel_topology(tmp_path: Path) -> Iterator[SentinelTopology]:
    """One primary, two replicas and three sentinels of this test alone (tests/topologies.py;
    a test wanting one replica builds ``SentinelTopology(folder, replicas=1)`` itself)."""
    with SentinelTopology(tmp_path / "sentinel") as topology:
        yield topology


@pytest.fixture
def cluster_topology(tmp_path: Path) -> Iterator[ClusterTopology]:
    """Three primaries and three replicas in one Redis Cluster of this test alone."""
    with ClusterTopology(tmp_path / "cluster") as topology:
        yield topology
