"""Rules: `every`, `cron` and `monthly`, each a pure "next fire strictly after an instant".

Instants are whole seconds since the Unix epoch (UTC). Rules read no clock and touch no
Redis; docs/schedule.md and docs/time.md are their contract.

Wall-clock rules (cron, monthly) work on *walls*: whole seconds since 1970-01-01 00:00 on
the local clock, so a wall and its instant differ by the UTC offset. A zone's offsets form
segments (``zones.Timeline``); inside one the mapping is a plain shift, and only at a
transition does the choice matter:

* clock-reading rules (cron whose hours cover all 24) fire at every instant whose local
  reading matches: both passes of a repeated hour, nothing in a skipped one;
* calendar rules (every other cron, every monthly) fire once per matching local date and
  time: an ambiguous wall at its first occurrence, a wall in a gap read with the offset
  before the gap, i.e. shifted forward by the gap's length (RFC 5545).
"""

from __future__ import annotations

import calendar
import difflib
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from ..errors import RuleError
from . import describe
from .cronexpr import MONTH_NAMES, CronFields, parse_cron
from .zones import Segment, timeline, year_start

WEEKDAY_NAMES = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
DAY = 86400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
LAST_INSTANT = year_start(9999)  # rules look for fires before this instant, not after
_HORIZON = 500 * 366 * DAY
_UNITS = {"w": 7 * DAY, "d": DAY, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(\d+)([wdhms])")
_TIME_OF_DAY = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")


def parse_duration(text: str | int) -> int:
    """Seconds in a duration: ``90s``, ``15m``, ``2h``, ``1d``, ``1w``, ``1h30m`` or an int.

    Raises RuleError for anything else, zero or negative.
    """
    if isinstance(text, bool) or not isinstance(text, (int, str)):
        raise RuleError(f"expected a duration like 15m, got {text!r}")
    seconds = text if isinstance(text, int) else _duration_seconds(text.strip())
    if seconds <= 0:
        raise RuleError(f"a duration must be more than zero, got {text}")
    return seconds


def _duration_seconds(text: str) -> int:
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    parts = _DURATION.findall(text)
    units = [unit for _, unit in parts]
    ordered = sorted(units, key="wdhms".index)
    if not parts or "".join(n + u for n, u in parts) != text or units != ordered:
        raise RuleError(
            f"'{text}' is not a duration (write e.g. 90s, 15m, 2h, 1d, 1w, 1h30m, or seconds)"
        )
    if len(set(units)) != len(units):
        raise RuleError(f"'{text}' names a unit twice")
    return sum(int(n) * _UNITS[u] for n, u in parts)


def parse_time_of_day(text: str) -> int:
    """Seconds since midnight of ``"HH:MM"`` or ``"HH:MM:SS"``; RuleError otherwise."""
    match = _TIME_OF_DAY.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise RuleError(f'expected a time of day like "09:30" or "09:30:15", got {text!r}')
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    if hours > 23 or minutes > 59 or seconds > 59:
        raise RuleError(f"'{text}' is not a time of day (00:00 .. 23:59:59)")
    return hours * 3600 + minutes * 60 + seconds


def parse_weekday(text: str | int) -> int:
    """0 (Monday) .. 6 (Sunday) from ``MON``..``SUN`` (any case); RuleError otherwise."""
    upper = text.upper()[:3] if isinstance(text, str) else ""
    if isinstance(text, str) and upper in WEEKDAY_NAMES and _is_day_name(text):
        return WEEKDAY_NAMES.index(upper)
    raise RuleError(f"expected a weekday MON, TUE, WED, THU, FRI, SAT or SUN, got {text!r}")


def _is_day_name(text: str) -> bool:
    full = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    return len(text) == 3 or text.lower() in full


def parse_month(text: str | int) -> int:
    """1..12 from a number or ``JAN``..``DEC`` (any case); RuleError otherwise."""
    if isinstance(text, int) and not isinstance(text, bool) and 1 <= text <= 12:
        return text
    if isinstance(text, str) and text.upper() in MONTH_NAMES:
        return MONTH_NAMES.index(text.upper()) + 1
    raise RuleError(f"expected a month 1..12 or JAN..DEC, got {text!r}")


def load_zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; RuleError with a suggestion if there is none."""
    if name.lower() not in ("localtime", "posixrules", "factory", ""):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    close = difflib.get_close_matches(name, sorted(available_timezones()), n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else " (an IANA name like Europe/Madrid)"
    raise RuleError(f"unknown time zone '{name}'{hint}")


def local_to_instant(local: datetime, zone: ZoneInfo) -> int:
    """The instant a naive local time names in ``zone``; RuleError if in a gap or overlap."""
    first = local.replace(tzinfo=zone, fold=0)
    second = local.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        back = first.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None)
        what = "happens twice" if back == local else "does not exist"
        raise RuleError(
            f"{local.isoformat()} {what} in {zone.key} (a daylight-saving change); "
            f"give an offset, e.g. {first.isoformat()}"
        )
    if local.microsecond:
        raise RuleError(f"{local.isoformat()} has a fraction of a second; fire times are whole")
    return int(first.timestamp())


class Rule(ABC):
    """A rule: which instants a job fires at."""

    kind: str
    text: str

    @abstractmethod
    def next_after(self, instant: int) -> int | None:
        """The first fire instant strictly after ``instant``, or None if there is none."""

    @abstractmethod
    def describe(self) -> str:
        """The rule in words, e.g. ``at 09:00 on Monday``."""

    def fires(self, after: int) -> Iterator[int]:
        """Fire instants strictly after ``after``, in order, for as long as there are any."""
        nxt = self.next_after(after)
        while nxt is not None:
            yield nxt
            nxt = self.next_after(nxt)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.text!r})"


class Every(Rule):
    """Fires at ``start + k * period`` for every integer k (epoch-anchored by default)."""

    kind = "every"

    def __init__(self, period: int, start: int = 0, text: str | None = None) -> None:
        if period <= 0:
            raise RuleError(f"a period must be more than zero, got {period}")
        self.period = period
        self.start = start
        self.text = text if text is not None else describe.duration_text(period)

    def next_after(self, instant: int) -> int | None:
        return self.start + ((instant - self.start) // self.period + 1) * self.period

    def describe(self) -> str:
        return describe.every(self.period, self.start)


class _WallRule(Rule):
    """A rule read on the wall clock of a zone (cron and monthly)."""

    clock_reading = False

    def __init__(self, zone: ZoneInfo, months: Iterable[int]) -> None:
        self.zone = zone
        self.months = frozenset(months)
        self._timeline = timeline(zone)
        self._month_days: dict[tuple[int, int], tuple[int, ...]] = {}
        self._ever: bool | None = None

    @abstractmethod
    def _days_of(self, year: int, month: int) -> tuple[int, ...]:
        """Matching days of a month (assumed in ``months``), ascending."""

    @abstractmethod
    def _next_time(self, second: int) -> int | None:
        """First matching second of a day at or after ``second``, or None."""

    def next_after(self, instant: int) -> int | None:
        if not self._ever_fires():
            return None
        at = instant + 1
        horizon = min(instant + _HORIZON, LAST_INSTANT)
        while at < horizon:
            segment = self._timeline.segment(at)
            found = self._fire_in(segment, at)
            if found is not None:
                return found
            at = segment.end
        return None

    def _fire_in(self, seg: Segment, at: int) -> int | None:
        """The first fire at or after ``at`` within ``seg``, or None."""
        offset, before = seg.offset, seg.before
        if self.clock_reading:
            wall = self._first_wall(at + offset, seg.end + offset)
            return None if wall is None else wall - offset
        # Walls below start + max(offsets) fired in the previous segment (first occurrence).
        wall = self._first_wall(max(at + offset, seg.start + max(offset, before)), seg.end + offset)
        best = None if wall is None else wall - offset
        if offset > before:
            gap_wall = self._first_wall(max(at, seg.start) + before, seg.start + offset)
            if gap_wall is not None and (best is None or gap_wall - before < best):
                best = gap_wall - before
        return best

    def _first_wall(self, low: int, limit: int) -> int | None:
        """The first matching wall ``w`` with ``low <= w < limit``, or None."""
        days, second = divmod(low, DAY)
        start = date.fromordinal(_EPOCH_ORDINAL + days)
        year, month, day = start.year, start.month, start.day
        while True:
            month_wall = (date(year, month, 1).toordinal() - _EPOCH_ORDINAL) * DAY
            if month_wall >= limit:
                return None
            if month in self.months:
                wall = self._first_in_month(year, month, day, second, month_wall)
                if wall is not None:
                    return wall if wall < limit else None
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            day, second = 1, 0

    def _first_in_month(
        self, year: int, month: int, day: int, second: int, month_wall: int
    ) -> int | None:
        for matching in self._days(year, month):
            if matching < day:
                continue
            time = self._next_time(second if matching == day else 0)
            if time is not None:
                return month_wall + (matching - 1) * DAY + time
        return None

    def _days(self, year: int, month: int) -> tuple[int, ...]:
        key = (year, month)
        days = self._month_days.get(key)
        if days is None:
            if len(self._month_days) > 48:
                self._month_days.clear()
            days = self._month_days[key] = self._days_of(year, month)
        return days

    def _ever_fires(self) -> bool:
        """Whether any month of a full 400-year Gregorian cycle has a matching day."""
        if self._ever is None:
            self._ever = any(
                self._days_of(year, month)
                for year in range(2000, 2400)
                for month in sorted(self.months)
            )
        return self._ever


class Cron(_WallRule):
    """A cron expression read on the wall clock of ``zone`` (5 fields, or 6 with seconds first)."""

    kind = "cron"

    def __init__(self, expression: str, zone: ZoneInfo) -> None:
        self.fields: CronFields = parse_cron(expression)
        super().__init__(zone, self.fields.months)
        self.text = " ".join(expression.split())
        self.clock_reading = len(self.fields.hours) == 24

    def _days_of(self, year: int, month: int) -> tuple[int, ...]:
        return self.fields.days_in(year, month)

    def _next_time(self, second: int) -> int | None:
        return self.fields.next_time(second)

    def describe(self) -> str:
        return describe.cron(self.fields)


class Monthly(_WallRule):
    """Days of the month (clamped, negative from the end) or the nth weekday, at times of day."""

    kind = "monthly"

    def __init__(
        self,
        zone: ZoneInfo,
        *,
        days: Sequence[int] = (),
        weekday: int | None = None,
        nth: int | None = None,
        at: Sequence[int] = (0,),
        months: Sequence[int] = tuple(range(1, 13)),
    ) -> None:
        _check_monthly(days, weekday, nth, at, months)
        super().__init__(zone, months)
        self.days = tuple(days)
        self.weekday = weekday
        self.nth = nth
        self.times = tuple(sorted(set(at)))
        self.text = describe.monthly_text(self.days, weekday, nth, self.times, self.months)

    def _days_of(self, year: int, month: int) -> tuple[int, ...]:
        first_weekday, length = calendar.monthrange(year, month)
        if self.weekday is not None and self.nth is not None:
            first = 1 + (self.weekday - first_weekday) % 7
            day = (
                first + 7 * (self.nth - 1) if self.nth > 0 else first + 7 * ((length - first) // 7)
            )
            return (day,) if day <= length else ()
        return tuple(sorted({_clamp(day, length) for day in self.days}))

    def _next_time(self, second: int) -> int | None:
        for time in self.times:
            if time >= second:
                return time
        return None

    def describe(self) -> str:
        return describe.monthly(self.days, self.weekday, self.nth, self.times, self.months)


def _clamp(day: int, length: int) -> int:
    return min(day, length) if day > 0 else max(length + 1 + day, 1)


def _check_monthly(
    days: Sequence[int],
    weekday: int | None,
    nth: int | None,
    at: Sequence[int],
    months: Sequence[int],
) -> None:
    if bool(days) == (weekday is not None or nth is not None):
        raise RuleError("a monthly rule takes either day or weekday with nth")
    if (weekday is None) != (nth is None):
        raise RuleError("weekday and nth go together")
    if any(not (1 <= abs(day) <= 31) for day in days):
        raise RuleError("day must be 1..31, or -1..-31 counted from the month's end")
    if nth is not None and nth not in (1, 2, 3, 4, 5, -1):
        raise RuleError(f"nth must be 1..5 or -1 (last), got {nth}")
    if weekday is not None and not 0 <= weekday <= 6:
        raise RuleError(f"weekday must be 0 (Monday) .. 6 (Sunday), got {weekday}")
    if not at or any(not 0 <= time < DAY for time in at):
        raise RuleError("at must be one or more times of day")
    if not months or any(not 1 <= month <= 12 for month in months):
        raise RuleError("months must be one or more of 1..12")
