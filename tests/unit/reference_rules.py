"""A brute-force reference for SPEC section 2, for the rule tests to compare against.

Slow and literal on purpose: it reads the zone's offsets from zoneinfo once, then applies
the SPEC's definitions to every candidate with plain arithmetic.

- A clock-reading cron rule (its hours cover all 24) is checked against the local reading
  of every real UTC minute of the window.
- A calendar rule (any other cron rule, every monthly rule) lists the local date-times
  that match its fields and maps each to an instant the RFC 5545 way: an ambiguous time at
  its first occurrence, a nonexistent one shifted forward by the length of the gap; the
  instants are then deduplicated and sorted.

Windows are half-open the way ``next_after`` is: fires strictly after ``start``, up to and
including ``end``.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from itertools import product
from zoneinfo import ZoneInfo

DAY = 86400
HOUR = 3600
EPOCH_DATE = date(1970, 1, 1)


# -- ISO strings <-> instants ------------------------------------------------------------


def instant(text: str) -> int:
    """Epoch seconds of an ISO 8601 string with an offset (``...Z`` or ``...+05:30``)."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r} has no offset")
    return int(parsed.timestamp())


def iso(moment: int, zone: ZoneInfo | timezone = timezone.utc) -> str:
    """``moment`` as ISO 8601 with the offset ``zone`` has then (the inverse of instant)."""
    return datetime.fromtimestamp(moment, zone).isoformat()


def isos(moments: Iterable[int], zone: ZoneInfo | timezone) -> list[str]:
    return [iso(m, zone) for m in moments]


def wall_seconds(local: datetime) -> int:
    """A naive local date-time as seconds, reading it as if it were UTC (the clock face)."""
    return int(local.replace(tzinfo=timezone.utc).timestamp())


# -- the zone's offsets --------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    at: int  # first instant with the new offset
    before: int  # UTC offset in seconds just before
    after: int  # UTC offset in seconds from `at` on


class Timeline:
    """The UTC offsets of ``zone`` over [lo, hi], read once from zoneinfo."""

    def __init__(self, zone: ZoneInfo, lo: int, hi: int) -> None:
        self.zone = zone
        self.lo = lo - 5 * DAY
        self.hi = hi + 5 * DAY
        self.first = self._zone_offset(self.lo)
        self.transitions = list(self._scan())

    def _zone_offset(self, moment: int) -> int:
        offset = datetime.fromtimestamp(moment, self.zone).utcoffset()
        assert offset is not None
        seconds = int(offset.total_seconds())
        assert seconds % 60 == 0, "the reference assumes whole-minute offsets"
        return seconds

    def _scan(self) -> Iterable[Transition]:
        moment, current = self.lo, self.first
        while moment < self.hi:
            step = min(HOUR, self.hi - moment)
            later = self._zone_offset(moment + step)
            if later != current:
                low, high = moment, moment + step  # offset(low) == current != offset(high)
                while high - low > 1:
                    mid = (low + high) // 2
                    if self._zone_offset(mid) == current:
                        low = mid
                    else:
                        high = mid
                yield Transition(high, current, later)
                current = later
            moment += step

    def offset(self, moment: int) -> int:
        assert self.lo <= moment <= self.hi, "instant outside the timeline"
        current = self.first
        for tr in self.transitions:
            if tr.at > moment:
                break
            current = tr.after
        return current

    def reading(self, moment: int) -> int:
        """The local clock face at ``moment``, as wall seconds."""
        return moment + self.offset(moment)

    def resolve(self, wall: int) -> int:
        """RFC 5545: the first instant whose reading is ``wall``; in a gap, shifted forward."""
        offsets = {self.first} | {tr.after for tr in self.transitions}
        readers = sorted(wall - off for off in offsets if self.reading(wall - off) == wall)
        if readers:
            return readers[0]  # ambiguous: the first occurrence
        for tr in self.transitions:
            if tr.at + tr.before <= wall < tr.at + tr.after:  # wall is in this gap
                shifted = wall + (tr.after - tr.before)
                moment = shifted - tr.after
                assert self.reading(moment) == shifted
                return moment
        raise AssertionError(f"wall time {wall} neither exists nor falls in a gap")


def local_date(moment: int, timeline: Timeline) -> date:
    return EPOCH_DATE + timedelta(days=timeline.reading(moment) // DAY)


def days_between(first: date, last: date) -> Iterable[date]:
    for n in range((last - first).days + 1):
        yield first + timedelta(days=n)


# -- cron fields -----------------------------------------------------------------------------

MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DOW_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]  # cron numbering: 0 = Sunday
MONTHS = {name: n for n, name in enumerate(MONTH_NAMES, start=1)}
WEEKDAYS = {name: n for n, name in enumerate(DOW_NAMES)}
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass(frozen=True)
class CronFields:
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    last_day: bool  # `L` in day-of-month
    months: frozenset[int]
    weekdays: frozenset[int]  # cron numbering, 0 = Sunday .. 6
    nth_weekdays: frozenset[tuple[int, int]]  # (weekday, n) from `x#n`
    days_restricted: bool  # day-of-month does not start with `*`
    weekdays_restricted: bool

    @property
    def reads_the_clock(self) -> bool:
        return self.hours == frozenset(range(24))

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        last = calendar.monthrange(day.year, day.month)[1]
        dom = day.day in self.days or (self.last_day and day.day == last)
        weekday = (day.weekday() + 1) % 7
        nth = (day.day - 1) // 7 + 1
        dow = weekday in self.weekdays or (weekday, nth) in self.nth_weekdays
        if self.days_restricted and self.weekdays_restricted:
            return dom or dow
        return dom and dow


def _number(token: str, lo: int, hi: int, names: dict[str, int] | None) -> int:
    if names and token.upper() in names:
        return names[token.upper()]
    if not token.isdigit() or not lo <= int(token) <= hi:
        raise ValueError(f"bad value {token!r}")
    return int(token)


def _element(text: str, lo: int, hi: int, names: dict[str, int] | None) -> set[int]:
    body, _, step_text = text.partition("/")
    step = int(step_text) if step_text else 1
    if step_text and (not step_text.isdigit() or step == 0):
        raise ValueError(f"bad step {text!r}")
    if body == "*":
        first, last = lo, hi
    elif "-" in body:
        a, b = body.split("-")
        first, last = _number(a, lo, hi, names), _number(b, lo, hi, names)
        if names is WEEKDAYS and 0 == last < first:
            last = 7  # a range ending on Sunday: SAT-SUN is 6-7
        if first > last:
            raise ValueError(f"reversed range {text!r}")
    elif step_text:
        raise ValueError(f"a step needs * or a range: {text!r}")
    else:
        first = last = _number(body, lo, hi, names)
    return set(range(first, last + 1, step))


def _field(text: str, lo: int, hi: int, names: dict[str, int] | None = None) -> frozenset[int]:
    values: set[int] = set()
    for element in text.split(","):
        values |= _element(element, lo, hi, names)
    return frozenset(values)


def _weekdays(text: str) -> tuple[frozenset[int], frozenset[tuple[int, int]]]:
    plain: list[str] = []
    nth: set[tuple[int, int]] = set()
    for element in text.split(","):
        if "#" in element:
            day, n = element.split("#")
            if not n.isdigit() or not 1 <= int(n) <= 5:
                raise ValueError(f"bad nth {element!r}")
            nth.add((_number(day, 0, 7, WEEKDAYS) % 7, int(n)))
        else:
            plain.append(element)
    days = _field(",".join(plain), 0, 7, WEEKDAYS) if plain else frozenset()
    return frozenset(d % 7 for d in days), frozenset(nth)


def parse_cron(expression: str) -> CronFields:
    """The reference reading of a cron expression (5 fields, or 6 with seconds first)."""
    text = MACROS.get(expression.strip().lower(), expression)
    fields = text.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise ValueError(f"{expression!r} has {len(fields)} fields")
    sec, minute, hour, dom, month, dow = fields
    weekdays, nth = _weekdays(dow)
    last_day = dom.upper() == "L"
    return CronFields(
        seconds=_field(sec, 0, 59),
        minutes=_field(minute, 0, 59),
        hours=_field(hour, 0, 23),
        days=frozenset() if last_day else _field(dom, 1, 31),
        last_day=last_day,
        months=_field(month, 1, 12, MONTHS),
        weekdays=weekdays,
        nth_weekdays=nth,
        days_restricted=not dom.startswith("*"),
        weekdays_restricted=not dow.startswith("*"),
    )


# -- fire lists ------------------------------------------------------------------------------


def cron_fires(expression: str, zone: ZoneInfo, start: int, end: int) -> list[int]:
    """Every fire of ``cron: expression`` in ``zone`` in (start, end], by brute force."""
    fields = parse_cron(expression)
    timeline = Timeline(zone, start, end)
    if fields.reads_the_clock:
        return _clock_fires(fields, timeline, start, end)
    first = local_date(start, timeline) - timedelta(days=2)
    last = local_date(end, timeline) + timedelta(days=2)
    walls = (
        wall_seconds(datetime(d.year, d.month, d.day, h, m, s))
        for d in days_between(first, last)
        if fields.matches_day(d)
        for h, m, s in product(fields.hours, fields.minutes, fields.seconds)
    )
    return _calendar_fires(walls, timeline, start, end)


def _clock_fires(fields: CronFields, timeline: Timeline, start: int, end: int) -> list[int]:
    """Every real instant whose local reading matches: scan each UTC minute."""
    fires: list[int] = []
    for minute in range(start - start % 60, end + 1, 60):
        wall = timeline.reading(minute)
        day = EPOCH_DATE + timedelta(days=wall // DAY)
        of_day = wall % DAY
        if (
            of_day // HOUR in fields.hours
            and of_day // 60 % 60 in fields.minutes
            and fields.matches_day(day)
        ):
            fires.extend(minute + s for s in sorted(fields.seconds) if start < minute + s <= end)
    return fires


def _calendar_fires(walls: Iterable[int], timeline: Timeline, start: int, end: int) -> list[int]:
    """Each local date-time once (RFC 5545 mapping), deduplicated, sorted, in the window."""
    moments = {timeline.resolve(w) for w in walls}
    return sorted(m for m in moments if start < m <= end)


def monthly_dates(
    year: int,
    month: int,
    days: Sequence[int],
    weekday: int | None,
    nth: int | None,
) -> set[date]:
    """The dates a monthly rule names in one month (weekday: 0 = Monday)."""
    last = calendar.monthrange(year, month)[1]
    found = set()
    for d in days:
        day = min(d, last) if d > 0 else max(last + d + 1, 1)
        found.add(date(year, month, day))
    if weekday is not None and nth is not None:
        month_days = (date(year, month, d) for d in range(1, last + 1))
        matching = [d for d in month_days if d.weekday() == weekday]
        if nth == -1:
            found.add(matching[-1])
        elif nth <= len(matching):
            found.add(matching[nth - 1])
    return found


def monthly_fires(
    zone: ZoneInfo,
    start: int,
    end: int,
    *,
    days: Sequence[int] = (),
    weekday: int | None = None,
    nth: int | None = None,
    at: Sequence[int] = (0,),
    months: Sequence[int] = tuple(range(1, 13)),
) -> list[int]:
    """Every fire of a monthly rule in (start, end], by brute force."""
    timeline = Timeline(zone, start, end)
    first = local_date(start, timeline) - timedelta(days=2)
    last = local_date(end, timeline) + timedelta(days=2)
    walls: list[int] = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        if month in months:
            for d in sorted(monthly_dates(year, month, days, weekday, nth)):
                if not first <= d <= last:
                    continue
                base = wall_seconds(datetime(d.year, d.month, d.day))
                walls.extend(base + seconds for seconds in at)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return _calendar_fires(walls, timeline, start, end)


def every_fires(period: int, start_at: int, start: int, end: int) -> list[int]:
    """``start_at + k * period`` for every integer k, in (start, end]."""
    k = (start - start_at) // period + 1
    fires = []
    while start_at + k * period <= end:
        fires.append(start_at + k * period)
        k += 1
    return fires


def transitions(zone: ZoneInfo, year: int) -> list[Transition]:
    """The real offset changes of ``zone`` during ``year`` (UTC)."""
    lo = instant(f"{year}-01-01T00:00:00Z")
    hi = instant(f"{year + 1}-01-01T00:00:00Z")
    return [t for t in Timeline(zone, lo, hi).transitions if lo <= t.at < hi]
