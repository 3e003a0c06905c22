"""Random rules against the brute-force reference (reference_rules.py), around real DST changes.

Each example picks a zone, one of its real offset changes, and a window of a few days that
contains it, then checks that the rule's fires in the window are exactly the reference's.
Derandomized and without an example database, so a run is the same on every machine.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.rules.kinds import Cron, Every, Monthly
from tests.examples import examples
from tests.unit.reference_rules import (
    DAY,
    DOW_NAMES,
    MONTH_NAMES,
    Timeline,
    Transition,
    cron_fires,
    every_fires,
    instant,
    isos,
    local_date,
    monthly_fires,
    transitions,
)

ZONE_NAMES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Europe/Dublin",  # negative DST in tzdata: winter is the "summer" time
    "Australia/Sydney",  # southern hemisphere
    "America/Santiago",  # southern, and the clock changes at midnight
    "America/Havana",  # the clock changes at midnight
    "Asia/Beirut",  # midnight, back to 23:00 of the day before
    "Australia/Lord_Howe",  # 30-minute shifts
    "Antarctica/Troll",  # 2-hour shifts
    "Pacific/Chatham",  # +12:45 / +13:45, changes at 02:45 and 03:45
    "America/St_Johns",  # -03:30 / -02:30
    "Asia/Kathmandu",  # +05:45, no DST
    "Pacific/Apia",  # 2011: all of 30 December skipped
]

SETTINGS = settings(
    max_examples=examples(200),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

pytestmark = pytest.mark.slow  # property tests against the reference: seconds each


class HasNextAfter(Protocol):
    def next_after(self, instant: int) -> int | None: ...


def fires_until(rule: HasNextAfter, start: int, end: int, limit: int) -> list[int]:
    """The rule's fires in (start, end], chained through next_after, at most ``limit``."""
    fires: list[int] = []
    previous = start
    while len(fires) < limit:
        nxt = rule.next_after(previous)
        if nxt is None or nxt > end:
            break
        assert nxt > previous, f"next_after({previous}) returned {nxt}, not after it"
        fires.append(nxt)
        previous = nxt
    return fires


@functools.cache
def anchors(name: str) -> list[int]:
    """Real offset changes of the zone (2024-2025, or 2011 for Apia), or two plain days."""
    zone = ZoneInfo(name)
    years = [2011] if name == "Pacific/Apia" else [2024, 2025]
    found = [t.at for year in years for t in transitions(zone, year)]
    return found or [instant("2024-06-15T00:00:00Z"), instant("2024-12-31T12:00:00Z")]


@st.composite
def windows(
    draw: st.DrawFn, before: int, length: int, anywhere: bool = False
) -> tuple[ZoneInfo, int, int]:
    """A zone and a window (start, start + length] that contains one of its offset changes,
    or (``anywhere``) that starts at any instant from 1971 to 2099."""
    name = draw(st.sampled_from(ZONE_NAMES))
    if anywhere:
        anchor = draw(st.integers(instant("1971-01-01T00:00:00Z"), instant("2099-12-01T00:00:00Z")))
    else:
        anchor = draw(st.sampled_from(anchors(name)))
    start = anchor - draw(st.integers(1, before))
    return ZoneInfo(name), start, start + length


def local_dates(zone: ZoneInfo, start: int, end: int) -> list[date]:
    timeline = Timeline(zone, start, end)
    first, last = local_date(start, timeline), local_date(end, timeline)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


# -- cron expressions -------------------------------------------------------------------------


def cased(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name.upper(), name.lower(), name.title()])


def numbers(lo: int, hi: int, favourites: list[int]) -> st.SearchStrategy[int]:
    """Mostly the favourites (times and dates near the offset change), sometimes any."""
    favourite = st.sampled_from(favourites)
    return st.one_of(favourite, favourite, st.integers(lo, hi))


def field(
    lo: int,
    hi: int,
    favourites: list[int],
    *,
    show: Callable[[int], st.SearchStrategy[str]] = lambda n: st.just(str(n)),
    extras: tuple[st.SearchStrategy[str], ...] = (),
    stars: int = 1,
) -> st.SearchStrategy[str]:
    """`*` or `*/s` (``stars`` weighs them), or a list of numbers, ranges, stepped ranges."""
    value = numbers(lo, hi, favourites)
    pair = st.tuples(value, value).map(sorted)
    single = value.flatmap(show)
    span = pair.flatmap(lambda ab: st.tuples(show(ab[0]), show(ab[1]))).map("-".join)
    step = st.one_of(st.sampled_from([1, 2, 3, 5, 15]), st.integers(1, hi - lo + 1))
    stepped = st.tuples(pair, step).map(lambda x: f"{x[0][0]}-{x[0][1]}/{x[1]}")
    element = st.one_of(single, single, single, span, stepped, *extras)
    listed = st.lists(element, min_size=1, max_size=3).map(",".join)
    star = st.one_of(st.just("*"), step.map(lambda n: f"*/{n}"))
    return st.one_of(*[star] * stars, listed, listed, listed)


def month_text(n: int) -> st.SearchStrategy[str]:
    return st.one_of(st.just(str(n)), cased(MONTH_NAMES[n - 1]))


def weekday_text(n: int) -> st.SearchStrategy[str]:  # cron numbering, 7 is Sunday too
    return st.one_of(st.just(str(n)), cased(DOW_NAMES[n % 7]))  # 7 as SUN ends SAT-SUN


def clock_favourites(zone: ZoneInfo, start: int, end: int) -> tuple[list[int], list[int]]:
    """Hours and minutes the local clock shows around the window's offset changes."""
    timeline = Timeline(zone, start, end)
    walls = [t.at + off for t in timeline.transitions for off in (t.before, t.after)]
    hours = sorted({(w // 3600 + d) % 24 for w in walls for d in (-1, 0, 1)} | {0, 2, 23})
    minutes = sorted({w // 60 % 60 for w in walls} | {0, 15, 30, 45, 59})
    return hours, minutes


@st.composite
def cron_cases(
    draw: st.DrawFn,
    *,
    seconds: bool = False,
    calendar: bool = False,
    anywhere: bool = False,
    before: int = 2 * DAY,
    length: int = 3 * DAY,
) -> tuple[str, ZoneInfo, int, int]:
    """A random cron expression (calendar: hours never written `*`), a zone and a window."""
    zone, start, end = draw(windows(before, length, anywhere))
    dates = local_dates(zone, start, end)
    hours, minutes = clock_favourites(zone, start, end)
    days = [d.day for d in dates]
    weekdays = [(d.weekday() + 1) % 7 for d in dates]
    nths = [(d.day - 1) // 7 + 1 for d in dates]
    nth = st.tuples(
        numbers(0, 7, weekdays).flatmap(weekday_text), numbers(1, 5, nths).map(str)
    ).map("#".join)
    fields = [
        field(0, 59, minutes, stars=0 if calendar else 1),
        field(0, 23, hours, stars=0 if calendar else 2),
        st.one_of(st.just("*"), st.just("L"), *[field(1, 31, [*days, 1, 29, 31])] * 2),
        st.one_of(st.just("*"), field(1, 12, [d.month for d in dates], show=month_text)),
        st.one_of(st.just("*"), field(0, 7, weekdays, show=weekday_text, extras=(nth,))),
    ]
    if seconds:
        fields.insert(0, field(0, 59, [0, 30, 59]).filter(lambda f: f != "*"))
    expression = " ".join(draw(f) for f in fields)
    return expression, zone, start, end


def check_cron(case: tuple[str, ZoneInfo, int, int]) -> None:
    expression, zone, start, end = case
    rule = Cron(expression, zone)
    expected = cron_fires(expression, zone, start, end)
    actual = fires_until(rule, start, end, len(expected) + 1)
    assert isos(actual, zone) == isos(expected, zone)
    assert rule.describe().strip()


@SETTINGS
@given(cron_cases())
def test_cron_rule_agrees_with_the_reference(case: tuple[str, ZoneInfo, int, int]) -> None:
    check_cron(case)


@SETTINGS
@given(cron_cases(calendar=True))
def test_calendar_cron_rule_agrees_with_the_reference(
    case: tuple[str, ZoneInfo, int, int],
) -> None:
    check_cron(case)


@settings(SETTINGS, max_examples=examples(100))
@given(cron_cases(seconds=True, before=3 * 3600, length=6 * 3600))
def test_six_field_cron_rule_agrees_with_the_reference(
    case: tuple[str, ZoneInfo, int, int],
) -> None:
    check_cron(case)


@settings(SETTINGS, max_examples=examples(100))
@given(cron_cases(calendar=True, anywhere=True))
def test_cron_rule_agrees_with_the_reference_in_any_year(
    case: tuple[str, ZoneInfo, int, int],
) -> None:
    check_cron(case)


# -- monthly ----------------------------------------------------------------------------------


@st.composite
def monthly_cases(draw: st.DrawFn) -> tuple[ZoneInfo, int, int, dict[str, object]]:
    zone, start, end = draw(windows(before=40 * DAY, length=80 * DAY))
    timeline = Timeline(zone, start, end)
    changes: list[Transition | None] = [t for t in timeline.transitions if start < t.at <= end]
    change = draw(st.sampled_from(changes or [None]))
    day = local_date(change.at if change else start + DAY, timeline)
    last = (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    fields: dict[str, object] = {}
    if draw(st.booleans()):
        favourite_days = [day.day, day.day - last.day - 1, 28, 29, 30, 31, -1, -2, -30, -31]
        exact = st.sampled_from([day.day, day.day - last.day - 1])
        one_day = st.one_of(exact, exact, st.sampled_from(favourite_days), st.integers(1, 31))
        fields["days"] = tuple(
            draw(st.lists(one_day | st.integers(-31, -1), min_size=1, max_size=3))
        )
    else:
        fields["weekday"] = draw(st.one_of(st.just(day.weekday()), st.integers(0, 6)))
        nth = -1 if day + timedelta(days=7) > last else (day.day - 1) // 7 + 1
        fields["nth"] = draw(st.sampled_from([nth, 1, 2, 3, 4, 5, -1]))
    walls = [(change.at + off) % DAY for off in (change.before, change.after)] if change else []
    near = [max(0, min(DAY - 1, w + d)) for w in walls for d in (-1800, -1, 0, 900, 1800)]
    plain = st.sampled_from([0, 1800, 3600, 5400, 7200, 9000, DAY - 1])
    one_time = st.one_of(
        *[st.sampled_from(near)] * 2 if near else [], plain, st.integers(0, DAY - 1)
    )
    fields["at"] = tuple(draw(st.lists(one_time, min_size=1, max_size=3)))
    if draw(st.booleans()):
        months = draw(st.lists(st.integers(1, 12), max_size=4))
        fields["months"] = tuple(sorted({day.month, *months}))
    return zone, start, end, fields


@SETTINGS
@given(monthly_cases())
def test_monthly_rule_agrees_with_the_reference(
    case: tuple[ZoneInfo, int, int, dict[str, object]],
) -> None:
    zone, start, end, fields = case
    expected = monthly_fires(zone, start, end, **fields)  # type: ignore[arg-type]
    rule = Monthly(zone, **fields)  # type: ignore[arg-type]
    actual = fires_until(rule, start, end, len(expected) + 1)
    assert isos(actual, zone) == isos(expected, zone)
    assert rule.describe().strip()


# -- every ------------------------------------------------------------------------------------


@SETTINGS
@given(
    period=st.one_of(st.sampled_from([1, 60, 90, 900, 3600, 86400, 604800]), st.integers(1, 10**7)),
    start_at=st.integers(-(10**11), 10**11),
    after=st.integers(-(10**11), 10**11),
)
def test_every_fires_at_start_plus_whole_periods(period: int, start_at: int, after: int) -> None:
    end = after + 3 * period
    actual = fires_until(Every(period, start=start_at), after, end, 4)
    assert actual == every_fires(period, start_at, after, end)
    assert len(actual) == 3
    assert all((fire - start_at) % period == 0 for fire in actual)
