"""A Dramatiq application run by an unmodified ``dramatiq`` worker in the target tests:
its broker is ``$TARGET_REDIS_URL`` with namespace ``$DRAMATIQ_NAMESPACE``, and each run
counts itself under the fire time it stands for."""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage

from tests.rq_tasks import hold_run

broker = RedisBroker(
    url=os.environ["TARGET_REDIS_URL"], namespace=os.environ.get("DRAMATIQ_NAMESPACE", "dramatiq")
)
broker.add_middleware(CurrentMessage())
dramatiq.set_broker(broker)


@dramatiq.actor(max_retries=0)
def tick(counters: str) -> None:
    """Add one to ``<counters>:<fire time>``."""
    message = CurrentMessage.get_current_message()
    assert message is not None
    broker.client.incr(f"{counters}:{message.options['scheduled_for']}")


@dramatiq.actor(max_retries=0, min_backoff=10, max_backoff=10)
def fail(counters: str) -> None:
    """Count the attempt under ``<counters>:<fire time>``, then fail (for retries)."""
    message = CurrentMessage.get_current_message()
    assert message is not None
    broker.client.incr(f"{counters}:{message.options['scheduled_for']}")
    raise RuntimeError("this actor always fails")


@dramatiq.actor(max_retries=0)
def hold(counters: str) -> None:
    """Count the run, then stay on until the test lets it end (tests/rq_tasks.py, hold)."""
    message = CurrentMessage.get_current_message()
    assert message is not None
    hold_run(broker.client, counters, message.options["scheduled_for"])
