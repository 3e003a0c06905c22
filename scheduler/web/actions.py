"""What the dashboard's buttons do beyond ``scheduler.ops.control``: waiting retries.

A retry waits in its queue's delayed set until its due time. "Run now" makes it due now
(``ZADD XX``: only if it is still waiting) and wakes idle workers, whose next fetch
promotes it; "delete" removes it as ``Queue.cancel`` would (the cancel script: a tracked
job's record says ``cancelled``, its unique key frees). Both find the entry by its job
id, exactly: the ``id`` field of each decoded payload must equal it, so a job whose
arguments merely mention that id is never touched.
"""

from __future__ import annotations

import redis

from ..jobs import is_job_id, peek
from ..keys import Keys
from ..queue import Queue
from ..transport.scripts import Scripts
from ..waiting import Canceller

_WAKE_TOKENS = 16  # as in _push.lua


def find_delayed(client: redis.Redis, keys: Keys, queue: str, job_id: str) -> list[bytes]:
    """The delayed payloads of ``queue`` whose job id is ``job_id`` (none, or one unless
    ids were reused)."""
    # A usual id holds no glob or JSON-escaped character, so it appears verbatim in any
    # JSON text of its payload: Redis may skip the members without it. Others are read all.
    match = f"*{job_id}*" if is_job_id(job_id) else None
    members = client.zscan_iter(keys.delayed(queue), match=match, count=1000)
    return [bytes(member) for member, _ in members if peek(member, "id") == job_id]


def retry_now(client: redis.Redis, keys: Keys, queue: str, job_id: str, now: float) -> bool:
    """Make a waiting retry due now and wake the workers; False if it no longer waits."""
    members = find_delayed(client, keys, queue, job_id)
    if not members:
        return False
    pipe = client.pipeline(transaction=True)
    pipe.zadd(keys.delayed(queue), dict.fromkeys(members, now), xx=True, ch=True)
    pipe.lpush(keys.wake(queue), "1")
    pipe.ltrim(keys.wake(queue), 0, _WAKE_TOKENS - 1)
    changed, _, _ = pipe.execute()
    return bool(changed)


def delete_delayed(client: redis.Redis, keys: Keys, queue: str, job_id: str, now: float) -> bool:
    """Remove a waiting retry and end its job as cancelled; False if it no longer waits."""
    members = find_delayed(client, keys, queue, job_id)
    canceller = Canceller(client, keys, Scripts(client))
    return bool(members) and canceller.remove(keys.delayed(queue), job_id, members, now)


def retry_all_dead(queue: Queue, ids: list[str]) -> tuple[int, int]:
    """Enqueue every dead job of ``ids`` again: (how many went, how many had no readable
    payload and stayed)."""
    return queue.retry_dead_many(ids)
