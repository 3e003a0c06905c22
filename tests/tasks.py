"""Tasks for the worker tests, importable as ``tests.tasks`` (the repository root is on the
path in tests and on PYTHONPATH for worker subprocesses)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any

from scheduler import current_job, jobs, task
from scheduler.jobs import CurrentJob, QueuedJob

SEEN: list[CurrentJob | None] = []
CALLS: list[tuple[Any, ...]] = []
GATES: dict[str, threading.Event] = {}


def add(a: int, b: int) -> int:
    CALLS.append((a, b))
    return a + b


def noop() -> None:
    return None


def fail(message: str = "boom") -> None:
    raise ValueError(message)


def record() -> None:
    SEEN.append(current_job())


def decoded() -> QueuedJob | None:
    """The running job as the worker decoded it, with what ``current_job()`` leaves out
    (``expires_at``)."""
    state = jobs._current.get()
    return None if state is None else state[0]


async def async_record(delay: float = 0.0) -> str:
    await asyncio.sleep(delay)
    SEEN.append(current_job())
    return "done"


async def async_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def wait_gate(name: str) -> None:
    """Block until the test opens GATES[name] (at most 30 s)."""
    GATES.setdefault(name, threading.Event()).wait(30)
    CALLS.append(("gate", name))


def wait_gate_on_first_attempt(name: str) -> None:
    """The first attempt waits like ``wait_gate``; later ones return at once."""
    job = current_job()
    if job is not None and job.attempt == 1:
        wait_gate(name)


@task
def registered(x: int) -> int:
    CALLS.append(("registered", x))
    return x


def touch(path: str) -> None:
    Path(path).write_text("done")


def slow_touch(path: str, seconds: float) -> None:
    """Write ``path + '.started'``, sleep, then write ``path``."""
    Path(path + ".started").write_text("started")
    time.sleep(seconds)
    Path(path).write_text("done")


def overlap_probe(path: str, seconds: float) -> None:
    """Append ``start`` to the file at ``path``, sleep, then append ``end``."""
    with Path(path).open("a") as log:
        log.write("start\n")
    time.sleep(seconds)
    with Path(path).open("a") as log:
        log.write("end\n")


def hang_first_time(folder: str) -> None:
    """The first run marks ``started`` and hangs; a later run marks ``done``."""
    started = Path(folder) / "started"
    if not started.exists():
        started.write_text(str(time.time()))
        time.sleep(120)
    (Path(folder) / "done").write_text(str(time.time()))


def fail_unpaired() -> None:
    """Fail with a message Redis cannot store as UTF-8 (an unpaired surrogate)."""
    raise ValueError("bad " + chr(0xD800))


def log_fire(path: str) -> None:
    """Append ``<fire instant> <job id> <time run>`` of this run to the file at ``path``."""
    job = current_job()
    fire = job.scheduled_for.timestamp() if job and job.scheduled_for else 0
    with Path(path).open("a") as log:
        log.write(f"{fire:.0f} {job.id if job else '-'} {time.time():.3f}\n")


def hang_first_run(folder: str) -> None:
    """Append this process's id to ``runs``; the first run then hangs, a later one marks
    ``done``."""
    runs = Path(folder) / "runs"
    with runs.open("a") as log:
        log.write(f"{os.getpid()}\n")
    if len(runs.read_text().splitlines()) == 1:
        time.sleep(3600)
    (Path(folder) / "done").write_text("done")


def hang_on_first_attempt(folder: str) -> None:
    """Append "<attempt> <pid>" to ``starts``; attempt 1 hangs, later ones mark
    ``done-<attempt>``."""
    job = current_job()
    attempt = job.attempt if job is not None else 0
    with (Path(folder) / "starts").open("a") as log:
        log.write(f"{attempt} {os.getpid()}\n")
    if attempt == 1:
        time.sleep(3600)
    (Path(folder) / f"done-{attempt}").write_text("done")


def wait_for_file(gate: str, out: str) -> None:
    """Write ``out + '.started'``, wait until ``gate`` exists (at most 60 s), then append
    a line to ``out``."""
    Path(out + ".started").write_text("started")
    give_up = time.monotonic() + 60
    while not Path(gate).exists() and time.monotonic() < give_up:
        time.sleep(0.01)
    with Path(out).open("a") as log:
        log.write("ran\n")


def until_cancelled(path: str) -> str:
    """Write ``path + '.started'``, then run until ``current_job().cancelled`` (at most
    30 s); write ``path`` when it stops."""
    Path(path + ".started").write_text("started")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = current_job()
        if job is not None and job.cancelled:
            Path(path).write_text("cancelled")
            return "stopped"
        time.sleep(0.01)
    return "never cancelled"


async def async_until_cancelled(path: str) -> None:
    """Write ``path + '.started'``, sleep 60 s; write ``path`` if cancelled meanwhile."""
    Path(path + ".started").write_text("started")
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        Path(path).write_text("cancelled")
        raise


def unserialisable() -> object:
    return object()


def append_line(path: str, text: str) -> None:
    """Append ``text`` as a line to the file at ``path`` (the order jobs ran in)."""
    with open(path, "a", encoding="utf-8") as file:
        file.write(text + "\n")
