"""The no-op actor of bench/worker_throughput.py for dramatiq (Redis broker)."""

import os

import dramatiq
import tasks_ours
from dramatiq.brokers.redis import RedisBroker

dramatiq.set_broker(RedisBroker(url=os.environ["BENCH_REDIS_URL"]))


@dramatiq.actor
def noop() -> None:
    """Do nothing."""


@dramatiq.actor
def spin(rounds: int) -> int:
    """The CPU-bound job of bench/worker_processes.py (as tasks_ours.spin)."""
    return tasks_ours.spin(rounds)
