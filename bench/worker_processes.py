"""Worker processes: CPU-bound jobs with `--processes 2` against 1 and dramatiq, in one run.

Prints, each figure the median of --rounds rounds, the rounds interleaved:
  * drain jobs/s of --cpu-jobs (1,000) CPU-bound jobs (about 20 ms of pure-Python work
    each, calibrated on this machine at start) with `scheduler worker --processes 1` and
    `--processes 2` (default --concurrency 10), and with dramatiq's default (a process per
    CPU, 8 threads each);
  * drain jobs/s of --jobs (20,000) no-op jobs with `--processes 1`, and, with --before
    TREE, the same with the source tree TREE (e.g. a `git worktree` of main): the single
    process must be as fast as it was;
  * each ratio, the median of the ratios within each round, and the load average before
    and after (the machine may be shared);
  * with --cpu-pairs N and --before: N pairs of `--burst` drains of the no-op jobs, the
    new code and the old in turn, timed by the CPU time the worker process used (user +
    system, from wait4), which other processes on the machine do not change.
Drain is timed as in bench/worker_throughput.py (its helpers are used here).

Run: python3 bench/worker_processes.py [--rounds 3] [--before /tmp/before]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import worker_throughput as wt

TARGET_SECONDS = 0.020


class OursCpu(wt.Ours):
    """`scheduler worker` with extra options, on CPU-bound or no-op jobs."""

    def __init__(self, url: str, options: list[str], rounds: int = 0, tree: str = "") -> None:
        super().__init__(url)
        self.options, self.rounds, self.tree = options, rounds, tree

    def enqueue(self, jobs: int) -> float:
        start = time.perf_counter()
        with self.queue.batch() as batch:
            for i in range(jobs):
                if self.rounds:
                    batch.enqueue("tasks_ours:spin", self.rounds)
                else:
                    batch.enqueue("tasks_ours:noop")
                if i % 1000 == 999:
                    batch.send()
        return jobs / (time.perf_counter() - start)

    def worker(self, concurrency: int | None) -> list[str]:
        command = [*super().worker(concurrency), *self.options]
        if self.tree:  # the old code: its source tree goes first on the path
            start = f"import runpy, sys; sys.path.insert(0, {self.tree!r}); "
            start += "runpy.run_module('scheduler', run_name='__main__')"
            return [str(wt.VENV / "bin" / "python"), "-c", start, *command[1:]]
        return command


class DramatiqCpu(wt.Dramatiq):
    """dramatiq's default worker on the CPU-bound jobs."""

    def __init__(self, url: str, rounds: int) -> None:
        super().__init__(url)
        self.rounds = rounds

    def enqueue(self, jobs: int) -> float:
        return wt.timed(jobs, lambda: self.module.spin.send(self.rounds))


def calibrate(sample: int = 200_000) -> int:
    """Rounds of ``tasks_ours.spin`` that take about 20 ms of CPU time here (CPU time, not
    wall time: other processes of a busy machine do not count)."""
    import tasks_ours

    took = []
    for _ in range(5):
        start = time.process_time()
        tasks_ours.spin(sample)
        took.append(time.process_time() - start)
    return int(sample * TARGET_SECONDS / min(took))


def one_round(
    url: str, flush: Callable[[], object], options: argparse.Namespace, spin: int, turn: int
) -> dict[str, float]:
    """Every figure of one round, by name."""
    runs: list[tuple[str, wt.System, int]] = [
        ("cpu p=1", OursCpu(url, ["--processes", "1"], spin), options.cpu_jobs),
        ("cpu p=2", OursCpu(url, ["--processes", "2"], spin), options.cpu_jobs),
        ("cpu dramatiq", DramatiqCpu(url, spin), options.cpu_jobs),
        ("noop p=1", OursCpu(url, ["--processes", "1"]), options.jobs),
    ]
    if options.before:
        runs.append(("noop before", OursCpu(url, [], tree=options.before), options.jobs))
        if turn % 2:  # which of the two no-op drains goes first alternates
            runs[-2:] = runs[:-3:-1]
    figures = {}
    for name, system, jobs in runs:
        flush()
        system.enqueue(jobs)
        figures[name] = wt.drain(system, jobs, None)
        print(f"  {name}: {figures[name]:,.0f} jobs/s", file=sys.stderr)
    return figures


def cpu_per_job(url: str, flush: Callable[[], object], system: OursCpu, jobs: int) -> float:
    """CPU seconds a `--burst` worker takes per 1,000 no-op jobs (start-up included)."""
    flush()
    system.enqueue(jobs)
    env = {**os.environ, "PYTHONPATH": str(wt.BENCH), "BENCH_REDIS_URL": url}
    command = [*system.worker(None), "--burst"]
    with subprocess.Popen(command, cwd=wt.BENCH, env=env, stderr=subprocess.DEVNULL) as proc:
        _, _, usage = os.wait4(proc.pid, 0)
        proc.returncode = 0
    return (usage.ru_utime + usage.ru_stime) * 1000 / jobs


def cpu_pairs(url: str, flush: Callable[[], object], options: argparse.Namespace) -> list[str]:
    """The no-op drain's CPU time per 1,000 jobs, new and before, in alternating pairs."""
    new, old = OursCpu(url, ["--processes", "1"]), OursCpu(url, [], tree=options.before)
    pairs = []
    for turn in range(options.cpu_pairs):
        first, second = (new, old) if turn % 2 == 0 else (old, new)
        a, b = (cpu_per_job(url, flush, s, options.jobs) for s in (first, second))
        pairs.append((a, b) if first is new else (b, a))
        print(
            f"  cpu time per 1,000 no-op jobs: new {pairs[-1][0]:.3f}s, before {pairs[-1][1]:.3f}s",
            file=sys.stderr,
        )
    ratios = [b / a for a, b in pairs]
    shown = ", ".join(f"{r:.2f}" for r in ratios)
    return [
        f"CPU s per 1,000 no-op jobs (--burst, {options.jobs:,} jobs): --processes 1 "
        f"{statistics.median(a for a, _ in pairs):.3f}, before "
        f"{statistics.median(b for _, b in pairs):.3f}",
        f"no-op --processes 1 vs before, by CPU time: {statistics.median(ratios):.2f}x "
        f"(pairs: {shown})",
    ]


def report(rounds: list[dict[str, float]], options: argparse.Namespace, spin: int) -> list[str]:
    """The medians, and the median of each ratio taken within each round (the two figures
    of a ratio come from the same minutes of a machine whose load varies)."""
    figures = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    lines = [
        f"{wt._machine()}; {options.rounds} round(s), medians; spin({spin:,}) ~ 20 ms of CPU",
        f"{'':<44}{'jobs/s':>10}",
    ]
    labels = {
        "cpu p=1": f"{options.cpu_jobs:,} CPU jobs, --processes 1",
        "cpu p=2": f"{options.cpu_jobs:,} CPU jobs, --processes 2",
        "cpu dramatiq": f"{options.cpu_jobs:,} CPU jobs, dramatiq (default)",
        "noop p=1": f"{options.jobs:,} no-op jobs, --processes 1",
        "noop before": f"{options.jobs:,} no-op jobs, before ({options.before})",
    }
    lines += [f"{labels[k]:<44}{v:>10,.1f}" for k, v in figures.items()]
    ratios = [
        ("CPU --processes 2 vs 1", "cpu p=2", "cpu p=1"),
        ("CPU --processes 2 vs dramatiq", "cpu p=2", "cpu dramatiq"),
        ("no-op --processes 1 vs before", "noop p=1", "noop before"),
    ]
    for label, top, bottom in ratios:
        if bottom in figures:
            each = [r[top] / r[bottom] for r in rounds]
            shown = ", ".join(f"{ratio:.2f}" for ratio in each)
            lines.append(f"{label}: {statistics.median(each):.2f}x (rounds: {shown})")
    return lines


def main() -> None:
    wt.ensure_venv(__file__)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--cpu-jobs", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--before", default="", metavar="TREE")
    parser.add_argument("--cpu-pairs", type=int, default=0)
    options = parser.parse_args()
    sys.path.insert(0, str(wt.BENCH))
    from scheduler.cli.dev import EmbeddedRedis

    workdir = wt.BENCH / "out" / "redis"
    workdir.mkdir(parents=True, exist_ok=True)
    server = EmbeddedRedis(wt.find_redis_server(), workdir)
    server.start()
    load = os.getloadavg()
    try:
        os.environ["BENCH_REDIS_URL"] = server.url
        import redis

        admin = redis.Redis.from_url(server.url)
        spin = calibrate()
        rounds = [
            one_round(server.url, admin.flushall, options, spin, turn)
            for turn in range(options.rounds)
        ]
        extra = cpu_pairs(server.url, admin.flushall, options) if options.cpu_pairs else []
    finally:
        server.stop(kill=True)
    after = os.getloadavg()
    lines = (report(rounds, options, spin) if rounds else []) + extra
    lines.append(f"load average (1, 5, 15 min): before {load}, after {after}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
