"""Log lines: the JSON form keeps each `key=value` as a field, passwords never show, and
neither a newline nor a terminal escape from Redis reaches a text line raw."""

from __future__ import annotations

import json
import logging

import pytest

from scheduler.cli.logs import JsonFormatter, TextFormatter, redact_url, scrub, url_secrets


def record(msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord(
        "scheduler.dispatch.dispatcher", logging.INFO, "x.py", 1, msg, args, exc_info
    )


def test_json_lines_carry_the_event_and_each_key_as_a_field() -> None:
    line = JsonFormatter().format(
        record(
            "fire enqueued job=%s fire=%s lateness=%.3fs", "report", "2026-01-01T09:00:00Z", 0.0012
        )
    )
    document = json.loads(line)
    assert document["event"] == "fire enqueued"
    assert document["job"] == "report"
    assert document["fire"] == "2026-01-01T09:00:00Z"
    assert document["lateness"] == "0.001s"
    assert document["level"] == "info"
    assert document["logger"] == "scheduler.dispatch.dispatcher"
    assert document["ts"].endswith("Z")
    assert (
        document["message"] == "fire enqueued job=report fire=2026-01-01T09:00:00Z lateness=0.001s"
    )


def test_numbers_stay_numbers_and_reserved_names_are_kept_apart() -> None:
    document = json.loads(
        JsonFormatter().format(record("jobs adopted count=%d level=%s epoch=%s", 12, "x", 7))
    )
    assert document["count"] == 12
    assert document["epoch"] == 7
    assert document["field_level"] == "x"
    assert document["level"] == "info"


def test_a_message_without_fields_is_its_own_event() -> None:
    document = json.loads(JsonFormatter().format(record("REDIS LOST ITS DATA (%s)", "abc")))
    assert document["event"] == "REDIS LOST ITS DATA (abc)"


def test_exceptions_come_with_their_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError as exc:
        document = json.loads(JsonFormatter().format(record("job failed id=%s", "1", exc=exc)))
    assert document["error"] == "ValueError('boom')"
    assert "Traceback" in document["traceback"]


def test_redis_passwords_never_reach_the_output() -> None:
    url = "rediss://app:s3cr3t@redis.internal:6380/0"
    assert scrub(f"connecting to {url}") == "connecting to rediss://app:***@redis.internal:6380/0"
    assert scrub("redis://:hunter2@host/0") == "redis://:***@host/0"
    assert scrub("redis://host:6379/0") == "redis://host:6379/0"
    text = TextFormatter().format(record("redis unreachable url=%s", url))
    as_json = JsonFormatter().format(record("redis unreachable url=%s", url))
    assert "s3cr3t" not in text
    assert "s3cr3t" not in as_json
    assert json.loads(as_json)["url"] == "rediss://app:***@redis.internal:6380/0"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("REDIS://app:s3cr3t@host:6379/0", "redis://app:***@host:6379/0"),
        ("unix://:s3cr3t@/run/redis.sock?db=2", "unix://:***@/run/redis.sock?db=2"),
        ("redis://app:two words@host/0", "redis://app:***@host/0"),
        ("redis://app:p@ss@w@rd@host/0", "redis://app:***@host/0"),
        ("redis://host/0?password=s3cr3t&db=1", "redis://host/0?password=***&db=1"),
        ("redis://host/0?pass%77ord=s3cr3t", "redis://host/0?pass%77ord=***"),
        (
            "rediss://h/0?ssl_password=a&sentinel_password=b",
            "rediss://h/0?ssl_password=***&sentinel_password=***",
        ),
        ("redis://:p%40ss@host/0", "redis://:***@host/0"),
        ("redis://app@host/0", "redis://app@host/0"),
        ("redis://localhost:6379/0?db=3", "redis://localhost:6379/0?db=3"),
        ("redis://[::1:s3cr3t@host", "redis://***"),
    ],
)
def test_a_url_is_shown_without_its_secrets_however_it_is_written(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_urls_inside_a_line_lose_their_secrets() -> None:
    line = (
        "cannot use REDIS://app:p@ss@host/0, then unix://:s3cr3t@/run/r.sock; "
        "tried redis://h:6379/0?password=q-s3cr3t at http://u:web-s3cr3t@proxy/x"
    )
    scrubbed = scrub(line)
    assert "ss@host" not in scrubbed and "s3cr3t" not in scrubbed
    assert scrubbed == (
        "cannot use redis://app:***@host/0, then unix://:***@/run/r.sock; "
        "tried redis://h:6379/0?password=*** at http://u:***@proxy/x"
    )


def test_the_secrets_of_the_command_are_blanked_wherever_they_appear() -> None:
    url = "redis://app:blue whale@host/0?sentinel_password=red%20fox"
    secrets = url_secrets(url)
    assert set(secrets) >= {"blue whale", "red%20fox", "red fox"}
    line = "AUTH failed for blue whale; sentinel said red fox; redis://app:blue whale@host"
    for formatter in (TextFormatter(secrets), JsonFormatter(secrets)):
        out = formatter.format(record("redis refused reason=%s", line))
        assert "whale" not in out and "fox" not in out, out


def test_a_secret_too_short_to_tell_from_ordinary_text_is_left_to_url_parsing() -> None:
    out = TextFormatter(url_secrets("redis://:pw@host/0")).format(
        record("connected to redis://:pw@host/0 pwd=%s", "/srv")
    )
    assert out.endswith("connected to redis://:***@host/0 pwd=/srv")


FORGED = "r1\n2026-01-01 00:00:00,000 INFO scheduler.worker: job succeeded id=x\x1b]0;pwned\x07"


def test_text_lines_escape_control_characters_of_every_field() -> None:
    out = TextFormatter().format(
        record("job started id=%s task=%s", FORGED, "t\u202eexe.\x9b2J\u2028x")
    )
    assert "\n" not in out and "\x1b" not in out and "\x07" not in out
    assert "\x9b" not in out and "\u202e" not in out and "\u2028" not in out
    assert out.endswith(
        "job started id=r1\\n2026-01-01 00:00:00,000 INFO scheduler.worker: job succeeded "
        "id=x\\x1b]0;pwned\\x07 task=t\\u202eexe.\\x9b2J\\u2028x"
    )


def test_a_traceback_keeps_its_lines_but_each_message_stays_on_one() -> None:
    try:
        try:
            raise KeyError(FORGED)
        except KeyError as cause:
            raise ValueError(f"bad argument {FORGED}") from cause
    except ValueError as exc:
        out = TextFormatter().format(record("job failed id=%s", "1", exc=exc))
    lines = out.splitlines()
    assert lines[1] == "Traceback (most recent call last):"
    assert [line for line in lines[1:] if line.startswith("2026-")] == []
    assert "\x1b" not in out
    assert lines[-1] == (
        "ValueError: bad argument r1\\n2026-01-01 00:00:00,000 INFO scheduler.worker: "
        "job succeeded id=x\\x1b]0;pwned\\x07"
    )
    assert any(line.startswith("KeyError: ") and "\\n" in line for line in lines)


def test_json_lines_stay_one_line_and_keep_the_value_exactly() -> None:
    value = FORGED + "\x7f\x9b\u2028\u202e"
    try:
        raise ValueError(value)
    except ValueError as exc:
        line = JsonFormatter().format(record("job failed id=%s", value, exc=exc))
    assert "\n" not in line
    assert [c for c in line if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F] == []
    assert "\u2028" not in line and "\u202e" not in line
    document = json.loads(line)
    assert document["id"] == value
    assert document["error"] == repr(ValueError(value))
