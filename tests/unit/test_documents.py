"""Reading documents from Redis: hostile bytes are a PayloadError with the reason, never a
crash, and whatever reads can be written back."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.documents import MAX_NESTING, load, load_object, raw_text
from scheduler.errors import PayloadError

DEEP = b"[" * 100_000 + b"]" * 100_000


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (DEEP, "nested deeper than 100 levels"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested deeper than 100 levels"),
        (nested(MAX_NESTING + 1).encode(), "nested deeper than 100 levels"),
        (b"\xff\xfe not utf-8", "not UTF-8"),
        (b"\xed\xa0\x80", "not UTF-8"),  # a surrogate encoded as UTF-8
        (b"not json", "not JSON"),
        (b"", "not JSON"),
        (b"[NaN]", "NaN is not a JSON number"),
        (b"[-Infinity]", "-Infinity is not a JSON number"),
        (b"[1e999]", "number 1e999 is out of range"),
        (b"[" + b"9" * 5000 + b"]", "not JSON"),
        (b'["\\ud800"]', "unpaired surrogate"),
        (b'{"a":"x\\udfff"}', "unpaired surrogate"),
    ],
)
def test_what_cannot_be_read_is_a_payload_error_with_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        load(raw)


def test_nesting_up_to_the_limit_and_flat_brackets_are_read() -> None:
    assert load(nested(MAX_NESTING)) is not None
    wide = json.dumps([[i] for i in range(5000)] + ["[[[[{{{{"] * 50)
    assert len(load(wide)) == 5050
    assert load('["\\ud83d\\ude00", "\\u00e9"]') == ["\U0001f600", "é"]


def test_a_size_limit_is_checked_before_parsing() -> None:
    with pytest.raises(PayloadError, match="payload is 100,001 bytes, over the limit of 100,000"):
        load(DEEP[:100_001], max_bytes=100_000, what="payload")
    assert load(b"[1]", max_bytes=3) == [1]


def test_load_object_wants_an_object() -> None:
    assert load_object(b'{"a": 1}') == {"a": 1}
    with pytest.raises(PayloadError, match="record is not a JSON object"):
        load_object(b"[1]")


def test_raw_text_keeps_the_start_and_replaces_bad_bytes() -> None:
    assert raw_text(b"\xffabc") == "\ufffdabc"
    assert len(raw_text(DEEP)) == 16_000


JSONISH = st.text(alphabet='[]{}":,0123456789.eE+-\\untrufalsNIy ', max_size=300)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | JSONISH)
def test_any_bytes_either_read_as_json_that_encodes_again_or_are_refused(raw: bytes | str) -> None:
    try:
        value = load(raw)
    except PayloadError:
        return
    json.dumps(value, ensure_ascii=False, allow_nan=False).encode()
