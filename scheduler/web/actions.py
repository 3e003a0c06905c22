"""What the dashboard's buttons do beyond ``scheduler.control``: waiting retries.

A retry waits in its queue's delayed set until its due time. "Run now" makes it due now
(``ZADD XX``: only if it is still waiting) and wakes idle workers, whose next fetch
promotes it; "delete" removes it. Both find the entry by job id.
"""

from __future__ import annotations

import re

import redis

from ..keys import Keys
from ..queue import Queue

_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")
_WAKE_TOKENS = 16  # as in _push.lua


def find_delayed(client: redis.Redis, keys: Keys, queue: str, job_id: str) -> bytes | None:
    """The delayed payload of ``job_id`` in ``queue``, or None."""
    pattern = '*"id":"' + _GLOB_SPECIAL.sub(r"\\\1", job_id) + '"*'
    for member, _ in client.zscan_iter(keys.delayed(queue), match=pattern, count=1000):
        return bytes(member)
    return None


def retry_now(client: redis.Redis, keys: Keys, queue: str, job_id: str, now: float) -> bool:
    """Make a waiting retry due now and wake the workers; False if it no longer waits."""
    member = find_delayed(client, keys, queue, job_id)
    if member is None:
        return False
    pipe = client.pipeline(transaction=True)
    pipe.zadd(keys.delayed(queue), {member: now}, xx=True, ch=True)
    pipe.lpush(keys.wake(queue), "1")
    pipe.ltrim(keys.wake(queue), 0, _WAKE_TOKENS - 1)
    changed, _, _ = pipe.execute()
    return bool(changed)


def delete_delayed(client: redis.Redis, keys: Keys, queue: str, job_id: str) -> bool:
    """Remove a waiting retry; False if it no longer waits."""
    member = find_delayed(client, keys, queue, job_id)
    return member is not None and bool(client.zrem(keys.delayed(queue), member))


def retry_all_dead(queue: Queue, ids: list[str]) -> tuple[int, int]:
    """Enqueue every dead job of ``ids`` again: (how many went, how many had no readable
    payload and stayed)."""
    return queue.retry_dead_many(ids)
