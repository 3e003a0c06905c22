"""The Redis protocol (RESP2), as the Link speaks it: commands packed as arrays of bulk
strings, replies read into the values redis-py returns. Pure: no sockets here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

Arg = str | bytes | int | float  # a command's name or argument, as the client sends it


def pack(*args: Arg) -> bytes:
    """One command in the Redis protocol (RESP): an array of bulk strings."""
    return b"*%d\r\n" % len(args) + bulks(args)


def bulks(args: Sequence[Arg]) -> bytes:
    """``args`` as RESP bulk strings, one after another."""
    parts = []
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def parse(buffer: bytes | bytearray, start: int, connection: Any = None) -> tuple[Any, int]:
    """One RESP2 reply at ``start`` of ``buffer``: (value, index after it), or (None, -1)
    if the buffer does not hold all of it yet.

    Values are what redis-py returns undecoded: bytes, int, None, lists, and an exception
    object for an error reply (made by ``connection``'s parser when there is one).
    """
    line_end = buffer.find(b"\r\n", start)
    if line_end < 0:
        return None, -1
    kind = buffer[start]
    after = line_end + 2
    if kind == 58:  # ':' integer
        return int(buffer[start + 1 : line_end]), after
    if kind == 36:  # '$' bulk string
        return _bulk(buffer, int(buffer[start + 1 : line_end]), after)
    if kind == 43:  # '+' simple string
        return bytes(buffer[start + 1 : line_end]), after
    if kind == 42:  # '*' array
        return _array(buffer, int(buffer[start + 1 : line_end]), after, connection)
    if kind == 45:  # '-' error
        return _error(buffer[start + 1 : line_end].decode(errors="replace"), connection), after
    raise redis.ConnectionError(f"Protocol error: unexpected reply type {chr(kind)!r}")


def _bulk(buffer: bytes | bytearray, size: int, start: int) -> tuple[Any, int]:
    if size < 0:
        return None, start
    if len(buffer) < start + size + 2:
        return None, -1
    return bytes(buffer[start : start + size]), start + size + 2


def _array(buffer: bytes | bytearray, count: int, start: int, connection: Any) -> tuple[Any, int]:
    if count < 0:
        return None, start
    items = []
    for _ in range(count):
        item, start = parse(buffer, start, connection)
        if start < 0:
            return None, -1
        items.append(item)
    return items, start


def _error(message: str, connection: Any) -> redis.RedisError:
    parser = getattr(connection, "_parser", None)
    if parser is not None and hasattr(parser, "parse_error"):
        error = parser.parse_error(message)
        if isinstance(error, redis.RedisError):
            return error
    return redis.ResponseError(message)
