"""A real `scheduler web` process (uvicorn) against a real Redis, attacked over raw HTTP:
credentials of hostile shapes, redirects after sign-in, forged proxy headers."""

from __future__ import annotations

import html
import http.client
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from scheduler.cli.dev import free_port
from scheduler.keys import Keys
from tests.helpers import wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCHEDULE = "jobs:\n  nightly:\n    task: tests.tasks:noop\n    cron: '0 3 * * *'\n"
Header = tuple[str, str | bytes]


@dataclass
class Reply:
    """What the server answered."""

    status: int
    headers: list[tuple[str, str]]
    body: str

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name), None)

    def cookies(self) -> list[str]:
        return [v for k, v in self.headers if k.lower() == "set-cookie"]


@dataclass
class Web:
    """One `scheduler web` process on a loopback port."""

    port: int
    log: Path

    def request(
        self, method: str, path: str, headers: Sequence[Header] = (), body: bytes = b""
    ) -> Reply:
        """Send exactly these headers (values may be raw bytes) and read the reply."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            names = {name.lower() for name, _ in headers}
            if "host" not in names:
                conn.putheader("Host", f"127.0.0.1:{self.port}")
            for name, value in headers:
                conn.putheader(name, value)
            if body or method == "POST":
                conn.putheader("Content-Type", "application/x-www-form-urlencoded")
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            response = conn.getresponse()
            return Reply(response.status, response.getheaders(), response.read().decode())
        finally:
            conn.close()

    def answers(self) -> bool:
        try:
            self.request("GET", "/static/style.css")
        except OSError:
            return False
        return True

    def errors(self) -> str:
        return self.log.read_text(errors="replace")


Serve = Callable[..., Web]


@pytest.fixture
def serve(redis_url: str, namespace: str, tmp_path: Path) -> Iterator[Serve]:
    """Start `scheduler web ARGS...` on a free port; wait until it answers."""
    procs: list[subprocess.Popen[bytes]] = []
    (tmp_path / "schedule.yml").write_text(SCHEDULE)

    def start(*args: str) -> Web:
        port = free_port()
        log = tmp_path / f"web-{len(procs)}.log"
        cmd = [sys.executable, "-m", "scheduler", "web", "--port", str(port)]
        cmd += ["--redis", redis_url, "--namespace", namespace, "--refresh", "0", *args]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("SCHEDULER_WEB_TOKEN", None)
        with log.open("wb") as out:
            procs.append(subprocess.Popen(cmd, cwd=tmp_path, env=env, stderr=out))
        web = Web(port, log)
        wait_until(web.answers, what="scheduler web to answer")
        return web

    yield start
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(10)


def session_of(reply: Reply) -> str:
    [cookie] = [c for c in reply.cookies() if c.startswith("scheduler_session=")]
    return cookie.split(";")[0].split("=", 1)[1]


def signed_in(web: Web) -> tuple[Header, Header, str]:
    """Sign in with the token: (its cookies, the Origin header, a form's CSRF token)."""
    reply = web.request("GET", "/?token=s3cret")
    [auth] = [c.split(";")[0] for c in reply.cookies() if c.startswith("scheduler_auth=")]
    cookies: Header = ("Cookie", f"{auth}; scheduler_session={session_of(reply)}")
    page = web.request("GET", "/jobs/nightly", [cookies]).body
    csrf = re.search(r'name="csrf" value="(\w+)"', page)
    assert csrf is not None
    return cookies, ("Origin", f"http://127.0.0.1:{web.port}"), csrf[1]


# Non-ASCII, invalid UTF-8, a line separator, a long one.
HOSTILE = ["é".encode(), b"\xff\xfe", "ünïcode".encode(), "\u2028".encode(), b"x" * 5000]
PAUSE = "/jobs/nightly/pause"


# -- credentials of any shape --------------------------------------------------------------


def test_a_token_or_cookie_of_any_shape_gets_401_and_logs_no_traceback(serve: Serve) -> None:
    web = serve("--token", "s3cret", "--schedule", "schedule.yml")
    for raw in HOSTILE:
        for cookie in (b"scheduler_auth=" + raw, b"scheduler_session=" + raw):
            assert web.request("GET", "/", [("Cookie", cookie)]).status == 401, cookie
        assert web.request("GET", "/", [("Authorization", b"Bearer " + raw)]).status == 401
    for query in ("token=%C3%A9", "token=%FF", "token=s3cret%00", "token=%E2%80%A8"):
        assert web.request("GET", f"/?{query}").status == 401, query
    assert web.request("GET", "/?token=s3cret").status == 200
    assert "Traceback" not in web.errors()


def test_a_csrf_field_session_or_origin_of_any_shape_gets_403(
    serve: Serve, redis_url: str, namespace: str
) -> None:
    web = serve("--token", "s3cret", "--schedule", "schedule.yml")
    cookies, origin, csrf = signed_in(web)
    auth = str(cookies[1]).split(";")[0].encode()
    for raw in HOSTILE:
        stranger: Header = ("Cookie", auth + b"; scheduler_session=" + raw)
        assert web.request("POST", PAUSE, [cookies, origin], b"csrf=" + raw).status == 403
        assert web.request("POST", PAUSE, [stranger, origin], b"csrf=" + raw).status == 403
    form = f"csrf={csrf}".encode()
    for name in ("Origin", "Referer"):
        for value in (b"http://[", "http://é.example".encode(), b"\xff", b"http://[::1"):
            assert web.request("POST", PAUSE, [cookies, (name, value)], form).status == 403
    with redis.Redis.from_url(redis_url) as client:
        assert client.hlen(Keys(namespace).paused()) == 0  # none of that got through
        assert web.request("POST", PAUSE, [cookies, origin], form).status == 303
        assert client.hexists(Keys(namespace).paused(), "nightly")  # the real form does
    assert "Traceback" not in web.errors()


def test_without_a_token_hostile_host_and_origin_headers_get_4xx(serve: Serve) -> None:
    web = serve("--schedule", "schedule.yml")
    hosts = [b"", b"[", b"[::1", b"\xff", "é.example".encode(), b"localhost\xff", b"::1"]
    for host in hosts:  # not a loopback name (nor read as the socket's own address)
        assert web.request("GET", "/", [("Host", host)]).status == 400, host
    session = session_of(web.request("GET", "/"))
    cookie = ("Cookie", f"scheduler_session={session}")
    for origin in (b"http://[", b"http://[::1", "http://é".encode(), b"\xff"):
        assert web.request("POST", PAUSE, [cookie, ("Origin", origin)], b"").status == 403
    assert "Traceback" not in web.errors()


# -- where signing in goes -----------------------------------------------------------------


def refresh_target(reply: Reply) -> str:
    found = re.search(r'content="0;url=([^"]*)"', reply.body)
    assert found, reply.body
    return html.unescape(found[1])


def test_signing_in_goes_on_only_to_a_path_of_the_dashboard(serve: Serve) -> None:
    web = serve("--token", "s3cret")
    # Each would be another site for a browser: it drops tabs and newlines and reads a
    # backslash as a slash.
    for path in (
        "//evil.example/x",
        "///evil.example/x",
        "/%2F/evil.example/x",
        "/%5Cevil.example/x",
        "/%09/evil.example/x",
        "/%0A/evil.example/x",
    ):
        reply = web.request("GET", f"{path}?token=s3cret&a=1")
        assert reply.status == 200, path
        target = refresh_target(reply)
        assert target.startswith("/") and not target.startswith("//"), (path, target)
        assert not re.search(r"[\\\x00-\x20\x7f]", target), (path, target)
        assert f'href="{target}"' in html.unescape(reply.body)
    assert refresh_target(web.request("GET", "/dead?page=2&token=s3cret")) == "/dead?page=2"
    assert refresh_target(web.request("GET", "//evil.example/x?token=s3cret")) == "/"


# -- proxy headers ---------------------------------------------------------------------------

FORGED: list[Header] = [("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Proto", "https")]
BEARER: Header = ("Authorization", "Bearer s3cret")


def paused_by(web: Web, redis_url: str, namespace: str) -> str:
    """Pause the job from the dashboard, sending forged proxy headers: who Redis says did."""
    assert web.request("POST", PAUSE, [BEARER, *FORGED], b"").status == 303
    with redis.Redis.from_url(redis_url) as client:
        record = client.hget(Keys(namespace).paused(), "nightly")
        client.hdel(Keys(namespace).paused(), "nightly")
    assert record is not None
    return str(json.loads(record)["by"])


def cookie_flags(web: Web) -> list[str]:
    """The Set-Cookie headers of a first visit that signs in, sent with forged headers."""
    return web.request("GET", "/?token=s3cret", FORGED).cookies()


def test_proxy_headers_are_ignored_unless_their_sender_is_trusted(
    serve: Serve, redis_url: str, namespace: str
) -> None:
    plain = serve("--token", "s3cret", "--schedule", "schedule.yml")
    assert paused_by(plain, redis_url, namespace) == "dashboard (127.0.0.1)"
    assert all("Secure" not in cookie for cookie in cookie_flags(plain))

    elsewhere = serve(
        "--token",
        "s3cret",
        "--schedule",
        "schedule.yml",
        "--forwarded-allow-ips",
        "10.0.0.0/8, 192.0.2.7",
    )
    assert paused_by(elsewhere, redis_url, namespace) == "dashboard (127.0.0.1)"
    assert all("Secure" not in cookie for cookie in cookie_flags(elsewhere))

    proxied = serve(
        "--token", "s3cret", "--schedule", "schedule.yml", "--forwarded-allow-ips", "127.0.0.1"
    )
    assert paused_by(proxied, redis_url, namespace) == "dashboard (203.0.113.9)"
    cookies = cookie_flags(proxied)
    assert len(cookies) == 2 and all("Secure" in cookie for cookie in cookies)
