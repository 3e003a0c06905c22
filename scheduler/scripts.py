"""The package's Lua scripts: ``scheduler/lua/<name>.lua``, run by name.

Each script opens with a comment giving its KEYS / ARGV / return contract. A file whose
name starts with ``_`` is a fragment, pasted into a script in place of a line
``-- @include <name>``. Scripts run with EVALSHA and are loaded again on NOSCRIPT, so a
Redis server restarted empty keeps working.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

from redis.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .link import Link, usable
from .resp import Arg, bulks, pack

if TYPE_CHECKING:
    import redis
    from redis.commands.core import Script

_INCLUDE = "-- @include "
_MAX_HEADS = 1024  # command heads cached
_CACHED_KEYS = 8  # calls with more keys (adopt's, dispatch's) are packed whole each time

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
    folder = resources.files("scheduler").joinpath("lua")
    return sorted(
        entry.name[: -len(".lua")]
        for entry in folder.iterdir()
        if entry.name.endswith(".lua") and not entry.name.startswith("_")
    )


class Scripts:
    """The scripts registered on one Redis client; ``spin`` is the Link's (seconds spent
    polling for a reply before blocking; None: the default for this machine). ``link``
    is that Link, shared with other calls of the same owner; None where the client must
    take redis-py's path."""

    def __init__(self, client: redis.Redis, spin: float | None = None) -> None:
        self._client = client
        self.link = Link(client, spin) if usable(client) else None
        self._heads: dict[tuple[str, tuple[str, ...], int], bytes] = {}
        self._scripts: dict[str, Script] = {
            name: client.register_script(script_source(name)) for name in script_names()
        }

    def run(self, name: str, keys: Sequence[str], args: Sequence[Arg] = ()) -> Any:
        """Run script ``name`` (EVALSHA, loading it first if the server does not have it).

        The call goes over a ``Link`` (scheduler/link.py) when the client allows it: the
        command is packed here and its reply read there, without redis-py's command path.
        On a connection error or NOSCRIPT it goes again through redis-py's own path, with
        its retries and a script reload.
        """
        script = self._scripts[name]
        if self.link is not None:
            try:
                return self.link.call(self._command(script.sha, keys, args))
            except (RedisConnectionError, RedisTimeoutError, NoScriptError):
                pass
        return self.run_on(self._client, name, keys, args)

    def load(self, name: str) -> None:
        """Load script ``name`` into the server's script cache now, not on first use."""
        self._client.script_load(self._scripts[name].script)

    def run_many(self, name: str, calls: Iterable[Call]) -> list[Any]:
        """Run script ``name`` once per (keys, args) that ``calls`` yields, in order; the
        replies, in order.

        Over a Link the calls are sent as they are yielded (small ones 16 KiB at a time)
        and the replies read at the end, so Redis runs one call while the caller builds
        the next. Only for scripts that may run twice with the same arguments: if the
        connection breaks, every call goes again through redis-py, whether or not it had
        run.
        """
        script = self._scripts[name]
        calls = iter(calls)  # on a broken connection, `made` plus the rest is every call
        made: list[Call] = []

        def commands() -> Iterator[bytes]:
            for keys, args in calls:
                made.append((keys, args))
                yield self._command(script.sha, keys, args)

        if self.link is None:
            return [self.run_on(self._client, name, keys, args) for keys, args in calls]
        try:
            replies = self.link.call_many(commands())
        except (RedisConnectionError, RedisTimeoutError):
            made.extend(calls)
            return [self.run_on(self._client, name, keys, args) for keys, args in made]
        missed = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missed:  # a server without the script refuses every call: load it, send them again
            self.load(name)
            again = self.link.call_many(self._command(script.sha, *made[i]) for i in missed)
            for index, reply in zip(missed, again, strict=True):
                replies[index] = reply
        for reply in replies:
            if isinstance(reply, RedisError):
                raise reply
        return replies

    def _command(self, sha: str, keys: Sequence[str], args: Sequence[Arg]) -> bytes:
        """EVALSHA packed. The head (up to the last key) of a call with few keys, such as
        an enqueue's, is cached: queues are few."""
        if len(keys) > _CACHED_KEYS:
            return pack("EVALSHA", sha, len(keys), *keys, *args)
        shape = (sha, tuple(keys), len(args))
        head = self._heads.get(shape)
        if head is None:
            if len(self._heads) >= _MAX_HEADS:
                self._heads.clear()
            count = b"*%d\r\n" % (3 + len(keys) + len(args))
            head = self._heads[shape] = count + bulks(("EVALSHA", sha, len(keys), *keys))
        return head + bulks(args)

    def run_on(self, client: Any, name: str, keys: Sequence[str], args: Sequence[Arg] = ()) -> Any:
        """Run script ``name`` on another client or a pipeline of the same server."""
        script = self._scripts[name]
        if isinstance(client, Pipeline):
            return script(keys=keys, args=args, client=client)
        try:  # straight to the command: redis-py's Script wrapper costs ~10 µs a call
            return client.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            client.script_load(script.script)
            return client.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)


def _read(name: str) -> str:
    return resources.files("scheduler").joinpath("lua").joinpath(f"{name}.lua").read_text("utf-8")
