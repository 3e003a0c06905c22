"""The RESP2 packing and reply parser (scheduler/resp.py), and the Link's spin setting
(no Redis needed)."""

from __future__ import annotations

import pytest
import redis
from redis.exceptions import NoScriptError

from scheduler.errors import ConfigError
from scheduler.link import DEFAULT_SPIN, default_spin, usable
from scheduler.resp import bulks, pack, parse


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b":1\r\n", 1),
        (b":-42\r\n", -42),
        (b"$5\r\nhello\r\n", b"hello"),
        (b"$0\r\n\r\n", b""),
        (b"$4\r\na\r\nb\r\n", b"a\r\nb"),
        (b"$-1\r\n", None),
        (b"+OK\r\n", b"OK"),
        (b"*-1\r\n", None),
        (b"*0\r\n", []),
        (b"*3\r\n:1\r\n$1\r\nx\r\n*2\r\n$-1\r\n+y\r\n", [1, b"x", [None, b"y"]]),
    ],
)
def test_every_resp2_reply_reads_as_redis_py_returns_it(raw: bytes, value: object) -> None:
    assert parse(raw, 0) == (value, len(raw))
    assert parse(bytearray(raw), 0) == (value, len(raw))


@pytest.mark.parametrize(
    "whole", [b":12\r\n", b"$5\r\nhello\r\n", b"*2\r\n:1\r\n$3\r\nabc\r\n", b"-ERR bad\r\n"]
)
def test_a_reply_cut_anywhere_is_incomplete_until_its_last_byte(whole: bytes) -> None:
    for cut in range(len(whole)):
        assert parse(whole[:cut], 0)[1] == -1
    assert parse(whole, 0)[1] == len(whole)


def test_an_error_reply_is_an_exception_object_not_raised() -> None:
    error, used = parse(b"-ERR unknown command\r\n", 0)
    assert isinstance(error, redis.ResponseError) and used == 22
    assert str(error) == "ERR unknown command"


def test_an_error_reply_takes_redis_pys_class_when_a_parser_is_given() -> None:
    connection = redis.Connection()
    error, _ = parse(b"-NOSCRIPT No matching script.\r\n", 0, connection)
    assert isinstance(error, NoScriptError)


def test_an_unknown_reply_type_is_a_protocol_error() -> None:
    with pytest.raises(redis.ConnectionError, match="Protocol error"):
        parse(b"%1\r\n", 0)


def test_commands_pack_as_one_array_of_bulk_strings() -> None:
    assert pack("SET", "k", 1) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n1\r\n"
    assert bulks(()) == b""


def test_spin_comes_from_the_environment_in_microseconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDULER_SPIN_US", "250")
    assert default_spin() == pytest.approx(250e-6)
    monkeypatch.setenv("SCHEDULER_SPIN_US", "0")
    assert default_spin() == 0.0
    for bad in ("fast", "-1", "inf", "nan", "20000"):
        monkeypatch.setenv("SCHEDULER_SPIN_US", bad)
        with pytest.raises(ConfigError, match="SCHEDULER_SPIN_US must be microseconds from 0"):
            default_spin()
    monkeypatch.delenv("SCHEDULER_SPIN_US")
    assert default_spin() in (0.0, DEFAULT_SPIN)


def test_tls_and_decoded_clients_are_left_to_redis_py() -> None:
    assert usable(redis.Redis()) and usable(redis.Redis(protocol=3))
    assert usable(redis.Redis(unix_socket_path="/tmp/x.sock"))
    assert not usable(redis.Redis(ssl=True))
    assert not usable(redis.Redis(decode_responses=True))
    assert not usable(object())  # type: ignore[arg-type]  # a cluster client has no pool
