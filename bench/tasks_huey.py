"""The no-op task of bench/worker_throughput.py for huey (Redis storage)."""

import os

from huey import RedisHuey

huey = RedisHuey("bench", url=os.environ["BENCH_REDIS_URL"])


@huey.task()
def noop() -> None:
    """Do nothing."""
