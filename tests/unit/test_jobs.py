"""Payloads: build, encode, decode, validate; current_job() outside a job."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from scheduler.errors import PayloadError
from scheduler.jobs import (
    MAX_PAYLOAD_BYTES,
    PAYLOAD_VERSION,
    QueuedJob,
    build_payload,
    current_job,
    dead_record,
    decode,
    encode,
    peek,
    reset_current,
    retry_payload,
    set_current,
)

NOW = 1_700_000_000.0


def payload(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {"task": "app.jobs:run", "enqueued_at": NOW}
    fields.update(overrides)
    return build_payload(**fields)  # type: ignore[arg-type]


def test_a_new_payload_has_every_field_and_omits_unset_optional_ones() -> None:
    built = payload(args=(1, "x"), kwargs={"k": [1]}, queue="low", job_id="j1")
    assert built == {
        "v": PAYLOAD_VERSION,
        "id": "j1",
        "task": "app.jobs:run",
        "args": [1, "x"],
        "kwargs": {"k": [1]},
        "queue": "low",
        "attempt": 1,
        "retries": 3,
        "enqueued_at": NOW,
    }


def test_a_scheduled_payload_carries_its_job_fire_and_expiry() -> None:
    built = payload(schedule="nightly", scheduled_for=1_700_000_100, expires_at=NOW + 600)
    job = decode(encode(built))
    assert (job.schedule, job.scheduled_for, job.expires_at) == (
        "nightly",
        1_700_000_100,
        NOW + 600,
    )


def test_encode_then_decode_gives_the_same_job() -> None:
    built = payload(args=[1], kwargs={"é": "ü"}, timeout=2.5, retries=0)
    text = encode(built)
    assert " " not in text and "é" in text
    job = decode(text.encode())
    assert job.to_payload() == built
    assert isinstance(job, QueuedJob) and job.timeout == 2.5


def test_a_hard_timeout_travels_in_the_payload_and_a_bad_one_is_refused() -> None:
    built = payload(timeout=5, timeout_hard=30)
    assert built["timeout_hard"] == 30
    assert decode(encode(built)).timeout_hard == 30
    assert decode(encode(built)).to_payload() == built
    assert "timeout_hard" not in payload()
    with pytest.raises(PayloadError, match="timeout_hard must be a number of seconds > 0"):
        payload(timeout_hard=0)


def test_fresh_ids_are_random_hex() -> None:
    one, two = payload()["id"], payload()["id"]
    assert one != two
    assert isinstance(one, str) and len(one) == 32 and int(one, 16) >= 0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x00", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"id": "x"}', "unsupported payload version None"),
        (b'{"v": 99}', "unsupported payload version 99"),
        (b'{"v": 1, "id": "x"}', "no 'task' field"),
    ],
)
def test_decode_rejects_what_is_not_a_version_1_payload(raw: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        decode(raw)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("args", {}),
        ("kwargs", []),
        ("attempt", 0),
        ("attempt", True),
        ("retries", -1),
        ("timeout", 0),
        ("timeout_hard", -1),
        ("timeout_hard", "60"),
        ("scheduled_for", 1.5),
        ("id", ""),
        ("queue", 5),
    ],
)
def test_decode_rejects_fields_of_the_wrong_type(field: str, value: object) -> None:
    data = payload()
    data[field] = value
    with pytest.raises(PayloadError, match=f"invalid field.*{field}"):
        decode(json.dumps(data))


def nested(levels: int) -> list[object]:
    value: list[object] = []
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "payload is nested deeper than 100 levels"),
        (json.dumps(payload(args=nested(100))).encode(), "payload is nested deeper than 100"),
        (b" " * (MAX_PAYLOAD_BYTES + 1), "payload is 1,048,577 bytes, over the limit of 1,048,576"),
        (b'{"v": 1, "args": [NaN]}', "payload is not JSON: NaN is not a JSON number"),
        (b'{"v": 1, "enqueued_at": 1e999}', "payload is not JSON: number 1e999 is out of range"),
        (b'{"v": 1, "id": "\\ud800"}', "payload holds an unpaired surrogate"),
    ],
)
def test_decode_refuses_a_payload_too_deep_too_large_or_not_encodable(
    raw: bytes, message: str
) -> None:
    with pytest.raises(PayloadError, match=message):
        decode(raw)


@pytest.mark.parametrize("field", ["enqueued_at", "timeout", "expires_at", "scheduled_for"])
def test_decode_refuses_times_no_float_or_datetime_holds(field: str) -> None:
    data = payload()
    data[field] = 10**400
    with pytest.raises(PayloadError, match=f"invalid field.*{field}"):
        decode(json.dumps(data))


def test_decode_takes_the_size_limit_it_is_given() -> None:
    raw = encode(payload(args=["x" * 2000])).encode()
    assert decode(raw, max_bytes=len(raw)).args == ["x" * 2000]
    with pytest.raises(PayloadError, match=f"over the limit of {len(raw) - 1:,}"):
        decode(raw, max_bytes=len(raw) - 1)


def test_encode_with_a_limit_refuses_what_a_worker_would_not_read() -> None:
    big = payload(args=["é" * 600_000])
    with pytest.raises(PayloadError, match=r"1,200,\d+ bytes, over the limit of 1,048,576"):
        encode(big, MAX_PAYLOAD_BYTES)
    with pytest.raises(PayloadError, match="nested deeper than 100 levels"):
        encode(payload(args=nested(100)), MAX_PAYLOAD_BYTES)
    assert decode(encode(payload(args=nested(99)), MAX_PAYLOAD_BYTES)).args == nested(99)
    with pytest.raises(PayloadError, match="JSON-serialisable"):
        encode(payload(args=nested(100_000)))


def test_peek_reads_a_field_of_a_payload_that_does_not_decode_and_nothing_of_garbage() -> None:
    assert peek(b'{"id": "j", "v": 9}', "id") == "j"
    assert peek(b"[" * 100_000, "id") is None
    assert peek(b"\xff", "id") is None


def test_unknown_fields_of_the_same_version_are_kept() -> None:
    data = payload()
    data["trace"] = "abc"
    assert decode(json.dumps(data)).to_payload()["trace"] == "abc"


def test_a_retry_is_the_next_attempt_with_the_error() -> None:
    job = decode(encode(payload(job_id="j")))
    again = retry_payload(job, "ValueError: boom")
    assert (again["id"], again["attempt"], again["error"]) == ("j", 2, "ValueError: boom")


def test_a_dead_record_adds_the_error_and_time_of_death() -> None:
    record = dead_record({"id": "j"}, "boom", "Traceback...", NOW + 0.12345)
    assert record == {
        "id": "j",
        "error": "boom",
        "traceback": "Traceback...",
        "failed_at": NOW + 0.123,
    }


def test_current_job_is_none_outside_a_job_and_describes_the_job_inside() -> None:
    assert current_job() is None
    job = decode(encode(payload(job_id="j", schedule="nightly", scheduled_for=1_700_000_040)))
    token = set_current(job)
    try:
        info = current_job()
    finally:
        reset_current(token)
    assert info is not None
    assert (info.id, info.task, info.attempt, info.queue, info.schedule) == (
        "j",
        "app.jobs:run",
        1,
        "default",
        "nightly",
    )
    assert info.scheduled_for == datetime(2023, 11, 14, 22, 14, tzinfo=timezone.utc)
    assert info.enqueued_at == datetime.fromtimestamp(NOW, timezone.utc)
    assert current_job() is None
