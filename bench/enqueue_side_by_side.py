"""One ``Queue.enqueue("tasks_ours:noop")`` per call, this checkout against another, in one
process: the other's ``scheduler`` package is copied in as ``scheduler_old`` and both are
timed alternately, so the machine's load falls on both alike.

Prints, per side:
  * client CPU per call (process time), the round trip to Redis left out (the script call
    does nothing): what the Python around the enqueue costs;
  * wall time per call against a real redis-server (started on a free loopback port), and
    the median of the paired ratios this/other over the rounds.

Run: .venv/bin/python bench/enqueue_side_by_side.py OTHER_CHECKOUT [--rounds 40]
(e.g. ``git worktree add /tmp/old main`` first). Needs redis-server on PATH or in .venv.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

import scheduler.clock
import scheduler.queue
from scheduler.cli.dev import free_port


def load_other(checkout: Path, into: Path) -> tuple[Any, Any]:
    """The other checkout's queue and clock modules, imported as ``scheduler_old``."""
    shutil.copytree(checkout / "scheduler", into / "scheduler_old")
    sys.path.insert(0, str(into))
    return importlib.import_module("scheduler_old.queue"), importlib.import_module(
        "scheduler_old.clock"
    )


def timed(queue: Any, calls: int, clock: Any) -> float:
    start = clock()
    for _ in range(calls):
        queue.enqueue("tasks_ours:noop")
    return (clock() - start) / calls * 1e6


def compare(
    queues: dict[str, Any], rounds: int, calls: int, clock: Any, *, real: bool = False
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in queues}
    for r in range(rounds):
        for name in sorted(queues, reverse=bool(r % 2)):
            times[name].append(timed(queues[name], calls, clock))
            if real:
                queues[name].client.delete(queues[name].keys.queue("default"))
    return times


def report(title: str, times: dict[str, list[float]]) -> None:
    print(title)
    for name, values in times.items():
        ordered = sorted(values)
        print(f"  {name:5} min {ordered[0]:8.2f}  median {statistics.median(ordered):8.2f} µs")
    ratios = [new / old for new, old in zip(times["this"], times["other"], strict=True)]
    print(f"  this/other, median of paired rounds: {statistics.median(ratios):.3f}")


def wait_for(client: redis.Redis) -> None:
    for _ in range(100):
        try:
            client.ping()
            return
        except redis.ConnectionError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path)
    parser.add_argument("--rounds", type=int, default=40)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        other_queue, other_clock = load_other(options.other, Path(folder))
        sides = {"this": (scheduler.queue, scheduler.clock), "other": (other_queue, other_clock)}
        stubbed = {}
        for name, (queue_module, clock_module) in sides.items():
            stubbed[name] = queue_module.Queue(redis.Redis(), "bench", clock_module.FakeClock())
            stubbed[name]._scripts.run = lambda *args, **kwargs: 1
        report("client CPU per call", compare(stubbed, options.rounds, 5000, time.process_time))
        port = free_port()
        server = shutil.which("redis-server") or str(Path(sys.prefix) / "bin" / "redis-server")
        proc = subprocess.Popen([server, "--port", str(port), "--save", "", "--appendonly", "no"])
        try:
            wait_for(redis.Redis(port=port))
            url = f"redis://127.0.0.1:{port}/0"
            real = {name: sides[name][0].Queue.from_url(url, "bench") for name in sides}
            report(
                "wall per call, real Redis", compare(real, options.rounds, 500, time.perf_counter)
            )
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
