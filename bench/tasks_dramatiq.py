"""The no-op actor of bench/worker_throughput.py for dramatiq (Redis broker)."""

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

dramatiq.set_broker(RedisBroker(url=os.environ["BENCH_REDIS_URL"]))


@dramatiq.actor
def noop() -> None:
    """Do nothing."""
