"""The package's Lua scripts: ``scheduler/transport/lua/<name>.lua``, run by name.

Each script opens with a comment giving its KEYS / ARGV / return contract. A file whose
name starts with ``_`` is a fragment, pasted into a script in place of a line
``-- @include <name>``. Scripts run with EVALSHA and are loaded again on NOSCRIPT, so a
Redis server restarted empty keeps working.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

from redis.client import Pipeline
from redis.exceptions import NoScriptError, RedisError, ResponseError

from .durability import Durability
from .urls import is_cluster, routed_to

if TYPE_CHECKING:
    import redis
    import redis.asyncio
    from redis.commands.core import Script

_INCLUDE = "-- @include "

Arg = str | bytes | int | float  # a command's name or argument, as redis-py sends it
Call = tuple[Sequence[str], Sequence[Arg]]  # one script call's keys and arguments


def script_source(name: str) -> str:
    """The text of script ``name`` with its fragments included."""
    lines = []
    for line in _read(name).splitlines():
        if line.startswith(_INCLUDE):
            lines.append(_read(line[len(_INCLUDE) :].strip()))
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def script_names() -> list[str]:
    """Names of every script (fragments excluded)."""
    folder = resources.files("scheduler.transport").joinpath("lua")
    return sorted(
        entry.name[: -len(".lua")]
        for entry in folder.iterdir()
        if entry.name.endswith(".lua") and not entry.name.startswith("_")
    )


class Scripts:
    """The scripts registered on one Redis client, run through redis-py."""

    def __init__(self, client: redis.Redis, durability: Durability | None = None) -> None:
        self._client = client
        self.durability = durability or Durability()
        self._scripts: dict[str, Script] = {
            name: client.register_script(script_source(name)) for name in script_names()
        }

    def run(self, name: str, keys: Sequence[str], args: Sequence[Arg] = ()) -> Any:
        """Run script ``name`` (EVALSHA, loading it first if the server does not have it).
        With replicated durability, a WAIT follows it on the same connection."""
        if self.durability.replicated:
            return self.run_many(name, [(keys, args)])[0]
        return self.run_on(self._client, name, keys, args)

    def load(self, name: str) -> None:
        """Load script ``name`` into the server's script cache now, not on first use."""
        self._client.script_load(self._scripts[name].script)

    def run_many(
        self, name: str, calls: Iterable[Call], client: redis.Redis | None = None
    ) -> list[Any]:
        """Run script ``name`` once per (keys, args) in ``calls``, in one pipeline (of
        ``client``, default this one's); the replies, in order. An error reply is raised.

        redis-py sends the whole pipeline again if its connection breaks, so every
        script run this way must be safe to run twice with the same arguments (enqueue
        is: a job id is enqueued once, see lua/enqueue.lua).
        """
        sha = self._scripts[name].sha
        client = client or self._client
        made = [(list(keys), list(args)) for keys, args in calls]
        replies = self._pipelined(client, sha, made)
        missed = _missed(replies)
        if missed:  # a server without the script refuses every call: load it, send them again
            self.load(name)
            _fill(replies, missed, self._pipelined(client, sha, [made[i] for i in missed]))
        return _checked(replies)

    def stream(self, name: str, calls: Iterable[Call]) -> Iterator[Any]:
        """Run script ``name`` once per call in ``calls``, each sent on one connection as
        soon as it is made, so that Redis runs a call while the caller makes the next and
        reads the reply before; yields the replies in order (an error reply is raised).

        A pipeline whose calls are made as it goes: what it sends is what ``run_many``
        sends. Under replicated durability, or on a Cluster client, it is ``run_many``
        (which sends the WAIT after the lot, or routes each call to its node).
        """
        client = self._client
        if self.durability.replicated or is_cluster(client):
            yield from self.run_many(name, calls)
            return
        pool = client.connection_pool
        connection = pool.get_connection()
        try:
            yield from self._streamed(connection, name, calls)
        except BaseException:
            connection.disconnect()  # type: ignore[no-untyped-call]  # replies left unread
            raise
        finally:
            pool.release(connection)

    def _streamed(self, connection: Any, name: str, calls: Iterable[Call]) -> Iterator[Any]:
        sha = self._scripts[name].sha
        sent: deque[tuple[Call, Any]] = deque()  # in flight: (call, its reply if read early)
        for call in calls:
            _send_call(connection, sha, call)
            sent.append((call, _UNREAD))
            if len(sent) > 1:
                yield self._streamed_reply(connection, name, sent)
        while sent:
            yield self._streamed_reply(connection, name, sent)

    def _streamed_reply(self, connection: Any, name: str, sent: deque[tuple[Call, Any]]) -> Any:
        """The reply to the oldest call in ``sent``. A server without the script (restarted,
        flushed) refuses it and, likely, the calls in flight behind it: the script is
        loaded and the refused calls are sent again, in order."""
        call, reply = sent.popleft()
        if reply is _UNREAD:
            reply = _read_reply(connection)
        if isinstance(reply, NoScriptError):
            later = [(other, _read_reply(connection)) for other, _ in sent]
            sent.clear()
            self.load(name)
            sha = self._scripts[name].sha
            _send_call(connection, sha, call)
            for other, early in later:
                refused = isinstance(early, NoScriptError)
                if refused:
                    _send_call(connection, sha, other)
                sent.append((other, _UNREAD if refused else early))
            reply = _read_reply(connection)
        if isinstance(reply, RedisError):
            raise reply
        return reply

    def _pipelined(self, client: redis.Redis, sha: str, calls: Sequence[Call]) -> list[Any]:
        sequence, wait = self._start_write()
        with client.pipeline(transaction=False) as pipe:
            for keys, args in calls:
                pipe.execute_command("EVALSHA", sha, len(keys), *keys, *args)  # type: ignore[no-untyped-call]
            if wait:  # on a cluster, to the node the calls went to: on the same connection
                route = routed_to(client, calls[0][0][0]) if calls and calls[0][0] else {}
                pipe.execute_command(*self.durability.wait_args(), **route)  # type: ignore[no-untyped-call]
            replies = list(pipe.execute(raise_on_error=False))
        if wait:
            self._confirmed(sequence, replies.pop())
        return replies

    def _start_write(self) -> tuple[int, bool]:
        if not self.durability.replicated:
            return 0, False
        return self.durability.start_write()

    def _confirmed(self, sequence: int, reply: object) -> None:
        self.durability.record(sequence, reply if isinstance(reply, int) else 0)

    def run_on(self, client: Any, name: str, keys: Sequence[str], args: Sequence[Arg] = ()) -> Any:
        """Run script ``name`` on another client or a pipeline of the same server. With
        replicated durability the client must hold a single connection (a cluster client
        sends the script and its WAIT in one pipeline to the slot's node); in a pipeline
        the caller sends the WAIT."""
        script = self._scripts[name]
        if isinstance(client, Pipeline):
            return script(keys=keys, args=args, client=client)
        if self.durability.replicated and is_cluster(client):
            return self.run_many(name, [(keys, args)], client)[0]
        sequence, wait = self._start_write()
        try:
            reply = client.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            client.script_load(script.script)
            reply = client.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
        if wait:  # ``client`` holds one connection (a worker's own): WAIT follows on it
            self._confirmed(sequence, client.execute_command(*self.durability.wait_args()))
        return reply


class AsyncScripts:
    """The same scripts on a ``redis.asyncio`` client: ``Scripts``, awaited (with
    replicated durability, a WAIT follows each call on its connection)."""

    def __init__(self, client: redis.asyncio.Redis, durability: Durability | None = None) -> None:
        self._client = client
        self.durability = durability or Durability()
        self._sources = {name: script_source(name) for name in script_names()}
        self._shas = {name: _sha(text) for name, text in self._sources.items()}

    async def run(self, name: str, keys: Sequence[str], args: Sequence[Arg] = ()) -> Any:
        """Run script ``name`` (EVALSHA, loading it first if the server does not have it)."""
        if self.durability.replicated:
            return (await self.run_many(name, [(keys, args)]))[0]
        call = ("EVALSHA", self._shas[name], len(keys), *keys, *args)
        try:
            return await self._client.execute_command(*call)  # type: ignore[no-untyped-call]
        except NoScriptError:
            await self._client.script_load(self._sources[name])
            return await self._client.execute_command(*call)  # type: ignore[no-untyped-call]

    async def run_many(self, name: str, calls: Iterable[Call]) -> list[Any]:
        """``Scripts.run_many``: one pipeline, each call safe to be sent twice."""
        made = [(list(keys), list(args)) for keys, args in calls]
        replies = await self._pipelined(self._shas[name], made)
        missed = _missed(replies)
        if missed:
            await self._client.script_load(self._sources[name])
            again = await self._pipelined(self._shas[name], [made[i] for i in missed])
            _fill(replies, missed, again)
        return _checked(replies)

    async def _pipelined(self, sha: str, calls: Sequence[Call]) -> list[Any]:
        sequence, wait = self.durability.start_write() if self.durability.replicated else (0, False)
        async with self._client.pipeline(transaction=False) as pipe:
            for keys, args in calls:
                pipe.execute_command("EVALSHA", sha, len(keys), *keys, *args)
            if wait:
                pipe.execute_command(*self.durability.wait_args())
            replies = list(await pipe.execute(raise_on_error=False))
        if wait:
            reply = replies.pop()
            self.durability.record(sequence, reply if isinstance(reply, int) else 0)
        return replies


_UNREAD = object()  # a streamed call whose reply is still on the connection


def _send_call(connection: Any, sha: str, call: Call) -> None:
    keys, args = call
    connection.send_command("EVALSHA", sha, len(keys), *keys, *args)


def _read_reply(connection: Any) -> Any:
    """The next reply on ``connection``; an error reply is returned, not raised."""
    try:
        return connection.read_response()
    except (NoScriptError, ResponseError) as exc:
        return exc


def _sha(source: str) -> str:
    return hashlib.sha1(source.encode("utf-8"), usedforsecurity=False).hexdigest()


def _missed(replies: Sequence[Any]) -> list[int]:
    """Which replies say the server lacked the script."""
    return [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]


def _fill(replies: list[Any], indexes: Sequence[int], again: Sequence[Any]) -> None:
    for index, reply in zip(indexes, again, strict=True):
        replies[index] = reply


def _checked(replies: list[Any]) -> list[Any]:
    """The replies, or the first error among them raised."""
    for reply in replies:
        if isinstance(reply, RedisError):
            raise reply
    return replies


def _read(name: str) -> str:
    return (
        resources.files("scheduler.transport")
        .joinpath("lua")
        .joinpath(f"{name}.lua")
        .read_text("utf-8")
    )
