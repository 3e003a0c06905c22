"""Reading the JSON documents kept in Redis: job payloads, dead records, runs, the lease.

Whoever can write to Redis can put any bytes there, so every reader parses through
``load``. It refuses, with a PayloadError saying why, a document that is over a size
limit, not UTF-8, not JSON, nested deeper than ``MAX_NESTING`` levels, or holding what
cannot be written back as JSON (NaN, Infinity, a number too large for a float, an
unpaired surrogate escape): a worker dead-letters such a payload and goes on, a reader
shows the record as unreadable. What ``load`` returns can always be encoded again.

Python's parser recurses once per level and raises RecursionError near the interpreter's
recursion limit; that is caught. Below it, the nesting is measured (a walk of the value)
only for a document with more opening brackets than ``MAX_NESTING``: a short payload pays
nothing for it, a longer one two ``str.count``.
See docs/workers.md (payload limits).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from .errors import PayloadError

MAX_NESTING = 100
RAW_KEPT = 16_000  # characters of an unreadable document kept for whoever looks at it
EARLIEST_SECONDS = -62_135_596_800  # 0001-01-01T00:00:00Z: the instants a datetime holds
LATEST_SECONDS = 253_402_300_799  # to 9999-12-31T23:59:59Z


def load(raw: bytes | str, max_bytes: int | None = None, what: str = "document") -> Any:
    """The JSON value of ``raw``; PayloadError("<what> is ...") if it cannot be read."""
    if max_bytes is not None and len(raw) > max_bytes:
        raise PayloadError(f"{what} is {len(raw):,} bytes, over the limit of {max_bytes:,}")
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise PayloadError(f"{what} is not UTF-8: {exc}") from None
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise PayloadError(f"{what} is nested deeper than {MAX_NESTING} levels") from None
    except ValueError as exc:
        raise PayloadError(f"{what} is not JSON: {exc}") from None
    check_nesting(text, value, what)
    if "\\" in text and "\\u" in text and not _encodable(value):  # a cheap test first
        raise PayloadError(f"{what} holds an unpaired surrogate escape (\\ud800-\\udfff)")
    return value


def load_object(raw: bytes | str, what: str = "record") -> dict[str, Any]:
    """A JSON object read from Redis; PayloadError if it cannot be read or is no object."""
    value = load(raw, what=what)
    if not isinstance(value, dict):
        raise PayloadError(f"{what} is not a JSON object")
    return value


def read_object(raw: bytes | str | None) -> dict[str, Any] | None:
    """A JSON object read from Redis; None if there is none, or it cannot be read."""
    if raw is None:
        return None
    try:
        return load_object(raw)
    except PayloadError:
        return None


def read_seconds(value: object) -> float | None:
    """An instant or a duration in seconds read from Redis (a number, or its text), if a
    float and a datetime can both hold it; else None."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if EARLIEST_SECONDS <= number <= LATEST_SECONDS else None  # not NaN either


def check_nesting(text: str, value: Any, what: str = "document") -> None:
    """PayloadError if ``value`` (whose JSON text is ``text``) nests deeper than allowed.

    Each level takes an opening and a closing bracket, so only a text longer than twice
    the limit, with more opening brackets than the limit, is walked."""
    if len(text) <= 2 * MAX_NESTING:
        return
    if text.count("[") + text.count("{") > MAX_NESTING and _nesting(value) > MAX_NESTING:
        raise PayloadError(f"{what} is nested deeper than {MAX_NESTING} levels")


def raw_text(raw: bytes | str) -> str:
    """The start of an unreadable document, as text (bad bytes replaced), to show it."""
    head = raw[:RAW_KEPT]
    return head.decode("utf-8", "replace") if isinstance(head, bytes) else head


def _nesting(value: Any) -> int:
    """How many arrays and objects nest in ``value`` at most (stops past the limit)."""
    deepest = 0
    stack = [(value, 1)]
    while stack and deepest <= MAX_NESTING:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children = list(item.values())
        elif isinstance(item, (list, tuple)):
            children = list(item)
        else:
            continue
        deepest = max(deepest, depth)
        stack += [(child, depth + 1) for child in children]
    return deepest


def _encodable(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text[:40]} is out of range")
    return number


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)
