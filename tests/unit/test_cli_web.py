"""`scheduler web` refuses, on one line, what would be unsafe or cannot work."""

from __future__ import annotations

import sys

import pytest

import scheduler.cli.web
from scheduler.cli.main import main
from scheduler.web.guard import is_loopback


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    old = sys.argv
    sys.argv = ["scheduler", "web", *args, "--redis", "redis://127.0.0.1:1/0"]
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = old
    return code, capsys.readouterr().err


def test_listening_beyond_loopback_without_a_token_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SCHEDULER_WEB_TOKEN", raising=False)
    code, err = run(capsys, "--host", "0.0.0.0")
    assert code == 2
    assert err.count("\n") == 1 and "--host 0.0.0.0" in err and "--token" in err


@pytest.mark.parametrize("value", ["proxy.internal", "10.0.0.0/40", "", "127.0.0.1,*", "1.2.3"])
def test_a_proxy_that_is_not_an_address_or_network_is_refused(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    code, err = run(capsys, "--forwarded-allow-ips", value)
    assert code == 2
    assert err.count("\n") == 1 and "--forwarded-allow-ips" in err and "not an IP" in err


def test_without_the_web_extra_the_command_says_what_to_install(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduler.cli.web, "MISSING", "starlette")
    code, err = run(capsys)
    assert code == 1
    assert err == (
        "error: scheduler web needs the web extra (starlette is missing): "
        "pip install 'scheduler[web]'\n"
    )


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.2", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_loopback_addresses_are_recognised(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
