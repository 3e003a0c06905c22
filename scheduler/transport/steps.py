"""Redis conversations written once for a sync and an async client.

A reader or an action that needs several round trips (read a job, wait for its result,
find and cancel it) is a generator of steps: it yields a ``Pipe`` (commands sent in one
pipeline; it is sent back their replies, in order), a ``Script`` (one script call; it is
sent back the reply) or ``ScriptCalls`` (calls of one script in one pipeline; it is sent
back their replies), and returns its answer. ``run_steps`` plays it on ``redis.Redis``
and ``Scripts``, ``arun_steps`` on ``redis.asyncio.Redis`` and ``AsyncScripts``: the
decisions and the decoding live in the generator, only the I/O differs.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import redis
    import redis.asyncio

    from .scripts import Arg, AsyncScripts, Scripts

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Command:
    """One redis-py client method by name, with its arguments (so replies are parsed as
    that method parses them, sync or async)."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()


def cmd(method: str, *args: Any, **kwargs: Any) -> Command:
    """``Command(method, args, kwargs)``."""
    return Command(method, args, tuple(kwargs.items()))


@dataclass(frozen=True, slots=True)
class Pipe:
    """Commands sent in one pipeline (no transaction); the step's reply is their replies."""

    commands: Sequence[Command]


@dataclass(frozen=True, slots=True)
class Script:
    """One call of script ``name``; the step's reply is the script's."""

    name: str
    keys: Sequence[str]
    args: Sequence[Arg] = ()


@dataclass(frozen=True, slots=True)
class ScriptCalls:
    """Calls of script ``name``, (keys, args) each, sent in one pipeline
    (``Scripts.run_many``: each must be safe to send twice); the step's reply is the
    scripts' replies, in order."""

    name: str
    calls: Sequence[tuple[Sequence[str], Sequence[Arg]]]


Steps = Generator["Pipe | Script | ScriptCalls", Any, T]


def socket_limit(client: redis.Redis | redis.asyncio.Redis) -> float | None:
    """The client's ``socket_timeout`` (None: none): a blocking command must end sooner."""
    limit = client.connection_pool.connection_kwargs.get("socket_timeout")
    return float(limit) if limit else None


def run_steps(steps: Steps[T], client: redis.Redis, scripts: Scripts | None = None) -> T:
    """Play ``steps`` on a sync client; their answer. ``scripts``: for steps that call
    scripts."""
    reply: Any = None
    while True:
        try:
            step = steps.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if isinstance(step, (Script, ScriptCalls)):
            assert scripts is not None, "these steps call scripts: give run_steps a Scripts"
            if isinstance(step, Script):
                reply = scripts.run(step.name, step.keys, step.args)
            else:
                reply = scripts.run_many(step.name, step.calls)
            continue
        with client.pipeline(transaction=False) as pipe:
            for c in step.commands:
                getattr(pipe, c.method)(*c.args, **dict(c.kwargs))
            reply = pipe.execute()


async def arun_steps(steps: Steps[T], client: redis.asyncio.Redis, scripts: AsyncScripts) -> T:
    """Play ``steps`` on an asyncio client; their answer."""
    reply: Any = None
    while True:
        try:
            step = steps.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if isinstance(step, Script):
            reply = await scripts.run(step.name, step.keys, step.args)
            continue
        if isinstance(step, ScriptCalls):
            reply = await scripts.run_many(step.name, step.calls)
            continue
        async with client.pipeline(transaction=False) as pipe:
            for c in step.commands:
                getattr(pipe, c.method)(*c.args, **dict(c.kwargs))
            reply = await pipe.execute()
