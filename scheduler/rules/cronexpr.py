"""Parsing cron expressions into sets of allowed values (docs/schedule.md, `cron`).

Five fields (minute hour day-of-month month day-of-week) or six with seconds first. Each
field is a comma list of ``*``, ``N``, ``A-B``, any of those with ``/STEP``, names (JAN,
MON), ``L`` in day-of-month and ``DOW#N`` in day-of-week. ``?`` is read as ``*`` in the
two day fields, as Quartz users write it. Sunday is 0 or 7, so a day-of-week range that
ends on Sunday (``SAT-SUN``, ``MON-SUN``, ``5-0``) runs to 7.

Forms of other cron libraries that would be misread are caught here: robfig/cron's
``TZ=``/``CRON_TZ=`` prefix and ``@every`` are refused saying what to write, and
``seconds_last_form`` spots croniter's six-field form with seconds last, for the loader
to warn about (docs/schedule.md).
"""

from __future__ import annotations

import bisect
import calendar
import functools
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from ..errors import RuleError

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
CRON_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")

_ZONE_PREFIX = re.compile(r"(CRON_TZ|TZ)=(\S*)\s*")
_DIGITS_ONLY = re.compile(r"[0-9*/,-]*[0-9][0-9*/,-]*")
_ITEM = re.compile(r"^(?:(\*|\?)|([A-Za-z0-9]+)(?:-([A-Za-z0-9]+))?)(?:/(\d+))?$")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0


_FIELDS = {
    "second": _Field("second", 0, 59),
    "minute": _Field("minute", 0, 59),
    "hour": _Field("hour", 0, 23),
    "day-of-month": _Field("day-of-month", 1, 31),
    "month": _Field("month", 1, 12, MONTH_NAMES, 1),
    "day-of-week": _Field("day-of-week", 0, 7, CRON_DAY_NAMES, 0),
}


@dataclass(frozen=True)
class CronFields:
    """A parsed cron expression. Weekdays are Python's: 0 = Monday .. 6 = Sunday."""

    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    last_day: bool
    months: frozenset[int]
    weekdays: frozenset[int]
    nth_weekdays: frozenset[tuple[int, int]]
    days_restricted: bool
    weekdays_restricted: bool

    def days_in(self, year: int, month: int) -> tuple[int, ...]:
        """The matching days of a month, ascending (the day-of-month / day-of-week rule)."""
        either = self.days_restricted and self.weekdays_restricted
        key = (self.days, self.last_day, self.weekdays, self.nth_weekdays, either)
        return _month_days(key, year, month)

    def next_time(self, second: int) -> int | None:
        """First matching second of a day at or after ``second`` (0..86399), or None."""
        hour, rest = divmod(second, 3600)
        minute, sec = divmod(rest, 60)
        i = bisect.bisect_left(self.hours, hour)
        if i < len(self.hours) and self.hours[i] == hour:
            found = self._in_hour(hour, minute, sec)
            if found is not None:
                return found
            i += 1
        if i == len(self.hours):
            return None
        return self.hours[i] * 3600 + self.minutes[0] * 60 + self.seconds[0]

    def _in_hour(self, hour: int, minute: int, second: int) -> int | None:
        j = bisect.bisect_left(self.minutes, minute)
        if j < len(self.minutes) and self.minutes[j] == minute:
            k = bisect.bisect_left(self.seconds, second)
            if k < len(self.seconds):
                return hour * 3600 + minute * 60 + self.seconds[k]
            j += 1
        if j == len(self.minutes):
            return None
        return hour * 3600 + self.minutes[j] * 60 + self.seconds[0]


_DayRule = tuple[frozenset[int], bool, frozenset[int], frozenset[tuple[int, int]], bool]


@functools.lru_cache(maxsize=8192)
def _month_days(rule: _DayRule, year: int, month: int) -> tuple[int, ...]:
    """Days of a month matching a day rule; remembered, as many rules share a day rule."""
    days, last_day, weekdays, nth_weekdays, either = rule
    first_weekday, length = calendar.monthrange(year, month)
    by_day = {day for day in days if day <= length}
    if last_day:
        by_day.add(length)
    if len(weekdays) == 7:
        by_weekday = set(range(1, length + 1))
    else:
        by_weekday = set()
        for weekday in weekdays:
            by_weekday.update(range(1 + (weekday - first_weekday) % 7, length + 1, 7))
    for weekday, nth in nth_weekdays:
        day = 1 + (weekday - first_weekday) % 7 + 7 * (nth - 1)
        if day <= length:
            by_weekday.add(day)
    return tuple(sorted(by_day | by_weekday if either else by_day & by_weekday))


def expand_macro(expression: str) -> str:
    """The five-field form of ``@daily`` and friends; other text unchanged."""
    text = expression.strip()
    if text.startswith("@"):
        macro = MACROS.get(text.lower())
        if text.lower().startswith("@every"):
            period = text[len("@every") :].strip() or "5m"
            raise RuleError(f"'{text}' is robfig/cron's; write every: {period} instead of cron", 0)
        if macro is None:
            known = " ".join(m for m in MACROS if m not in ("@annually", "@midnight"))
            raise RuleError(f"unknown cron macro '{text}' (known: {known})", 0)
        return macro
    return text


@functools.lru_cache(maxsize=4096)
def parse_cron(expression: str) -> CronFields:
    """Parse ``expression``; RuleError (with the offset of the bad field) if it is invalid.

    Pure, and schedules repeat expressions, so results are remembered.
    """
    text = expand_macro(expression)
    lead = len(expression) - len(expression.lstrip())
    _refuse_zone_prefix(text, lead)
    spans = [(m.group(), m.start()) for m in re.finditer(r"\S+", text)]
    if len(spans) not in (5, 6):
        raise RuleError(
            f"a cron rule has 5 fields (minute hour day-of-month month day-of-week) or 6 "
            f"with seconds first, got {len(spans)}",
            0,
        )
    if len(spans) == 5:
        spans.insert(0, ("0", 0))
    parsed = {}
    for (token, offset), name in zip(spans, _FIELDS, strict=True):
        try:
            parsed[name] = _parse_field(token, _FIELDS[name], offset + lead)
        except RuleError as error:
            raise _seconds_last_hint(error, expression, name) from None
    return _assemble(parsed, [token for token, _ in spans])


def _refuse_zone_prefix(text: str, lead: int) -> None:
    """robfig/cron's ``TZ=Zone 0 9 * * *``: the zone belongs in the job's ``timezone:``."""
    match = _ZONE_PREFIX.match(text)
    if match is not None:
        prefix, zone = match.group(1), match.group(2)
        rest = text[match.end() :]
        raise RuleError(
            f"'{prefix}={zone}' sets a time zone inside the expression (robfig/cron's form); "
            f"use timezone: {zone or 'ZONE'} in the job and cron: '{rest}'",
            lead,
        )


def _seconds_last_hint(error: RuleError, expression: str, field: str) -> RuleError:
    """``error``, saying how to write croniter's seconds-last form if that is what it is."""
    found = seconds_last_form(expression) if field == "day-of-week" else None
    if found is None:
        return error
    return RuleError(
        f"{error.message} (six fields put seconds first; for seconds last as in croniter, "
        f"write '{found[0]}')",
        error.offset,
    )


def seconds_last_form(expression: str) -> tuple[str, int] | None:
    """The expression with its last field moved to the front, if it looks like croniter's
    six fields with seconds *last*; and the offset of that last field. Else None.

    It looks so when it has six fields, its last field (day of week when read seconds
    first) is written with digits only (``0``, ``30``, ``1-5``, ``*/10``: no weekday name,
    no ``*``, ``?`` or ``#``), and the moved expression is valid too.
    """
    spans = [(m.group(), m.start()) for m in re.finditer(r"\S+", expression)]
    if len(spans) != 6 or not _DIGITS_ONLY.fullmatch(spans[5][0]):
        return None
    moved = " ".join([spans[5][0], *(token for token, _ in spans[:5])])
    try:
        parse_cron(moved)
    except RuleError:
        return None
    return moved, spans[5][1]


def _assemble(parsed: dict[str, _Values], tokens: list[str]) -> CronFields:
    dow = parsed["day-of-week"]
    return CronFields(
        seconds=tuple(sorted(parsed["second"].values)),
        minutes=tuple(sorted(parsed["minute"].values)),
        hours=tuple(sorted(parsed["hour"].values)),
        days=frozenset(parsed["day-of-month"].values),
        last_day=parsed["day-of-month"].last,
        months=frozenset(parsed["month"].values),
        weekdays=frozenset((v + 6) % 7 for v in dow.values),
        nth_weekdays=frozenset(((v + 6) % 7, n) for v, n in dow.nth),
        days_restricted=not tokens[3].startswith(("*", "?")),
        weekdays_restricted=not tokens[5].startswith(("*", "?")),
    )


@dataclass
class _Parsed:
    values: set[int] = field(default_factory=set)
    last: bool = False
    nth: set[tuple[int, int]] = field(default_factory=set)


class _Values(NamedTuple):
    values: frozenset[int]
    last: bool
    nth: frozenset[tuple[int, int]]


def _parse_field(token: str, spec: _Field, offset: int) -> _Values:
    """A field's values; RuleError at the offset in the expression where it goes wrong."""
    try:
        return _parse_token(token, spec)
    except RuleError as error:
        raise RuleError(error.message, offset + (error.offset or 0)) from None


@functools.lru_cache(maxsize=1024)
def _parse_token(token: str, spec: _Field) -> _Values:
    """A field's values, errors at offsets in ``token``. Expressions share most of their
    fields (``*``, ``0``, ``MON-FRI``), so results are remembered."""
    parsed = _Parsed()
    position = 0
    for item in token.split(","):
        _parse_item(item, spec, position, parsed)
        position += len(item) + 1
    return _Values(frozenset(parsed.values), parsed.last, frozenset(parsed.nth))


def _parse_item(item: str, spec: _Field, offset: int, into: _Parsed) -> None:
    if spec.name == "day-of-month" and item.upper() == "L":
        into.last = True
        return
    if spec.name == "day-of-week" and "#" in item:
        into.nth.add(_parse_nth(item, spec, offset))
        return
    match = _ITEM.match(item)
    if match is None:
        raise RuleError(f"cannot read {spec.name} field '{item}'", offset)
    star, first, last, step = match.groups()
    if star == "?" and spec.name not in ("day-of-month", "day-of-week"):
        raise RuleError(f"'?' is only allowed in the day fields, not in {spec.name}", offset)
    if star:
        low, high = spec.low, spec.high
    else:
        low = _value(first, spec, offset)
        high = _value(last, spec, offset) if last else (spec.high if step else low)
        if spec.name == "day-of-week" and last and high == 0 < low:
            high = 7  # Sunday is 7 too, so a range may end on it: SAT-SUN
    if low > high:
        raise RuleError(
            f"{spec.name} range {item} runs backwards (write {low}-{spec.high},"
            f"{spec.low}-{high} instead)",
            offset,
        )
    stride = _step(step, spec, offset)
    into.values.update(_normalise(spec, v) for v in range(low, high + 1, stride))


def _step(step: str | None, spec: _Field, offset: int) -> int:
    if step is None:
        return 1
    stride = int(step)
    if stride == 0:
        raise RuleError(f"{spec.name} step must be 1 or more, got /0", offset)
    return stride


def _normalise(spec: _Field, value: int) -> int:
    return 0 if spec.name == "day-of-week" and value == 7 else value


def _parse_nth(item: str, spec: _Field, offset: int) -> tuple[int, int]:
    day, _, nth = item.partition("#")
    weekday = _normalise(spec, _value(day, spec, offset))
    if not nth.isdigit() or not 1 <= int(nth) <= 5:
        raise RuleError(f"'{item}': the number after # must be 1..5", offset)
    return weekday, int(nth)


def _value(text: str, spec: _Field, offset: int) -> int:
    upper = text.upper()
    if upper in spec.names:
        return spec.names.index(upper) + spec.name_base
    if not text.isdigit():
        hint = f" (names: {', '.join(spec.names)})" if spec.names else ""
        raise RuleError(f"'{text}' is not a valid {spec.name}{hint}", offset)
    value = int(text)
    if not spec.low <= value <= spec.high:
        raise RuleError(f"{spec.name} {value} is out of range {spec.low}-{spec.high}", offset)
    return value
