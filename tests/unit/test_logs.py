"""Log lines: the JSON form keeps each `key=value` as a field, and passwords never show."""

from __future__ import annotations

import json
import logging

from scheduler.logs import JsonFormatter, TextFormatter, scrub


def record(msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("scheduler.dispatcher", logging.INFO, "x.py", 1, msg, args, exc_info)


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
    assert document["logger"] == "scheduler.dispatcher"
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
