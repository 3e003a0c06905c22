"""One setting of a schedule file, read from its YAML node.

Each reader takes the node and returns what the setting means, or raises ``Invalid``
saying what is wrong and what would be right; ``schedule`` turns those into problems with
their positions. Plain scalars arrive resolved by the YAML 1.2 core schema
(``yamlnodes``), so ``at: 10:30`` is text and ``day: 010`` is 10.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.parser import isoparse

from ..errors import RuleError
from ..rules import describe
from ..rules import kinds as rules
from ..rules.cronexpr import parse_cron, seconds_last_form
from .yamlnodes import Mapping, Node, Scalar, Sequence

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
NAME_RULE = "letters, digits and _ . : - (up to 128, first a letter or digit)"
ZERO = re.compile(r"(?:0+[smhdw]?)+")
YAML11_BOOLS = frozenset(["yes", "no", "on", "off", "y", "n"])
SYNONYMS = {
    **dict.fromkeys(["tz", "zone"], "timezone"),
    **dict.fromkeys(["interval", "period"], "every"),
    **dict.fromkeys(["crontab", "schedule"], "cron"),
    **dict.fromkeys(["func", "function", "callable"], "task"),
    **dict.fromkeys(["time", "times"], "at"),
    "grace": "misfire_grace",
}


class Invalid(Exception):
    """A value is wrong; the reader reports it at ``node`` (or at ``column`` on its line)."""

    def __init__(self, message: str, node: Node, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.node = node
        self.column = column


def clip(text: str) -> str:
    """At most 60 characters of ``text``."""
    return text if len(text) <= 60 else text[:57] + "..."


def shown(text: str) -> str:
    """``text`` quoted for a message, clipped."""
    return repr(clip(text))


def kind_of(node: Node) -> str:
    """What a node holds, in words: ``the number 32``, ``a list``."""
    if not isinstance(node, Scalar):
        return "a list" if isinstance(node, Sequence) else "a mapping"
    value = node.value
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{clip(node.text)} (a boolean)"
    if isinstance(value, (int, float)):
        return f"the number {clip(node.text)}"
    return f"the text {shown(value)}"


def text_of(node: Node, what: str) -> str:
    """The text of a scalar node; Invalid (expected ``what``) otherwise."""
    if isinstance(node, Scalar) and node.value is not None:
        return node.text
    raise Invalid(f"expected {what}, got {kind_of(node)}", node)


def int_of(node: Node) -> int | None:
    """The integer a scalar node holds, or None."""
    value = node.value if isinstance(node, Scalar) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def rule_error(error: RuleError, node: Node) -> Invalid:
    """A RuleError as Invalid, pointing at the offending character when known."""
    column = None
    if error.offset is not None and isinstance(node, Scalar):
        column = node.text_column(error.offset)
    return Invalid(error.message, node, column)


def suggest(key: str, options: tuple[str, ...]) -> str:
    """`` (did you mean 'x'?)`` for a misspelt or synonymous ``key``, else nothing."""
    best = SYNONYMS.get(key.lower())
    if best not in options:
        close = difflib.get_close_matches(key.lower(), options, n=1, cutoff=0.6)
        best = close[0] if close else None
    return f" (did you mean {best!r}?)" if best else ""


def read_queue(node: Node) -> str:
    """A queue name."""
    text = text_of(node, "a queue name")
    if not NAME.fullmatch(text):
        raise Invalid(f"{shown(text)} is not a valid queue name: use {NAME_RULE}", node)
    return text


def read_task(node: Node) -> str:
    """A task, ``package.module:callable``."""
    text = text_of(node, 'a task like "myapp.jobs:cleanup"')
    module, colon, attribute = text.partition(":")
    parts = [*module.split("."), *attribute.split(".")]
    if not colon or not all(part.isidentifier() for part in parts):
        raise Invalid(f'{shown(text)} is not a task; write "package.module:function"', node)
    return text


def read_enabled(node: Node) -> bool:
    """true or false (YAML 1.1's yes/no/on/off are refused with a hint)."""
    value = node.value if isinstance(node, Scalar) else None
    if isinstance(value, bool):
        return value
    got = kind_of(node)
    if isinstance(node, Scalar) and node.text.lower() in YAML11_BOOLS:
        got = f"{shown(node.text)}: write true or false"
    elif isinstance(node, Scalar) and node.text.lower() in ("true", "false"):
        got = f"the quoted text {shown(node.text)}: write it without quotes"
    raise Invalid(f"expected true or false, got {got}", node)


def choice(*options: str) -> Callable[[Node], str]:
    """A reader of one of ``options``."""

    def parse(node: Node) -> str:
        text = text_of(node, " or ".join(options))
        if text not in options:
            hint = suggest(text, options)
            raise Invalid(f"{shown(text)} is not one of {', '.join(options)}{hint}", node)
        return text

    return parse


def optional(parse: Callable[[Node], Any]) -> Callable[[Node], Any]:
    """``parse``, or None for a null value (to undo a default)."""
    return lambda node: None if isinstance(node, Scalar) and node.value is None else parse(node)


def read_duration(node: Node) -> int:
    """A duration in seconds, more than zero."""
    value = node.value if isinstance(node, Scalar) else None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise Invalid(f"expected a duration like 15m, got {kind_of(node)}", node)
    if isinstance(value, int) and value <= 0:
        raise Invalid(f"a duration must be more than zero, got {value}", node)
    try:
        return rules.parse_duration(value)
    except RuleError as error:
        raise rule_error(error, node) from None


def read_jitter(node: Node) -> int:
    """A duration in seconds, zero allowed (no jitter)."""
    return 0 if isinstance(node, Scalar) and ZERO.fullmatch(node.text) else read_duration(node)


def read_retries(node: Node) -> int:
    """A count of retries, zero or more."""
    value = int_of(node)
    if value is None or value < 0:
        raise Invalid(f"expected a whole number 0 or more, got {kind_of(node)}", node)
    return value


def read_json(node: Node) -> Any:
    """Any JSON value (no NaN or infinity; text keys)."""
    if isinstance(node, Sequence):
        return [read_json(item) for item in node.items]
    if isinstance(node, Mapping):
        return {json_key(key): read_json(value) for key, value in node.items.values()}
    value = node.value
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid(f"{clip(node.text)} is not a finite JSON number", node)
    return value


def json_key(node: Scalar) -> str:
    """A mapping key that JSON can carry: text."""
    if not isinstance(node.value, str):
        raise Invalid(f"keys must be text, got {kind_of(node)} (quote it)", node)
    return node.text


def read_args(node: Node) -> tuple[Any, ...]:
    """A task's positional arguments: a list of JSON values."""
    if not isinstance(node, Sequence):
        raise Invalid(f'expected a list like [1, "a"], got {kind_of(node)}', node)
    return tuple(map(read_json, node.items))


def read_kwargs(node: Node) -> dict[str, Any]:
    """A task's keyword arguments: a mapping of text keys to JSON values."""
    if not isinstance(node, Mapping):
        raise Invalid(f"expected a mapping like {{dry_run: true}}, got {kind_of(node)}", node)
    return {json_key(key): read_json(value) for key, value in node.items.values()}


SETTINGS: dict[str, Callable[[Node], Any]] = {
    "args": read_args,
    "kwargs": read_kwargs,
    "queue": read_queue,
    "enabled": read_enabled,
    "description": optional(lambda node: text_of(node, "a description")),
    "misfire": choice("once", "skip", "all"),
    "misfire_grace": read_duration,
    "overlap": choice("allow", "skip"),
    "jitter": read_jitter,
    "expires": optional(read_duration),
    "retries": read_retries,
    "timeout": optional(read_duration),
    "timeout_hard": optional(read_duration),
}


def int_in(allowed: range | tuple[int, ...], what: str) -> Callable[[Node], int]:
    """A reader of an integer among ``allowed``."""

    def parse(node: Node) -> int:
        value = int_of(node)
        if value is None or value not in allowed:
            raise Invalid(f"expected {what}, got {kind_of(node)}", node)
        return value

    return parse


def ruled(parse: Callable[[Any], int], what: str, kinds: tuple[type, ...]) -> Any:
    """A reader that hands a scalar of ``kinds`` to a rules parser."""

    def check(node: Node) -> int:
        value = node.value if isinstance(node, Scalar) else None
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise Invalid(f"expected {what}, got {kind_of(node)}", node)
        try:
            return parse(value)
        except RuleError as error:
            raise rule_error(error, node) from None

    return check


def list_of(one: Callable[[Node], int]) -> Callable[[Node], tuple[int, ...]]:
    """A reader of one value or a non-empty list of them."""

    def parse(node: Node) -> tuple[int, ...]:
        items = node.items if isinstance(node, Sequence) else [node]
        if not items:
            raise Invalid("expected at least one value, got an empty list", node)
        return tuple(one(item) for item in items)

    return parse


DAYS = (*range(-31, 0), *range(1, 32))
MONTHLY: dict[str, Callable[[Node], Any]] = {
    "day": list_of(int_in(DAYS, "a day 1..31, or -1..-31 from the end")),
    "weekday": ruled(rules.parse_weekday, "a weekday name MON..SUN", (str,)),
    "nth": int_in((1, 2, 3, 4, 5, -1), "1..5, or -1 for the last"),
    "at": list_of(ruled(rules.parse_time_of_day, 'a time like "09:30"', (str,))),
    "months": list_of(ruled(rules.parse_month, "a month 1..12 or JAN..DEC", (int, str))),
}


def read_start(node: Node, zone: ZoneInfo) -> int:
    """An ``every`` rule's start: an ISO 8601 instant; a naive one is read in ``zone``."""
    text = text_of(node, "an ISO 8601 instant like 2024-01-01T09:00:00Z")
    try:
        moment = isoparse(text)
        if moment.tzinfo is None:
            instant = rules.local_to_instant(moment, zone)
        else:
            instant = int(moment.timestamp())
    except RuleError as error:
        raise Invalid(f"{shown(text)}: {error.message}", node) from None
    except (ValueError, OverflowError):
        example = "2024-01-01T09:00:00+01:00"
        raise Invalid(f"{shown(text)} is not an ISO 8601 instant like {example}", node) from None
    if moment.microsecond:
        raise Invalid(f"{shown(text)} is not a whole second", node)
    return instant


def read_every(node: Node, start: int) -> tuple[rules.Rule, Any]:
    """An ``every`` rule and its normal form (for the digest)."""
    period = read_duration(node)
    text = node.text if isinstance(node, Scalar) else None
    return rules.Every(period, start, text=text), {"every": period, "start": start}


def read_cron(node: Node, zone: ZoneInfo) -> tuple[rules.Rule, Any]:
    """A ``cron`` rule and its normal form (for the digest)."""
    expression = text_of(node, 'a cron expression like "0 9 * * MON"')
    return rules.Cron(expression, zone), {"cron": " ".join(expression.split())}


def cron_warning(node: Node) -> Invalid | None:
    """What looks wrong in a valid cron rule, at its column, or None: a six-field rule that
    seems written with seconds last, as croniter reads six fields (docs/schedule.md)."""
    if not isinstance(node, Scalar):
        return None
    text = node.text
    found = seconds_last_form(text)
    if found is None:
        return None
    moved, offset = found
    read, meant = describe.cron(parse_cron(text)), describe.cron(parse_cron(moved))
    message = (
        f"cron {shown(text)} has six fields, so seconds come first: {read}. If seconds "
        f"come last as in croniter ({meant}), write {shown(moved)}; to keep this reading "
        "and silence the warning, name the weekdays (SUN..SAT)"
    )
    return Invalid(message, node, node.text_column(offset))
