"""What an imported job becomes: an ``Entry`` (its settings, or why it stays a comment),
with the checks every converter shares (docs/migrating.md).

A rule is converted only when it means exactly the same fires here: a cron expression
in the syntax that cron libraries read alike, an interval of whole seconds. Anything else
becomes a commented entry saying why, never a rule that fires at other times.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import RuleError
from ..rules.cronexpr import CRON_DAY_NAMES, MACROS, MONTH_NAMES, CronFields, parse_cron
from ..rules.describe import duration_text
from ..rules.kinds import parse_duration
from ..schedule.fields import NAME, NAME_RULE


class Unmappable(Exception):
    """Raised when a setting of the source has no exact equivalent; the message says why."""


@dataclass
class Entry:
    """One job of the source: its name there, the settings it becomes here (in file
    order), notes shown above it, and ``skipped``, the reason it stays a comment."""

    source_name: str
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None

    def skip(self, reason: str) -> None:
        """Keep this entry as a comment, for ``reason`` (the first reason given wins)."""
        if self.skipped is None:
            self.skipped = reason


@dataclass
class Converted:
    """A whole converted schedule: header comments, the file's zone, and the entries."""

    header: list[str]
    entries: list[Entry]
    timezone: str | None = None
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)  # ``targets:``

    def __post_init__(self) -> None:
        if self.timezone in UTC_NAMES:
            self.timezone = None  # the default


UTC_NAMES = frozenset(["UTC", "Etc/UTC", "Etc/UCT", "UCT", "Universal", "Etc/Universal", "Zulu"])


# Items of the syntax the cron libraries of the sources and this one read alike: numbers,
# `*`, ranges and steps, and names in the month and weekday fields. `L`, `#`, `W`, `?`,
# `H` and the like differ.
_COMMON_ITEM = re.compile(r"(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?")
_NAME = re.compile(r"[A-Za-z]+")


def common_cron(expression: str, source: str) -> str:
    """``expression`` (five fields, or six with seconds first) if it uses only the syntax
    every cron library reads alike and parses here; Unmappable saying why otherwise."""
    fields = expression.split()
    if len(fields) == 1 and fields[0].lower() in MACROS:
        return fields[0].lower()
    for index, token in enumerate(fields):
        names = _NAMES.get(index - len(fields), ())
        for item in token.split(","):
            words = _NAME.findall(item)
            if not _COMMON_ITEM.fullmatch(item) or any(w.upper() not in names for w in words):
                raise Unmappable(
                    f"{source} cron {expression!r} uses {item!r}, which cron libraries read "
                    "differently: write the rule by hand (docs/schedule.md, cron)"
                )
    try:
        parse_cron(" ".join(fields))
    except RuleError as error:
        raise Unmappable(f"{source} cron {expression!r}: {error.message}") from None
    if _wraps_to_sunday(fields[-1]):
        raise Unmappable(
            f"{source} cron {expression!r}: a day-of-week range ending on Sunday is read "
            "differently by cron libraries: list the days (e.g. SAT,SUN)"
        )
    return " ".join(fields)


_NAMES = {-2: MONTH_NAMES, -1: CRON_DAY_NAMES}  # fields counted from the end


def _wraps_to_sunday(token: str) -> bool:
    for item in token.split(","):
        _, dash, high = item.partition("/")[0].partition("-")
        if dash and high.upper() in ("0", "7", "SUN"):
            return True
    return False


def cron_of_sets(
    minutes: Iterable[int], hours: Iterable[int], days: Iterable[int], months: Iterable[int]
) -> list[str]:
    """The first four cron fields matching exactly these values (``*`` when all)."""
    return [
        field_text(minutes, 0, 59),
        field_text(hours, 0, 23),
        field_text(days, 1, 31),
        field_text(months, 1, 12),
    ]


def field_text(values: Iterable[int], low: int, high: int) -> str:
    """``*`` for every value of low..high, else a list of values and ranges (``1-5,9``)."""
    ordered = sorted(set(values))
    if ordered == list(range(low, high + 1)):
        return "*"
    runs: list[list[int]] = []
    for value in ordered:
        if runs and value == runs[-1][-1] + 1:
            runs[-1].append(value)
        else:
            runs.append([value])
    return ",".join(",".join(map(str, r)) if len(r) < 3 else f"{r[0]}-{r[-1]}" for r in runs)


def cron_matches(
    parsed: CronFields, minutes: set[int], hours: set[int], days: set[int], months: set[int]
) -> bool:
    """Whether ``parsed`` fires on second 0 of exactly these minutes, hours, days of the
    month and months (its day of week unrestricted, no ``L`` or ``#``)."""
    return (
        parsed.seconds == (0,)
        and set(parsed.minutes) == minutes
        and set(parsed.hours) == hours
        and set(parsed.months) == months
        and not parsed.last_day
        and not parsed.nth_weekdays
        and set(parsed.days) == days
    )


def every_of(seconds: float, source: str) -> str:
    """``every:`` for an interval of ``seconds``; Unmappable unless whole and positive."""
    if not math.isfinite(seconds) or seconds <= 0 or seconds != int(seconds):
        raise Unmappable(
            f"{source} interval of {seconds!r} seconds: intervals here are whole seconds"
        )
    return duration_text(int(seconds))


def duration_of(value: Any, what: str) -> str:
    """A duration setting from seconds (a number) or text such as ``1h``; Unmappable
    unless it is a whole number of seconds here."""
    if isinstance(value, str):
        try:
            return duration_text(parse_duration(value.strip()))
        except RuleError as error:
            raise Unmappable(f"{what} {value!r}: {error.message}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Unmappable(f"{what} {value!r} is not a duration")
    return every_of(value, f"{what}: an")


def json_value(value: Any, what: str) -> Any:
    """``value`` as JSON (tuples become lists); Unmappable naming what JSON cannot carry."""
    if isinstance(value, str) and _SURROGATE.search(value):
        raise Unmappable(f"{what}: {value!r} holds a lone surrogate, which no file can carry")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Unmappable(f"{what}: {value!r} is not a finite number, which JSON cannot carry")
        return value
    if isinstance(value, (list, tuple)):
        return [json_value(item, what) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise Unmappable(f"{what}: keys must be text to travel as JSON, got {value!r}")
        return {json_value(key, what): json_value(item, what) for key, item in value.items()}
    raise Unmappable(
        f"{what}: {type(value).__name__} {value!r} is not a JSON value (arguments are stored "
        "as JSON here)"
    )


def queue_name(queue: Any, source: str) -> str:
    """``queue`` if it is a valid queue name here; Unmappable saying what is allowed."""
    text = str(queue)
    if not NAME.fullmatch(text):
        raise Unmappable(f"{source} queue {text!r} is not a queue name here: use {NAME_RULE}")
    return text


_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]+")


def job_names(names: Iterable[str]) -> dict[str, str]:
    """A valid, unique job name here for each source name, in order: kept when valid,
    otherwise its runs of other characters become ``-`` (and ``-2``... when taken)."""
    chosen: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = name if NAME.fullmatch(name) else _slug(name)
        candidate, number = base, 1
        while candidate in taken:
            number += 1
            suffix = f"-{number}"
            candidate = base[: 128 - len(suffix)] + suffix
        taken.add(candidate)
        chosen[name] = candidate
    return chosen


def _slug(name: str) -> str:
    text = _UNSAFE.sub("-", name).strip("-_.:")
    text = re.sub(r"^[^A-Za-z0-9]+", "", text)[:128].rstrip("-_.:")
    return text or "job"
