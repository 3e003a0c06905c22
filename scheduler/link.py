"""A lean request/reply path to Redis for the calls made once per job or per tick.

redis-py's command path (pool checkout, packing, its reply parser, retry and hook
machinery) costs about as much as a loopback round trip. A ``Link`` sends a command that the
caller packed, on a connection of its own (as many as calls run at once, made by the
client's own connection class, so AUTH, SELECT and time-outs are as configured), and reads
the RESP2 reply itself.

While it waits for a reply it first polls the socket for a short while (``spin``) and only
then blocks in the kernel: on the virtual machine measured, a loopback round trip took
about 75 µs with a blocking read and 28 µs polling, the difference being the kernel waking
the thread (docs/benchmarks.md). The spin is bounded: only one thread of a process spins
at a time, there is none on a one-CPU machine, and a thread whose replies keep arriving
after the spin (a distant Redis, a loaded server) stops spinning for a while.

A Link never retries. A connection error closes its connection and is raised, so the
caller decides whether a command that may have run may run again.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import redis
from redis.connection import Connection, UnixDomainSocketConnection

from .errors import BadSetting
from .resp import Arg, pack, parse

if TYPE_CHECKING:
    import socket

DEFAULT_SPIN = 100e-6
"""Seconds to poll for a reply before blocking, on a machine with more than one CPU."""

_MAX_SPIN_US = 10_000
_READ_SIZE = 65536
_SEND_SIZE = 16384  # call_many sends commands in writes of at least this many bytes
_MISSES_BEFORE_REST = 16  # replies in a row that came after the spin
_REST_CALLS = 1024  # calls made without spinning after that
_spinning = threading.Lock()  # one spinning thread per process
_forks = [0]  # a child process must not use its parent's connections


def _forked() -> None:
    _forks[0] += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


def default_spin() -> float:
    """Seconds to spin: ``$SCHEDULER_SPIN_US`` microseconds if set (0 turns spinning off),
    else ``DEFAULT_SPIN`` where another CPU can run Redis meanwhile, else 0."""
    setting = os.environ.get("SCHEDULER_SPIN_US", "").strip()
    if setting:
        try:
            micros = float(setting)
        except ValueError:
            micros = -1.0
        if not 0 <= micros <= _MAX_SPIN_US:
            raise BadSetting(
                f"SCHEDULER_SPIN_US must be microseconds from 0 to {_MAX_SPIN_US} "
                f"(such as 100; 0 turns polling off), not {setting!r}"
            )
        return micros / 1e6
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return DEFAULT_SPIN if cpus > 1 else 0.0


def usable(client: redis.Redis) -> bool:
    """Whether a Link can speak for ``client``: a plain TCP or Unix socket and undecoded
    replies (TLS, decoding and cluster clients are left to redis-py). A Link's
    connections speak RESP2 whatever the client's protocol; the package's scripts reply
    alike in both."""
    pool = getattr(client, "connection_pool", None)  # a cluster client has none
    return (
        pool is not None
        and pool.connection_class in (Connection, UnixDomainSocketConnection)
        and not pool.connection_kwargs.get("decode_responses")
    )


class Link:
    """Send packed commands to the server of ``client`` and return their replies."""

    def __init__(self, client: redis.Redis, spin: float | None = None) -> None:
        self._pool = client.connection_pool
        self._timeout: float | None = self._pool.connection_kwargs.get("socket_timeout")
        self.spin = default_spin() if spin is None else spin
        self._idle: list[_End] = []  # list.pop and append are atomic: no lock needed

    def call(self, command: bytes) -> Any:
        """Send one command (RESP bytes) and return its reply as redis-py would.

        An error reply is raised as redis-py's exception for it (NoScriptError, ...); a
        broken connection or a time-out closes the connection used and raises
        redis.ConnectionError or redis.TimeoutError.
        """
        end = self._checkout()
        with _Using(self._idle, end):
            end.send(command, self._timeout)
            reply = end.reply(self._timeout, self.spin)
            if end.buffer:
                raise redis.ConnectionError("Protocol error: more than one reply to one command")
        if isinstance(reply, redis.RedisError):
            raise reply
        return reply

    def call_many(self, commands: Iterable[bytes]) -> list[Any]:
        """Send the commands as ``commands`` yields them, without waiting for replies, then
        read one reply per command: so Redis runs one while the caller prepares the next.
        Small commands are held until 16 KiB of them are ready (or the last one is).

        Error replies come back in place as exception objects, not raised; a broken
        connection or a time-out raises as ``call`` does (some commands may have run).
        """
        end = self._checkout()
        with _Using(self._idle, end):
            sent, held = 0, bytearray()
            for command in commands:
                held += command
                sent += 1
                if len(held) >= _SEND_SIZE:
                    end.send(held, self._timeout)
                    held.clear()
            if held:
                end.send(held, self._timeout)
            replies = [end.reply(self._timeout, self.spin) for _ in range(sent)]
            if end.buffer:
                raise redis.ConnectionError("Protocol error: more replies than commands")
        return replies

    def close(self) -> None:
        """Close the idle connections (one in use closes when its call ends badly)."""
        while self._idle:
            end = self._idle.pop()
            if end.forks == _forks[0]:
                end.connection.disconnect()

    def _checkout(self) -> _End:
        try:
            end = self._idle.pop()
        except IndexError:
            return _End(self._pool)
        if end.forks != _forks[0]:
            self._idle.clear()
            return _End(self._pool)
        return end


class _Using:
    """Give a connection back when the block ends well; close it when it does not, as
    replies still due would otherwise be read as the next call's. (A class, not
    ``@contextmanager``: this runs once per enqueue, and a generator costs 1 µs more.)"""

    __slots__ = ("end", "idle")

    def __init__(self, idle: list[_End], end: _End) -> None:
        self.idle = idle
        self.end = end

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: Any
    ) -> None:
        if kind is None:
            self.idle.append(self.end)
            return
        self.end.connection.disconnect()
        if isinstance(error, OSError):
            raise redis.ConnectionError(f"Redis connection broke: {error}") from error


class _End:
    """One connection: its non-blocking socket, what was read ahead, how its spins went."""

    def __init__(self, pool: redis.ConnectionPool) -> None:
        self.forks = _forks[0]
        self.connection = pool.connection_class(**_resp2(pool.connection_kwargs))
        self.connection.connect()
        sock: socket.socket | None = getattr(self.connection, "_sock", None)
        if sock is None:
            raise redis.ConnectionError("Redis connection has no socket")
        sock.setblocking(False)
        self.sock = sock
        self.buffer = bytearray()
        self.misses = 0
        self.rest = 0
        self._pollers: dict[int, select.poll] = {}

    def send(self, command: bytes | bytearray, timeout: float | None) -> None:
        try:
            sent = self.sock.send(command)
        except BlockingIOError:
            sent = 0
        if sent < len(command):
            self._send_rest(memoryview(command)[sent:], timeout)

    def reply(self, timeout: float | None, spin: float) -> Any:
        """The next reply: from what was read ahead, else from the socket."""
        buffer = self.buffer
        if buffer:
            reply, used = parse(buffer, 0, self.connection)
            if used >= 0:
                del buffer[:used]
                return reply
        data = self._receive(timeout, spin)
        if not buffer:
            reply, used = parse(data, 0, self.connection)
            if used == len(data):  # the usual case: exactly one whole reply
                return reply
        buffer += data
        while True:
            reply, used = parse(buffer, 0, self.connection)
            if used >= 0:
                del buffer[:used]
                return reply
            buffer += self._receive(timeout, 0.0)

    def _send_rest(self, view: memoryview, timeout: float | None) -> None:
        while view:
            try:
                sent = self.sock.send(view)
            except BlockingIOError:
                self._wait(select.POLLOUT, timeout, "writing to")
                continue
            view = view[sent:]

    def _receive(self, timeout: float | None, spin: float) -> bytes:
        if self.rest:
            self.rest -= 1
        elif spin > 0 and _spinning.acquire(blocking=False):
            try:
                data = self._spin(spin)
            finally:
                _spinning.release()
            if data is not None:
                return data
        while True:
            self._wait(select.POLLIN, timeout, "reading from")
            try:
                data = self.sock.recv(_READ_SIZE)
            except BlockingIOError:
                continue
            if not data:
                raise redis.ConnectionError("Connection closed by server.")
            return data

    def _spin(self, spin: float) -> bytes | None:
        recv, clock = self.sock.recv, time.perf_counter
        stop = clock() + spin
        while True:
            try:
                data = recv(_READ_SIZE)
            except BlockingIOError:
                if clock() < stop:
                    continue
                self.misses += 1
                if self.misses >= _MISSES_BEFORE_REST:
                    self.misses, self.rest = 0, _REST_CALLS
                return None
            if not data:
                raise redis.ConnectionError("Connection closed by server.")
            self.misses = 0
            return data

    def _wait(self, event: int, timeout: float | None, doing: str) -> None:
        poller = self._pollers.get(event)
        if poller is None:
            poller = self._pollers[event] = select.poll()
            poller.register(self.sock, event)
        if not poller.poll(None if timeout is None else timeout * 1000):
            raise redis.TimeoutError(f"Timeout {doing} socket")


def read_all(
    client: redis.Redis, link: Link | None, commands: Sequence[Sequence[Arg]]
) -> list[Any]:
    """The replies to ``commands`` (each a name and its arguments), sent in one go: over
    ``link`` if there is one, else (or if its connection breaks) in a redis-py pipeline.
    For reads, which may run twice. An error reply is raised."""
    if link is not None:
        try:
            replies = link.call_many(pack(*command) for command in commands)
        except (redis.ConnectionError, redis.TimeoutError):
            pass
        else:
            for reply in replies:
                if isinstance(reply, redis.RedisError):
                    raise reply
            return replies
    with client.pipeline(transaction=False) as pipe:
        for command in commands:
            pipe.execute_command(*command)  # type: ignore[no-untyped-call]
        return list(pipe.execute())


def _resp2(options: dict[str, Any]) -> dict[str, Any]:
    """A pool's connection options for a RESP2 connection: maintenance notifications
    (redis-py 7+) need RESP3, and the Link reads only replies to its own commands."""
    kept = {k: v for k, v in options.items() if not k.startswith("maint_notifications")}
    return {**kept, "protocol": 2}
