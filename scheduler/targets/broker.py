"""The same-Redis rule: a target's broker must be the server and database of ``--redis``.

A fire is exactly once only because one script writes the target's message and moves the
watermark together; that needs the message's keys in the same Redis database as the
scheduler's own. A broker elsewhere (another server or database, or not Redis at all) is
refused when ``scheduler run`` starts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urlsplit

import redis

from ..errors import TargetError
from .base import Target

log = logging.getLogger(__name__)

REDIS_SCHEMES = ("redis", "rediss", "unix")
WHY = "exactly-once needs the fire written by the script that moves the watermark"


def check_brokers(client: redis.Redis, targets: Mapping[str, Target]) -> None:
    """Raise TargetError unless every target's broker is ``client``'s server and database.

    A target whose broker is not named anywhere is taken to use ``--redis``, and logged."""
    for key, target in targets.items():
        url = target.broker_url()
        if url is None:
            log.info("target broker assumed to be --redis target=%s", key)
            continue
        scheme = urlsplit(url).scheme.lower()
        if scheme not in REDIS_SCHEMES:
            raise TargetError(
                f"{key} broker {_safe(url)} is not Redis: {WHY}, so {key} must use the "
                "Redis server and database of --redis as its broker"
            )
        if _identity(redis.Redis.from_url(url)) != _identity(client):
            raise TargetError(
                f"{key} broker {_safe(url)} is not the Redis server and database of "
                f"--redis: {WHY}; point both at the same server and database"
            )


def _identity(client: redis.Redis) -> tuple[str, int]:
    """(the server's run id, the database number): the same for two URLs of one database."""
    try:
        run_id = str(client.info("server").get("run_id", ""))
    except redis.RedisError as error:
        raise TargetError(f"cannot reach the target's broker to compare it: {error}") from None
    db = int(client.connection_pool.connection_kwargs.get("db", 0) or 0)
    return run_id, db


def _safe(url: str) -> str:
    """``url`` without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)
