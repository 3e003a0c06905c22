"""Options shared by the commands that talk to Redis (whose modules are imported only
when one of them runs, see ``main.py``), and connecting to Redis.

``redis_options`` (``--redis``, ``--redis-url-file``, ``--namespace``) is shared by every
such command. A secret option ``--X`` may come with ``--X-file`` (``file_option``), so a
secret can be read from a file, e.g. a Docker secret, rather than given on the command
line (docs/security.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import click
import redis
from redis.exceptions import RedisClusterException

from ..errors import BadSetting, RedisUnavailable
from ..keys import Keys
from ..queue import DEFAULT_NAMESPACE, DEFAULT_REDIS_URL, redis_from_url
from ..schedule.loader import open_regular
from .logs import redact_url, scrub

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
SECRET_FILE_LIMIT = 64 * 1024
_RANKS = {click.core.ParameterSource.COMMANDLINE: 2, click.core.ParameterSource.ENVIRONMENT: 1}


def file_option(flag: str, envvar: str, target: str, what: str) -> Callable[[F], F]:
    """Add ``flag FILE`` [env: ``envvar``]: the value of option ``target`` is read from FILE.

    The option whose value it gives must take ``callback=value_or_file``.
    """

    def remember(ctx: click.Context, param: click.Parameter, path: str | None) -> None:
        if path is not None:
            ctx.meta[f"scheduler.file.{target}"] = (path, _rank(ctx, param), _label(ctx, param))

    return click.option(
        flag,
        envvar=envvar,
        metavar="FILE",
        is_eager=True,
        expose_value=False,
        callback=remember,
        help=f"Read {what} from FILE (e.g. a Docker secret): one line, its final newline "
        f"dropped [env: {envvar}].",
    )


def value_or_file(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """The option's value, or its file's content when the file was given more explicitly
    (command line over environment over default); given both ways at once is an error."""
    given = ctx.meta.get(f"scheduler.file.{param.name}")
    if given is None:
        return value
    path, file_rank, file_label = given
    rank = _rank(ctx, param)
    if rank == file_rank:
        raise BadSetting(f"{_label(ctx, param)} and {file_label} are both set: keep one")
    return value if rank > file_rank else read_secret(path, file_label)


def read_secret(path: str, label: str) -> str:
    """The one line of the file at ``path``, without its final newline; else BadSetting."""
    try:
        with open_regular(path) as file:
            data = file.read(SECRET_FILE_LIMIT + 1)
    except OSError as error:
        raise BadSetting(f"{label} {path}: cannot read it ({error.strerror or error})") from None
    try:
        text = data.decode("utf-8").removesuffix("\n").removesuffix("\r")
    except UnicodeDecodeError:
        raise BadSetting(f"{label} {path}: it is not UTF-8 text") from None
    if len(data) > SECRET_FILE_LIMIT or not text or "\n" in text:
        raise BadSetting(f"{label} {path}: write the value alone on one line (at most 64 KiB)")
    return text


def _rank(ctx: click.Context, param: click.Parameter) -> int:
    source = ctx.get_parameter_source(param.name or "")
    return 0 if source is None else _RANKS.get(source, 0)


def _label(ctx: click.Context, param: click.Parameter) -> str:
    from_env = ctx.get_parameter_source(param.name or "") == click.core.ParameterSource.ENVIRONMENT
    envvar = param.envvar if isinstance(param.envvar, str) else None
    return f"${envvar}" if from_env and envvar else param.opts[0]


def redis_options(command: F) -> F:
    """Add ``--redis URL``, ``--redis-url-file FILE`` and ``--namespace NS`` (with their
    environment defaults)."""
    command = click.option(
        "--namespace",
        envvar="SCHEDULER_NAMESPACE",
        default=DEFAULT_NAMESPACE,
        show_default=True,
        help="Key namespace, so applications and tests can share one Redis "
        "[env: SCHEDULER_NAMESPACE].",
    )(command)
    command = file_option(
        "--redis-url-file", "SCHEDULER_REDIS_URL_FILE", "redis_url", "the Redis URL"
    )(command)
    return click.option(
        "--redis",
        "redis_url",
        envvar="SCHEDULER_REDIS_URL",
        default=DEFAULT_REDIS_URL,
        show_default=True,
        metavar="URL",
        callback=value_or_file,
        help="Redis URL; rediss:// and passwords work, and are never printed "
        "[env: SCHEDULER_REDIS_URL].",
    )(command)


def log_options(command: F) -> F:
    """Add ``--log-level`` and ``--log-format``."""
    command = click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        envvar="SCHEDULER_LOG_FORMAT",
        default="text",
        show_default=True,
        help="text: `time LEVEL logger: event key=value`; json: one JSON object per line "
        "[env: SCHEDULER_LOG_FORMAT].",
    )(command)
    return click.option(
        "--log-level",
        type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
        envvar="SCHEDULER_LOG_LEVEL",
        default="info",
        show_default=True,
        help="Least severe log lines to print, on stderr [env: SCHEDULER_LOG_LEVEL].",
    )(command)


def durability_option(command: F) -> F:
    """Add ``--durability local|replicated``."""
    return click.option(
        "--durability",
        type=click.Choice(["local", "replicated"]),
        default="local",
        show_default=True,
        help="replicated: each write (dispatch, acknowledgement) waits until a replica has "
        "it (WAIT 1), and goes on unconfirmed, loudly, when none does in time.",
    )(command)


def metrics_options(command: F) -> F:
    """Add ``--metrics-port`` and ``--metrics-host``."""
    command = click.option(
        "--metrics-host",
        default="127.0.0.1",
        show_default=True,
        metavar="HOST",
        help="Address to serve metrics on (they have no authentication): this host only by "
        "default; 0.0.0.0 (every interface) lets a Prometheus on another host scrape them.",
    )(command)
    return click.option(
        "--metrics-port",
        type=click.IntRange(0, 65535),
        default=0,
        metavar="PORT",
        help="Serve Prometheus metrics at http://HOST:PORT/metrics (needs the metrics extra: "
        "pip install 'scheduler[metrics]'); 0 = off [default: off].",
    )(command)


def connect(url: str, timeout: float = 30.0, *, wait: bool = False) -> redis.Redis:
    """A client for ``url``; RedisUnavailable for a bad URL or refused credentials.

    ``timeout`` bounds every socket read (and a connect, at most 5 s). A server that does
    not answer is waited for if ``wait`` (a long-running process keeps trying), else it is
    RedisUnavailable too: a one-shot command gives up at once.
    """
    try:
        client = redis_from_url(
            url, socket_timeout=timeout, socket_connect_timeout=min(5.0, timeout)
        )
        client.ping()
    except (ValueError, redis.AuthenticationError, redis.ResponseError) as exc:
        raise RedisUnavailable(
            f"cannot use Redis at {redact_url(url)}: {scrub(str(exc))}"
        ) from None
    except RedisClusterException as exc:  # no node answered: there is no client to keep
        raise RedisUnavailable(
            f"cannot reach Redis at {redact_url(url)}: {scrub(str(exc))}"
        ) from None
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        if not wait:
            raise RedisUnavailable(
                f"cannot reach Redis at {redact_url(url)}: {scrub(str(exc))} (is it running? "
                "the URL comes from --redis or $SCHEDULER_REDIS_URL)"
            ) from None
        log.warning("redis unavailable at %s, retrying: %s", redact_url(url), scrub(str(exc)))
    return client


def safe_namespace(namespace: str) -> str:
    """``namespace`` if it is valid, else BadSetting."""
    try:
        Keys(namespace)
    except ValueError as exc:
        raise BadSetting(str(exc)) from None
    return namespace
