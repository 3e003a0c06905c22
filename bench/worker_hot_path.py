"""A worker's CPU per plain job, this checkout against another, in one process: decode the
payload, run a no-op task in the job pool's path (resolve, run record, call, judge, queue
the acknowledgement), no Redis. The other checkout's ``scheduler`` package is copied in as
``scheduler_old`` and both sides are timed alternately with ``time.process_time``, so a
busy machine's load falls on both alike.

Run: .venv/bin/python bench/worker_hot_path.py OTHER_CHECKOUT [--jobs 20000] [--rounds 15]
(e.g. ``git worktree add /tmp/old main`` first).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import scheduler


def load(package: str) -> dict[str, ModuleType]:
    """The modules of ``package`` that the hot path uses."""
    names = ("jobs", "registry", "clock", "worker.execution", "worker.pool", "worker.redis_calls")
    return {name: importlib.import_module(f"{package}.{name}") for name in names}


def timed(m: dict[str, ModuleType], jobs: int) -> float:
    """Process CPU µs per job for ``jobs`` plain no-op jobs through ``JobPool._execute``."""
    execution, pool_module = m["worker.execution"], m["worker.pool"]
    allow = m["registry"].AllowList(prefixes=["tasks_ours"])
    clock = m["clock"].SystemClock()
    runner = execution.TaskRunner(allow, clock, execution.RetryPolicy())
    pool = pool_module.JobPool(runner, clock, 1, 1, lambda: None)
    shard = pool.stats.shard()
    raw = m["jobs"].encode(m["jobs"].build_payload("tasks_ours:noop", enqueued_at=0.0)).encode()
    delivery_type, decode = m["worker.redis_calls"].Delivery, m["jobs"].decode
    start = time.process_time()
    for n in range(jobs):
        pool._execute(delivery_type(0, raw, decode(raw)), shard)
        if n % 1000 == 999:
            pool._out.acks.clear()
    return (time.process_time() - start) / jobs * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=15)
    options = parser.parse_args()
    logging.disable(logging.INFO)  # as a worker without -v: the start/end lines are not kept
    sys.path.insert(0, str(Path(__file__).parent))
    importlib.import_module("tasks_ours")  # a worker imports its task modules at start
    with tempfile.TemporaryDirectory() as folder:
        shutil.copytree(options.other / "scheduler", Path(folder) / "scheduler_old")
        sys.path.insert(0, folder)
        sides = {"this": load(scheduler.__name__), "other": load("scheduler_old")}
        times: dict[str, list[float]] = {name: [] for name in sides}
        for r in range(options.rounds):
            for name in sorted(sides, reverse=bool(r % 2)):
                times[name].append(timed(sides[name], options.jobs))
    report(times)


def report(times: dict[str, list[Any]]) -> None:
    for name, values in times.items():
        ordered = sorted(values)
        print(f"{name:5} min {ordered[0]:6.2f}  median {statistics.median(ordered):6.2f} µs/job")
    ratios = [new / old for new, old in zip(times["this"], times["other"], strict=True)]
    print(f"this/other, median of paired rounds: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
