"""Redis URLs: one server, Sentinel, Cluster; a bad URL is one line and exit 2 (no server
is needed: the URL is refused before any connection)."""

from __future__ import annotations

import pytest
from redis.connection import SSLConnection
from redis.sentinel import SentinelConnectionPool

from scheduler.cli.logs import redact_url
from scheduler.transport.urls import client_from_url
from tests.helpers import run_cli

SENTINEL_URL = (
    "redis+sentinel://app:p%40ss@10.0.0.1:26379,sentinel-2:26380/orders/3?sentinel_password=s3cret"
)


def test_a_sentinel_url_names_its_sentinels_service_database_and_passwords() -> None:
    client = client_from_url(SENTINEL_URL, socket_timeout=2.0)
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "orders"
    assert {k: pool.connection_kwargs[k] for k in ("db", "username", "password")} == {
        "db": 3,
        "username": "app",
        "password": "p@ss",
    }
    sentinels = pool.sentinel_manager.sentinels
    assert [s.connection_pool.connection_kwargs["host"] for s in sentinels] == [
        "10.0.0.1",
        "sentinel-2",
    ]
    assert {s.connection_pool.connection_kwargs["password"] for s in sentinels} == {"s3cret"}
    assert {s.connection_pool.connection_kwargs["socket_timeout"] for s in sentinels} == {2.0}


def test_a_rediss_sentinel_url_speaks_tls_to_the_sentinels_and_the_primary() -> None:
    url = "rediss+sentinel://10.0.0.1:26379/orders?ssl_ca_certs=/ca.pem&ssl_check_hostname=no"
    pool = client_from_url(url).connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert issubclass(pool.connection_class, SSLConnection)
    assert pool.connection_kwargs["ssl_ca_certs"] == "/ca.pem"
    assert pool.connection_kwargs["ssl_check_hostname"] is False
    [sentinel] = pool.sentinel_manager.sentinels
    assert sentinel.connection_pool.connection_class is SSLConnection
    assert sentinel.connection_pool.connection_kwargs["ssl_ca_certs"] == "/ca.pem"


def test_a_sentinel_url_is_printed_without_its_passwords() -> None:
    shown = redact_url(SENTINEL_URL)
    assert "p%40ss" not in shown and "s3cret" not in shown
    assert shown.startswith("redis+sentinel://app:***@10.0.0.1:26379,sentinel-2:26380/orders/3")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis+sentinel://127.0.0.1:26379", "name the service after the sentinels"),
        ("redis+sentinel://127.0.0.1:26379/", "name the service after the sentinels"),
        ("redis+sentinel://127.0.0.1/svc", "'127.0.0.1' is not host:port"),
        ("redis+sentinel://127.0.0.1:26379/svc/x", "the database 'x' is not a number"),
        ("redis+cluster://127.0.0.1:7000/3", "a cluster has no database"),
        ("redis+sentinel://127.0.0.1:26379/svc?socket_timeout=1", "unknown option"),
        ("redis+cluster://127.0.0.1:7000?ssl_ca_certs=/ca.pem", "no options but TLS ones"),
        ("rediss+cluster://127.0.0.1:7000?ssl_cert_reqs=maybe", "ssl_cert_reqs must be one of"),
        ("rediss+sentinel://127.0.0.1:1/svc?ssl_check_hostname=2", "must be true or false"),
        ("rediss+sentinel://127.0.0.1:1/svc?ssl_ciphers=x", "unknown option 'ssl_ciphers'"),
        ("http://127.0.0.1:6379", "unknown scheme"),
        ("localhost:6379", "unknown scheme"),
    ],
)
def test_a_bad_redis_url_is_one_line_and_exit_2(
    url: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "status", "--redis", url)
    assert code == 2
    assert err.count("\n") == 1
    assert says in err
