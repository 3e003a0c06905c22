"""The package's Lua scripts: ``scheduler/lua/<name>.lua``, run by name.

Each script opens with a comment giving its KEYS / ARGV / return contract. A file whose
name starts with ``_`` is a fragment, pasted into a script in place of a line
``-- @include <name>``. Scripts run with EVALSHA and are loaded again on NOSCRIPT, so a
Redis server restarted empty keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

from redis.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

if TYPE_CHECKING:
    import redis
    from redis.commands.core import Script

_INCLUDE = "-- @include "

Arg = str | bytes | int | float


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
    """The scripts registered on one Redis client."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._scripts: dict[str, Script] = {
            name: client.register_script(script_source(name)) for name in script_names()
        }

    def run(self, name: str, keys: Sequence[str], args: Sequence[Arg] = ()) -> Any:
        """Run script ``name`` (EVALSHA, loading it first if the server does not have it).

        The call goes straight to a pooled connection, packed here: redis-py's command
        path (packing, retries, observability hooks) costs several times the ~8 µs a
        loopback round trip takes. On a connection error or NOSCRIPT it goes again
        through redis-py's own path, with its retries and a script reload.
        """
        script = self._scripts[name]
        try:
            return self._direct(script.sha, keys, args)
        except (RedisConnectionError, RedisTimeoutError, NoScriptError):
            return self.run_on(self._client, name, keys, args)

    def _direct(self, sha: str, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        pool = self._client.connection_pool
        connection = pool.get_connection()
        try:
            packed = pack("EVALSHA", sha, len(keys), *keys, *args)
            connection.send_packed_command([packed])  # type: ignore[no-untyped-call]
            return connection.read_response()
        except (RedisConnectionError, RedisTimeoutError):
            connection.disconnect()  # type: ignore[no-untyped-call]
            raise
        finally:
            pool.release(connection)

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


def pack(*args: Arg) -> bytes:
    """One command in the Redis protocol (RESP): an array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _read(name: str) -> str:
    return resources.files("scheduler").joinpath("lua").joinpath(f"{name}.lua").read_text("utf-8")
