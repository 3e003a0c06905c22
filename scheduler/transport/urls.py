"""The one place a Redis URL becomes a redis-py client (docs/operations.md, "Sentinel and
Cluster"; the forms are listed in docs/cli.md).

- ``redis://``, ``rediss://``, ``unix://``: one server, ``redis.Redis.from_url``.
- ``redis+sentinel://[user:password@]host:port[,host:port...]/SERVICE[/DB]``
  (``?sentinel_password=`` for the sentinels): the primary of SERVICE, found through the
  sentinels on every new connection, so a client follows a failover by itself.
- ``redis+cluster://[user:password@]host:port[,host:port...]``: a Redis Cluster; the
  nodes given are where the client first learns the slot map.
- ``rediss+sentinel://`` and ``rediss+cluster://``: the same over TLS (the sentinels
  too), with redis-py's ``ssl_*`` options in the query (``?ssl_ca_certs=/path/ca.pem``).

A URL that cannot be one of these is BadSetting, naming what is wrong and the right form.
``client_from_url`` makes a ``redis.Redis`` of it, ``async_client_from_url`` a
``redis.asyncio.Redis`` (``scheduler.aio.Queue``): the same URLs, read by the same code.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.sentinel
from redis.cluster import ClusterNode, RedisCluster
from redis.connection import SSLConnection
from redis.sentinel import MasterNotFoundError, Sentinel, SentinelManagedConnection

from ..errors import BadSetting

log = logging.getLogger(__name__)
SENTINEL_FORM = "redis+sentinel://[user:password@]host:port[,host:port...]/SERVICE[/DB]"
CLUSTER_FORM = "redis+cluster://[user:password@]host:port[,host:port...]"
# The longest wait between tries while Redis is away, for every long-running process:
# short, so that work resumes within a second of a new primary taking over.
REDIS_RETRY_MAX = 1.0
_PLAIN = ("redis", "rediss", "unix")
_SCHEMES = (
    "redis://, rediss://, unix://, redis+sentinel://, rediss+sentinel://, redis+cluster:// "
    "or rediss+cluster://"
)
# The TLS options a rediss+ URL takes, by their redis-py names: paths or words, and flags.
_TLS_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs")
_TLS_FLAGS = ("ssl_check_hostname",)
_CERT_REQS = ("none", "optional", "required")


def client_from_url(url: str, **options: Any) -> redis.Redis:
    """A client for ``url``; ``options`` (socket timeouts...) go to every connection to a
    Redis server. A cluster client is returned as ``redis.Redis``: it answers the same
    commands, and code that needs one connection asks ``is_cluster`` first."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme in _PLAIN:
        return redis.Redis.from_url(url, **options)
    tls = scheme.startswith("rediss+")
    if scheme in ("redis+sentinel", "rediss+sentinel"):
        return _sentinel(url, options, tls)
    if scheme in ("redis+cluster", "rediss+cluster"):
        return _cluster(url, options, tls)
    raise BadSetting(f"Redis URL {_shown(url)}: unknown scheme; use {_SCHEMES}")


def async_client_from_url(url: str, **options: Any) -> redis.asyncio.Redis:
    """``client_from_url`` for asyncio: a ``redis.asyncio`` client for ``url``. Its
    sentinel client asks the sentinels where the primary is on every new connection."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme in _PLAIN:
        return redis.asyncio.Redis.from_url(url, **options)
    tls = scheme.startswith("rediss+")
    if scheme in ("redis+sentinel", "rediss+sentinel"):
        service, hosts, sentinel_kwargs, kwargs = _sentinel_parts(url, options, tls)
        sentinels = redis.asyncio.sentinel.Sentinel(hosts, sentinel_kwargs=sentinel_kwargs)
        if tls:
            kwargs["connection_class"] = redis.asyncio.sentinel.SentinelManagedSSLConnection
        client: redis.asyncio.Redis = sentinels.master_for(service, **kwargs)
        return client
    if scheme in ("redis+cluster", "rediss+cluster"):
        hosts, kwargs = _cluster_parts(url, options, tls)
        nodes = [redis.asyncio.cluster.ClusterNode(host, port) for host, port in hosts]
        cluster = redis.asyncio.cluster.RedisCluster(startup_nodes=nodes, **kwargs)
        return cluster  # type: ignore[return-value]
    raise BadSetting(f"Redis URL {_shown(url)}: unknown scheme; use {_SCHEMES}")


async def aclose_client(client: redis.asyncio.Redis) -> None:
    """Close an asyncio client's connections, and those to its sentinels if it has any
    (``redis.asyncio`` leaves those open)."""
    await client.aclose()
    manager = getattr(getattr(client, "connection_pool", None), "sentinel_manager", None)
    for sentinel in getattr(manager, "sentinels", []):
        await sentinel.aclose()


def is_cluster(client: object) -> bool:
    """Whether ``client`` talks to a Redis Cluster (it has no single connection pool)."""
    return isinstance(client, RedisCluster)


def routed_to(client: object, key: str) -> dict[str, Any]:
    """The options that send a command without keys (WAIT, INFO) to the node serving
    ``key``'s slot when ``client`` talks to a Redis Cluster; none for any other client."""
    if isinstance(client, RedisCluster):
        return {"target_nodes": client.get_node_from_key(key)}  # type: ignore[no-untyped-call]
    return {}


def _sentinel(url: str, options: dict[str, Any], tls: bool) -> redis.Redis:
    service, hosts, sentinel_kwargs, kwargs = _sentinel_parts(url, options, tls)
    sentinels = _Sentinels(hosts, sentinel_kwargs=sentinel_kwargs)
    kwargs["connection_class"] = _PrimaryTLSConnection if tls else _PrimaryConnection
    client: redis.Redis = sentinels.master_for(service, **kwargs)
    return client


def _sentinel_parts(
    url: str, options: dict[str, Any], tls: bool
) -> tuple[str, list[tuple[str, int]], dict[str, Any], dict[str, Any]]:
    """(service, sentinels, the sentinel clients' options, the primary's) of a sentinel
    URL; over TLS both carry redis-py's ``ssl_*`` options."""
    parts = urlsplit(url)
    user, password, hosts = _split_netloc(url, parts.netloc, SENTINEL_FORM)
    path = [unquote(p) for p in parts.path.split("/") if p]
    if not path or len(path) > 2:
        raise BadSetting(
            f"Redis URL {_shown(url)}: name the service after the sentinels, {SENTINEL_FORM}"
        )
    db = _db(url, path[1] if len(path) == 2 else "0", SENTINEL_FORM)
    query = dict(parse_qsl(parts.query))
    secure = _tls(url, query, tls)
    unknown = sorted(set(query) - {"sentinel_password", "password"})
    if unknown:
        raise BadSetting(
            f"Redis URL {_shown(url)}: unknown option {unknown[0]!r}; a sentinel URL takes "
            "?sentinel_password= (the sentinels') and ?password= (the servers'), and over "
            f"TLS (rediss+sentinel://) {', '.join(_TLS_OPTIONS + _TLS_FLAGS)}"
        )
    timeouts = {k: v for k, v in options.items() if k.startswith("socket_")}
    sentinel_kwargs = {**timeouts, **secure, "password": query.get("sentinel_password")}
    password = query.get("password", password)
    kwargs = {**options, "db": db, "username": user, "password": password}
    kwargs.update((k, v) for k, v in secure.items() if k != "ssl")
    return path[0], hosts, sentinel_kwargs, kwargs


class _Sentinels(Sentinel):
    """The sentinels of one URL; says once each time they name another primary."""

    def __init__(self, hosts: list[tuple[str, int]], **options: Any) -> None:
        super().__init__(hosts, **options)
        self._primaries: dict[str, tuple[str, int]] = {}

    def discover_master(self, service_name: str) -> tuple[str, int]:
        try:
            address: tuple[str, int] = super().discover_master(service_name)
        except MasterNotFoundError:  # its text holds the repr of every sentinel client
            hosts = ",".join(
                f"{c.connection_pool.connection_kwargs.get('host')}:"
                f"{c.connection_pool.connection_kwargs.get('port')}"
                for c in self.sentinels
            )
            raise MasterNotFoundError(
                f"no sentinel at {hosts} names a reachable primary of {service_name!r}"
            ) from None
        seen = self._primaries.get(service_name)
        if seen != address:
            self._primaries[service_name] = address
            if seen is not None:
                log.warning(
                    "redis primary changed service=%s from=%s:%s to=%s:%s",
                    service_name,
                    *seen,
                    *address,
                )
        return address


class _PrimaryConnection(SentinelManagedConnection):
    """A connection to the service's primary that asks the sentinels where it is on every
    connect. redis-py's own asks only when a pool hands the connection out, so a client
    holding one connection (a worker's fetcher, a leader's lease) would call the dead
    primary again after a failover."""

    def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        if self._sock is None and self.connection_pool.is_master:
            self.host, self.port = self.connection_pool.get_master_address()
        super().connect_check_health(check_health, retry_socket_connect)

    def _connect_retry(self) -> None:
        if self.connection_pool.is_master:
            self.connect_check_health(self.connection_pool.check_connection, False)
        else:
            super()._connect_retry()  # type: ignore[no-untyped-call]


def _cluster(url: str, options: dict[str, Any], tls: bool) -> redis.Redis:
    hosts, kwargs = _cluster_parts(url, options, tls)
    nodes = [ClusterNode(host, port) for host, port in hosts]  # type: ignore[no-untyped-call]
    cluster = RedisCluster(startup_nodes=nodes, **kwargs)
    return cluster  # type: ignore[return-value]


def _cluster_parts(
    url: str, options: dict[str, Any], tls: bool
) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    """(the nodes, the client's options) of a cluster URL."""
    parts = urlsplit(url)
    user, password, hosts = _split_netloc(url, parts.netloc, CLUSTER_FORM)
    query = dict(parse_qsl(parts.query))
    secure = _tls(url, query, tls)
    if parts.path.strip("/") not in ("", "0") or query:
        raise BadSetting(
            f"Redis URL {_shown(url)}: a cluster has no database, and no options but TLS "
            f"ones (rediss+cluster://...?ssl_ca_certs=...); {CLUSTER_FORM}"
        )
    return hosts, {**options, "username": user, "password": password, **secure}


def _tls(url: str, query: dict[str, str], tls: bool) -> dict[str, Any]:
    """redis-py's TLS options taken out of ``query`` (a rediss+ URL), with ``ssl``."""
    if not tls:
        return {}
    secure: dict[str, Any] = {"ssl": True}
    for name in _TLS_OPTIONS:
        if name in query:
            secure[name] = query.pop(name)
    if secure.get("ssl_cert_reqs", "required") not in _CERT_REQS:
        raise BadSetting(
            f"Redis URL {_shown(url)}: ssl_cert_reqs must be one of {', '.join(_CERT_REQS)}"
        )
    for name in _TLS_FLAGS:
        if name in query:
            text = query.pop(name).lower()
            if text not in ("true", "false", "1", "0", "yes", "no"):
                raise BadSetting(f"Redis URL {_shown(url)}: {name} must be true or false")
            secure[name] = text in ("true", "1", "yes")
    return secure


class _PrimaryTLSConnection(_PrimaryConnection, SSLConnection):
    """``_PrimaryConnection`` over TLS (``rediss+sentinel://``)."""


def _split_netloc(
    url: str, netloc: str, form: str
) -> tuple[str | None, str | None, list[tuple[str, int]]]:
    """(user, password, [(host, port)...]) of ``user:password@h1:p1,h2:p2``."""
    credentials, _, listed = netloc.rpartition("@")
    user, colon, password = credentials.partition(":")
    hosts = []
    for address in listed.split(","):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise BadSetting(f"Redis URL {_shown(url)}: {address!r} is not host:port; {form}")
        hosts.append((host.strip("[]"), int(port)))
    return unquote(user) or None, unquote(password) if colon else None, hosts


def _db(url: str, text: str, form: str) -> int:
    if not text.isdigit():
        raise BadSetting(f"Redis URL {_shown(url)}: the database {text!r} is not a number; {form}")
    return int(text)


def _shown(url: str) -> str:
    """``url`` up to its host list: never its password (the caller redacts logs, but an
    error line is printed as it is)."""
    scheme, _, rest = url.partition("://")
    hosts = rest.rpartition("@")[2].partition("/")[0].partition("?")[0]
    return f"{scheme}://{hosts}" if rest else url.partition("?")[0].split("@")[-1]
