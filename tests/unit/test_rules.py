"""Rules away from DST (SPEC section 2): every, cron fields, monthly days, parsing helpers.

DST behaviour lives in test_rules_dst.py; random rules against the brute-force reference
in test_rules_property.py. Tables read as the SPEC: a rule, a start instant, the next fires.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest

from scheduler.errors import RuleError
from scheduler.rules.cronexpr import seconds_last_form
from scheduler.rules.kinds import (
    Cron,
    Every,
    Monthly,
    Rule,
    load_zone,
    local_to_instant,
    parse_duration,
    parse_month,
    parse_time_of_day,
    parse_weekday,
)
from tests.unit.reference_rules import cron_fires, instant, iso, isos, monthly_fires

UTC = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")
MADRID = ZoneInfo("Europe/Madrid")

H = 3600
M = 60
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)  # monthly weekdays: 0 = Monday


def next_fires(rule: Rule, start: str | int, count: int) -> list[int]:
    """The next ``count`` fires strictly after ``start``, each strictly after the one before."""
    fires: list[int] = []
    previous = instant(start) if isinstance(start, str) else start
    for _ in range(count):
        nxt = rule.next_after(previous)
        assert nxt is not None, f"no fire after {previous} ({fires=})"
        assert nxt > previous, f"next_after({previous}) returned {nxt}, not after it"
        fires.append(nxt)
        previous = nxt
    return fires


def utc_fires(rule: Rule, start: str, count: int) -> list[str]:
    return isos(next_fires(rule, start, count), UTC)


# -- every ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start",
    [
        "2024-05-01T10:00:00Z",
        "2024-05-01T10:00:01Z",
        "2024-05-01T10:07:13Z",
        "2024-05-01T10:14:59Z",
        "2031-12-31T23:59:59Z",
    ],
)
def test_every_15m_fires_on_the_quarter_hours_whenever_it_starts(start: str) -> None:
    for fire in next_fires(Every(15 * M), start, 8):
        assert fire % (15 * M) == 0
        assert iso(fire, UTC)[14:19] in {"00:00", "15:00", "30:00", "45:00"}


def test_every_fires_strictly_after_an_exact_fire_instant() -> None:
    rule = Every(15 * M)
    assert utc_fires(rule, "2024-05-01T10:15:00Z", 2) == [
        "2024-05-01T10:30:00+00:00",
        "2024-05-01T10:45:00+00:00",
    ]
    assert utc_fires(rule, "2024-05-01T10:14:59Z", 1) == ["2024-05-01T10:15:00+00:00"]


@pytest.mark.parametrize(
    ("period", "start", "after", "expected"),
    [
        (90, 0, 0, 90),
        (90, 0, 100, 180),
        (900, 0, -1, 0),
        (900, 0, -900, 0),
        (900, 0, -901, -900),
        (H, 10 * M, 0, 10 * M),
        (H, 10 * M, 10 * M, H + 10 * M),
        # start + k*period for every integer k, including negative k
        (H, 1_000_000_000, 0, 2800),
        (H, -1_000_000_000, 0, 800),
        (7, 3, 3, 10),
    ],
)
def test_every_fires_at_start_plus_a_whole_number_of_periods(
    period: int, start: int, after: int, expected: int
) -> None:
    assert Every(period, start=start).next_after(after) == expected


@pytest.mark.parametrize("period", [0, -1, -900])
def test_every_rejects_a_period_that_is_not_positive(period: int) -> None:
    with pytest.raises(RuleError):
        Every(period)


def test_every_start_shifts_the_phase() -> None:
    rule = Every(H, start=instant("2024-01-01T00:10:00Z"))
    assert utc_fires(rule, "2024-05-01T10:30:00Z", 3) == [
        "2024-05-01T11:10:00+00:00",
        "2024-05-01T12:10:00+00:00",
        "2024-05-01T13:10:00+00:00",
    ]


def test_every_day_ignores_daylight_saving_time() -> None:
    # elapsed time: midnight UTC every day, 19:00 or 20:00 on a New York wall clock
    fires = next_fires(Every(86400), "2024-03-08T12:00:00Z", 3)
    assert isos(fires, NEW_YORK) == [
        "2024-03-08T19:00:00-05:00",
        "2024-03-09T19:00:00-05:00",
        "2024-03-10T20:00:00-04:00",
    ]


def test_every_week_is_anchored_on_the_epoch_a_thursday() -> None:
    assert utc_fires(Every(604800), "2024-05-01T00:00:00Z", 2) == [
        "2024-05-02T00:00:00+00:00",
        "2024-05-09T00:00:00+00:00",
    ]


def test_every_fires_iterates_in_steps_of_the_period() -> None:
    fires = Every(90, start=7).fires(1000)
    assert [next(fires) for _ in range(4)] == [1087, 1177, 1267, 1357]


def test_rules_describe_themselves_in_words() -> None:
    rules: list[Rule] = [
        Every(900),
        Cron("0 9 * * MON", NEW_YORK),
        Monthly(MADRID, days=(-1,), at=(23 * H + 30 * M,)),
        Monthly(UTC, weekday=MON, nth=1),
    ]
    for rule in rules:
        words = rule.describe()
        assert isinstance(words, str)
        assert words.strip()


def test_rules_name_their_kind() -> None:
    assert Every(900).kind == "every"
    assert Cron("* * * * *", UTC).kind == "cron"
    assert Monthly(UTC, days=(1,)).kind == "monthly"


# -- cron fields ------------------------------------------------------------------------------


class Case(NamedTuple):
    expression: str
    start: str
    fires: list[str]


# All in UTC; 2024-05-01 is a Wednesday. Times are written in full so a row reads as a fire.
# fmt: off
CRON_CASES = [
    # numbers, lists, ranges, steps
    Case("0 0 * * *", "1969-12-30T12:00:00Z",  # before the epoch too
         ["1969-12-31T00:00:00+00:00", "1970-01-01T00:00:00+00:00"]),
    Case("0 9 * * *", "2024-05-01T09:00:00Z",  # strictly after an exact fire
         ["2024-05-02T09:00:00+00:00", "2024-05-03T09:00:00+00:00"]),
    Case("0,30 8,17 * * *", "2024-05-01T00:00:00Z",
         ["2024-05-01T08:00:00+00:00", "2024-05-01T08:30:00+00:00", "2024-05-01T17:00:00+00:00",
          "2024-05-01T17:30:00+00:00", "2024-05-02T08:00:00+00:00"]),
    Case("5-40/10 * * * *", "2024-05-01T10:00:00Z",
         ["2024-05-01T10:05:00+00:00", "2024-05-01T10:15:00+00:00", "2024-05-01T10:25:00+00:00",
          "2024-05-01T10:35:00+00:00", "2024-05-01T11:05:00+00:00"]),
    Case("*/20 * * * *", "2024-05-01T10:00:00Z",
         ["2024-05-01T10:20:00+00:00", "2024-05-01T10:40:00+00:00", "2024-05-01T11:00:00+00:00"]),
    Case("0 */2 * * *", "2024-05-01T21:00:00Z",
         ["2024-05-01T22:00:00+00:00", "2024-05-02T00:00:00+00:00", "2024-05-02T02:00:00+00:00"]),
    Case("0 9-17/4 * * *", "2024-05-01T00:00:00Z",
         ["2024-05-01T09:00:00+00:00", "2024-05-01T13:00:00+00:00", "2024-05-01T17:00:00+00:00",
          "2024-05-02T09:00:00+00:00"]),
    Case("15,45 * * * *", "2024-05-01T10:15:00Z",
         ["2024-05-01T10:45:00+00:00", "2024-05-01T11:15:00+00:00"]),
    Case("1-3,58-59 23 * * *", "2024-05-01T00:00:00Z",
         ["2024-05-01T23:01:00+00:00", "2024-05-01T23:02:00+00:00", "2024-05-01T23:03:00+00:00",
          "2024-05-01T23:58:00+00:00", "2024-05-01T23:59:00+00:00", "2024-05-02T23:01:00+00:00"]),
    # six fields: seconds first
    Case("30 0 0 * * *", "2024-05-01T00:00:00Z",
         ["2024-05-01T00:00:30+00:00", "2024-05-02T00:00:30+00:00"]),
    Case("*/15 * * * * *", "2024-05-01T10:00:50Z",
         ["2024-05-01T10:01:00+00:00", "2024-05-01T10:01:15+00:00", "2024-05-01T10:01:30+00:00"]),
    Case("0 0 9 * * MON", "2024-05-01T00:00:00Z",
         ["2024-05-06T09:00:00+00:00", "2024-05-13T09:00:00+00:00"]),
    Case("10,20 30 12 1 1 *", "2024-05-01T00:00:00Z",
         ["2025-01-01T12:30:10+00:00", "2025-01-01T12:30:20+00:00", "2026-01-01T12:30:10+00:00"]),
    # names, in any case; ranges of names
    Case("0 9 * * MON", "2024-05-01T00:00:00Z",
         ["2024-05-06T09:00:00+00:00", "2024-05-13T09:00:00+00:00"]),
    Case("0 9 * * mon", "2024-05-01T00:00:00Z",
         ["2024-05-06T09:00:00+00:00", "2024-05-13T09:00:00+00:00"]),
    Case("0 9 * * Mon", "2024-05-01T00:00:00Z",
         ["2024-05-06T09:00:00+00:00", "2024-05-13T09:00:00+00:00"]),
    Case("0 0 * * MON-FRI", "2024-05-02T12:00:00Z",
         ["2024-05-03T00:00:00+00:00", "2024-05-06T00:00:00+00:00", "2024-05-07T00:00:00+00:00"]),
    Case("0 0 * * sat,SUN", "2024-05-01T00:00:00Z",
         ["2024-05-04T00:00:00+00:00", "2024-05-05T00:00:00+00:00", "2024-05-11T00:00:00+00:00"]),
    Case("0 0 1 jan *", "2024-05-01T00:00:00Z",
         ["2025-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"]),
    Case("0 0 1 JAN-MAR *", "2024-05-01T00:00:00Z",
         ["2025-01-01T00:00:00+00:00", "2025-02-01T00:00:00+00:00", "2025-03-01T00:00:00+00:00",
          "2026-01-01T00:00:00+00:00"]),
    Case("0 0 1 Jun,dec *", "2024-05-01T00:00:00Z",
         ["2024-06-01T00:00:00+00:00", "2024-12-01T00:00:00+00:00", "2025-06-01T00:00:00+00:00"]),
    Case("0 0 1 */4 *", "2024-05-01T00:00:00Z",  # months 1, 5, 9
         ["2024-09-01T00:00:00+00:00", "2025-01-01T00:00:00+00:00", "2025-05-01T00:00:00+00:00"]),
    # day-of-week 0 and 7 are Sunday
    Case("0 0 * * 0", "2024-05-01T00:00:00Z",
         ["2024-05-05T00:00:00+00:00", "2024-05-12T00:00:00+00:00"]),
    Case("0 0 * * 7", "2024-05-01T00:00:00Z",
         ["2024-05-05T00:00:00+00:00", "2024-05-12T00:00:00+00:00"]),
    Case("0 0 * * 5-7", "2024-05-01T00:00:00Z",  # Friday to Sunday
         ["2024-05-03T00:00:00+00:00", "2024-05-04T00:00:00+00:00", "2024-05-05T00:00:00+00:00",
          "2024-05-10T00:00:00+00:00"]),
    Case("0 0 * * */2", "2024-05-01T00:00:00Z",  # 0, 2, 4, 6: Sun, Tue, Thu, Sat
         ["2024-05-02T00:00:00+00:00", "2024-05-04T00:00:00+00:00", "2024-05-05T00:00:00+00:00",
          "2024-05-07T00:00:00+00:00"]),
    # a range may end on Sunday: it ends at 7 (as cronsim and croniter read it)
    Case("0 0 * * SAT-SUN", "2024-05-01T00:00:00Z",
         ["2024-05-04T00:00:00+00:00", "2024-05-05T00:00:00+00:00", "2024-05-11T00:00:00+00:00",
          "2024-05-12T00:00:00+00:00"]),
    Case("0 0 * * MON-SUN", "2024-05-01T00:00:00Z",  # every day
         ["2024-05-02T00:00:00+00:00", "2024-05-03T00:00:00+00:00", "2024-05-04T00:00:00+00:00",
          "2024-05-05T00:00:00+00:00", "2024-05-06T00:00:00+00:00"]),
    Case("0 0 * * fri-sun", "2024-05-01T00:00:00Z",
         ["2024-05-03T00:00:00+00:00", "2024-05-04T00:00:00+00:00", "2024-05-05T00:00:00+00:00",
          "2024-05-10T00:00:00+00:00"]),
    Case("0 0 * * 5-0", "2024-05-01T00:00:00Z",  # 0 is Sunday too
         ["2024-05-03T00:00:00+00:00", "2024-05-04T00:00:00+00:00", "2024-05-05T00:00:00+00:00",
          "2024-05-10T00:00:00+00:00"]),
    Case("0 0 * * THU-SUN/2", "2024-05-01T00:00:00Z",  # 4-7/2: Thursday and Saturday
         ["2024-05-02T00:00:00+00:00", "2024-05-04T00:00:00+00:00", "2024-05-09T00:00:00+00:00"]),
    Case("0 0 * * SUN-SUN", "2024-05-01T00:00:00Z",  # Sunday alone, not the whole week
         ["2024-05-05T00:00:00+00:00", "2024-05-12T00:00:00+00:00"]),
    # L: the last day of the month (2024 is a leap year, 2023 is not)
    Case("0 0 L * *", "2024-01-15T00:00:00Z",
         ["2024-01-31T00:00:00+00:00", "2024-02-29T00:00:00+00:00", "2024-03-31T00:00:00+00:00",
          "2024-04-30T00:00:00+00:00"]),
    Case("30 23 L 2 *", "2022-06-01T00:00:00Z",
         ["2023-02-28T23:30:00+00:00", "2024-02-29T23:30:00+00:00", "2025-02-28T23:30:00+00:00"]),
    # 2100 is a common year, 2000 a leap year
    Case("0 0 L 2 *", "2099-06-01T00:00:00Z",
         ["2100-02-28T00:00:00+00:00", "2101-02-28T00:00:00+00:00"]),
    Case("0 0 L 2 *", "1999-06-01T00:00:00Z",
         ["2000-02-29T00:00:00+00:00", "2001-02-28T00:00:00+00:00"]),
    Case("0 0 29 2 *", "2023-03-01T00:00:00Z",
         ["2024-02-29T00:00:00+00:00", "2028-02-29T00:00:00+00:00"]),
    Case("0 0 29 2 *", "2097-01-01T00:00:00Z",  # no 29 February from 2097 to 2103
         ["2104-02-29T00:00:00+00:00"]),
    Case("0 0 29 2 *", "1996-03-01T00:00:00Z",
         ["2000-02-29T00:00:00+00:00"]),
    Case("0 0 31 * *", "2024-01-31T00:00:00Z",  # months without a 31st have no fire
         ["2024-03-31T00:00:00+00:00", "2024-05-31T00:00:00+00:00", "2024-07-31T00:00:00+00:00",
          "2024-08-31T00:00:00+00:00"]),
    # #: the nth such weekday of the month
    Case("0 0 * * MON#1", "2024-05-01T00:00:00Z",
         ["2024-05-06T00:00:00+00:00", "2024-06-03T00:00:00+00:00", "2024-07-01T00:00:00+00:00"]),
    Case("0 0 * * 1#1", "2024-05-01T00:00:00Z",
         ["2024-05-06T00:00:00+00:00", "2024-06-03T00:00:00+00:00", "2024-07-01T00:00:00+00:00"]),
    Case("0 0 * * SUN#2", "2024-05-01T00:00:00Z",
         ["2024-05-12T00:00:00+00:00", "2024-06-09T00:00:00+00:00"]),
    Case("0 0 * * 0#2", "2024-05-01T00:00:00Z",
         ["2024-05-12T00:00:00+00:00", "2024-06-09T00:00:00+00:00"]),
    Case("0 0 * * 7#2", "2024-05-01T00:00:00Z",
         ["2024-05-12T00:00:00+00:00", "2024-06-09T00:00:00+00:00"]),
    # only March, May, August and November 2024 have a fifth Friday
    Case("0 0 * * FRI#5", "2024-01-01T00:00:00Z",
         ["2024-03-29T00:00:00+00:00", "2024-05-31T00:00:00+00:00", "2024-08-30T00:00:00+00:00",
          "2024-11-29T00:00:00+00:00"]),
    # both day fields restricted: a day matches if either matches (Vixie cron)
    Case("0 0 1 * MON", "2024-05-01T00:00:00Z",
         ["2024-05-06T00:00:00+00:00", "2024-05-13T00:00:00+00:00", "2024-05-20T00:00:00+00:00",
          "2024-05-27T00:00:00+00:00", "2024-06-01T00:00:00+00:00", "2024-06-03T00:00:00+00:00"]),
    Case("0 0 1-7 * MON", "2024-05-01T00:00:00Z",  # not "the first Monday": days 1-7 or Mondays
         ["2024-05-02T00:00:00+00:00", "2024-05-03T00:00:00+00:00", "2024-05-04T00:00:00+00:00",
          "2024-05-05T00:00:00+00:00", "2024-05-06T00:00:00+00:00", "2024-05-07T00:00:00+00:00",
          "2024-05-13T00:00:00+00:00"]),
    Case("0 0 * 2 FRI#5", "2024-03-01T00:00:00Z",  # 29 February 2036 is the next one
         ["2036-02-29T00:00:00+00:00"]),
    # 29 February on a Sunday: 2100 is not a leap year, so after 2088 the next is 2128
    Case("0 0 29 2 */7", "2089-01-01T00:00:00Z",
         ["2128-02-29T00:00:00+00:00"]),
    Case("0 0 * 2 SUN#5", "2089-01-01T00:00:00Z",
         ["2128-02-29T00:00:00+00:00"]),
    Case("0 0 15 * FRI#5", "2024-05-01T00:00:00Z",
         ["2024-05-15T00:00:00+00:00", "2024-05-31T00:00:00+00:00", "2024-06-15T00:00:00+00:00"]),
    Case("0 0 L * MON", "2024-05-20T12:00:00Z",
         ["2024-05-27T00:00:00+00:00", "2024-05-31T00:00:00+00:00", "2024-06-03T00:00:00+00:00"]),
    Case("0 0 31 2 MON", "2024-01-01T00:00:00Z",  # 31 February never, but Mondays in February
         ["2024-02-05T00:00:00+00:00", "2024-02-12T00:00:00+00:00"]),
    # a field starting with * is unrestricted, so both must match (Vixie cron)
    Case("0 0 */2 * MON", "2024-05-01T00:00:00Z",  # odd days that are Mondays
         ["2024-05-13T00:00:00+00:00", "2024-05-27T00:00:00+00:00", "2024-06-03T00:00:00+00:00",
          "2024-06-17T00:00:00+00:00"]),
    Case("0 0 1 * */2", "2024-05-01T00:00:00Z",  # 1sts that fall on Sun, Tue, Thu or Sat
         ["2024-06-01T00:00:00+00:00", "2024-08-01T00:00:00+00:00", "2024-09-01T00:00:00+00:00",
          "2024-10-01T00:00:00+00:00", "2024-12-01T00:00:00+00:00"]),
    Case("0 0 13 * *", "2024-05-01T00:00:00Z",
         ["2024-05-13T00:00:00+00:00", "2024-06-13T00:00:00+00:00"]),
    Case("0 0 * * FRI", "2024-05-01T00:00:00Z",
         ["2024-05-03T00:00:00+00:00", "2024-05-10T00:00:00+00:00"]),
    # macros: midnight of 1 January, of the 1st, of Sunday, of every day; minute 0 of every hour
    Case("@yearly", "2024-05-01T00:00:00Z",
         ["2025-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"]),
    Case("@monthly", "2024-05-01T00:00:00Z",
         ["2024-06-01T00:00:00+00:00", "2024-07-01T00:00:00+00:00"]),
    Case("@weekly", "2024-05-01T00:00:00Z",
         ["2024-05-05T00:00:00+00:00", "2024-05-12T00:00:00+00:00"]),
    Case("@daily", "2024-05-01T00:00:00Z",
         ["2024-05-02T00:00:00+00:00", "2024-05-03T00:00:00+00:00"]),
    Case("@hourly", "2024-05-01T10:30:00Z",
         ["2024-05-01T11:00:00+00:00", "2024-05-01T12:00:00+00:00"]),
    # whitespace between fields is not significant
    Case(" 0  9\t* *  MON ", "2024-05-01T00:00:00Z",
         ["2024-05-06T09:00:00+00:00"]),
]
# fmt: on


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=f"{c.expression!r} after {c.start}") for c in CRON_CASES]
)
def test_cron_rule_fires_as_the_table_says(case: Case) -> None:
    assert utc_fires(Cron(case.expression, UTC), case.start, len(case.fires)) == case.fires


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=f"{c.expression!r} after {c.start}") for c in CRON_CASES]
)
def test_reference_agrees_with_the_cron_table(case: Case) -> None:
    fires = cron_fires(case.expression.strip(), UTC, instant(case.start), instant(case.fires[-1]))
    assert isos(fires, UTC) == case.fires


def test_cron_reads_the_wall_clock_of_its_zone() -> None:
    # SPEC example: weekly-report, "0 9 * * MON" in America/New_York
    rule = Cron("0 9 * * MON", NEW_YORK)
    assert isos(next_fires(rule, "2024-03-01T00:00:00Z", 3), NEW_YORK) == [
        "2024-03-04T09:00:00-05:00",
        "2024-03-11T09:00:00-04:00",
        "2024-03-18T09:00:00-04:00",
    ]


@pytest.mark.parametrize(
    "expression",
    ["0 0 30 2 *", "0 0 31 2 *", "0 0 31 4,6,9,11 *", "0 0 30,31 FEB *", "0 0 31 4 *"],
)
def test_cron_rule_that_never_fires_has_no_next(expression: str) -> None:
    assert Cron(expression, UTC).next_after(instant("2024-01-01T00:00:00Z")) is None


def test_cron_rule_that_never_fires_has_no_fires() -> None:
    assert list(Cron("0 0 30 2 *", UTC).fires(0)) == []


# -- invalid cron expressions ---------------------------------------------------------------

# (expression, index of the bad field): the offset must point into that field
# fmt: off
BAD_FIELDS = [
    ("60 * * * *", 0),
    ("* 24 * * *", 1),
    ("* * 0 * *", 2),
    ("* * 32 * *", 2),
    ("* * * 0 *", 3),
    ("* * * 13 *", 3),
    ("* * * * 8", 4),
    ("*/0 * * * *", 0),
    ("0 */0 * * *", 1),
    ("*/ * * * *", 0),
    ("/5 * * * *", 0),
    ("*/x * * * *", 0),
    ("*/-1 * * * *", 0),
    ("-1 * * * *", 0),
    ("1-60 * * * *", 0),
    ("0 0 * JANUAR *", 3),
    ("0 0 * XYZ *", 3),
    ("0 0 * * MOX", 4),
    ("0 0 * * MON#0", 4),
    ("0 0 * * MON#6", 4),
    ("0 0 * * MON#", 4),
    ("0 0 * * #1", 4),
    ("0 0 1#1 * *", 2),
    ("0 0 * * 8#1", 4),
    ("L 0 * * *", 0),
    ("0 L * * *", 1),
    ("0 0 * L *", 3),
    ("1,,2 * * * *", 0),
    ("1, * * * *", 0),
    ("1-2-3 * * * *", 0),
    ("1.5 * * * *", 0),
    ("a * * * *", 0),
    ("60 0 0 * * *", 0),  # seconds
    ("0 60 0 * * *", 1),
    ("0 0 24 * * *", 2),
    # reversed ranges are rejected, as robfig/cron and cronsim do: silently matching
    # nothing (Vixie cron) or wrapping around (Quartz) would surprise someone
    ("30-10 * * * *", 0),
    ("0 17-9 * * *", 1),
    ("0 0 20-10 * *", 2),
    ("0 0 * DEC-JAN *", 3),
    ("0 0 * * FRI-MON", 4),
    ("0 0 * * SUN-SAT-SUN", 4),
    # robfig/cron's zone prefix: the zone goes in the job's timezone
    ("TZ=America/New_York 0 9 * * *", 0),
    ("CRON_TZ=Europe/Madrid 0 9 * * *", 0),
    ("0 9 * * * 30", 5),  # croniter's seconds last, read seconds first
]
# fmt: on


def _field_span(expression: str, index: int) -> tuple[int, int]:
    position = 0
    for n, field in enumerate(expression.split(" ")):
        if n == index:
            return position, position + len(field)
        position += len(field) + 1
    raise AssertionError("no such field")


@pytest.mark.parametrize(("expression", "field"), BAD_FIELDS)
def test_cron_rejects_a_bad_field_and_points_at_it(expression: str, field: int) -> None:
    with pytest.raises(RuleError) as caught:
        Cron(expression, UTC)
    first, end = _field_span(expression, field)
    assert caught.value.offset is not None, "the loader needs the column of the bad field"
    # inside the field, or just past its end when something is missing there ("1,")
    assert first <= caught.value.offset <= end, (caught.value.offset, (first, end))


def test_cron_zone_prefix_says_to_use_timezone() -> None:
    with pytest.raises(RuleError) as caught:
        Cron("TZ=America/New_York 0 9 * * MON", UTC)
    message = caught.value.message
    assert "use timezone: America/New_York in the job and cron: '0 9 * * MON'" in message


def test_cron_every_macro_says_to_use_an_every_rule() -> None:
    with pytest.raises(RuleError, match=r"'@every 1h30m' is robfig/cron's; write every: 1h30m"):
        Cron("@every 1h30m", UTC)


def test_cron_day_of_week_out_of_range_in_six_fields_shows_the_seconds_last_form() -> None:
    with pytest.raises(RuleError) as caught:
        Cron("0 9 * * * 30", UTC)
    assert "day-of-week 30 is out of range 0-7" in caught.value.message
    assert "for seconds last as in croniter, write '30 0 9 * * *'" in caught.value.message


# (expression, the same with its last field first) when it reads as croniter's seconds-last
# form, or None when it does not
SECONDS_LAST = [
    ("30 9 * * * 0", "0 30 9 * * *"),  # croniter: 09:30:00 daily; here: 09:30 past, Sundays
    ("0 9 * * * */15", "*/15 0 9 * * *"),
    ("0 0 9 * * 1-5", "1-5 0 0 9 * *"),  # digits are ambiguous even when meant seconds first
    ("  30 9 * * *   0  ", "0 30 9 * * *"),
    ("0 0 9 * * MON-FRI", None),  # a weekday name: a day of week
    ("0 0 9 * * mon", None),
    ("0 */5 * * * *", None),  # `*` is every day, as seconds-first writers mean it
    ("0 0 9 ? * 2", None),  # `?` is a day field's
    ("0 0 9 * * 1#2", None),  # `#` is a day of week's
    ("0 30 9 * * 1", None),  # 30 is no hour: it cannot be seconds last
    ("0 0 0 * * 1", None),  # 0 is no day of the month
    ("30 9 * * 0", None),  # five fields
    ("@daily", None),
]


@pytest.mark.parametrize(("expression", "moved"), SECONDS_LAST)
def test_seconds_last_form_is_spotted_by_digits_in_the_last_of_six_fields(
    expression: str, moved: str | None
) -> None:
    found = seconds_last_form(expression)
    assert (found[0] if found else None) == moved
    if found:
        assert expression[found[1] :].startswith(expression.split()[5])


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "   ",
        "* * * *",
        "* * * * * * *",
        "hello",
        "@reboot",
        "@every 5m",
        "@fortnightly",
        "@daily *",
        "0 9 * * MON extra",
    ],
)
def test_cron_rejects_a_malformed_expression(expression: str) -> None:
    with pytest.raises(RuleError):
        Cron(expression, UTC)


# -- monthly ----------------------------------------------------------------------------------


def monthly_utc(start: str, count: int, **fields: object) -> list[str]:
    return utc_fires(Monthly(UTC, **fields), start, count)  # type: ignore[arg-type]


class MonthlyCase(NamedTuple):
    name: str
    fields: dict[str, object]
    start: str
    fires: list[str]


# fmt: off
MONTHLY_CASES = [
    MonthlyCase("default at is midnight", {"days": (1,)}, "2024-05-01T00:00:00Z",
                ["2024-06-01T00:00:00+00:00", "2024-07-01T00:00:00+00:00"]),
    MonthlyCase("day 31 clamps to 30 April", {"days": (31,)}, "2024-03-31T00:00:00Z",
                ["2024-04-30T00:00:00+00:00", "2024-05-31T00:00:00+00:00",
                 "2024-06-30T00:00:00+00:00"]),
    MonthlyCase("day 31 clamps to 29 February 2024", {"days": (31,)}, "2024-01-31T00:00:00Z",
                ["2024-02-29T00:00:00+00:00", "2024-03-31T00:00:00+00:00"]),
    MonthlyCase("day 31 clamps to 28 February 2023", {"days": (31,)}, "2023-01-31T00:00:00Z",
                ["2023-02-28T00:00:00+00:00", "2023-03-31T00:00:00+00:00"]),
    MonthlyCase("day 29 in February 2100, a common year", {"days": (29,), "months": (2,)},
                "2099-06-01T00:00:00Z",
                ["2100-02-28T00:00:00+00:00", "2101-02-28T00:00:00+00:00"]),
    MonthlyCase("day 30 in February 2000, a leap year", {"days": (30,), "months": (2,)},
                "1999-06-01T00:00:00Z",
                ["2000-02-29T00:00:00+00:00", "2001-02-28T00:00:00+00:00"]),
    MonthlyCase("day -1 is the last day", {"days": (-1,)}, "2024-01-31T00:00:00Z",
                ["2024-02-29T00:00:00+00:00", "2024-03-31T00:00:00+00:00",
                 "2024-04-30T00:00:00+00:00"]),
    MonthlyCase("day -1 in February 2023", {"days": (-1,), "months": (2,)},
                "2023-01-01T00:00:00Z", ["2023-02-28T00:00:00+00:00", "2024-02-29T00:00:00+00:00"]),
    MonthlyCase("day -2", {"days": (-2,)}, "2024-02-01T00:00:00Z",
                ["2024-02-28T00:00:00+00:00", "2024-03-30T00:00:00+00:00",
                 "2024-04-29T00:00:00+00:00"]),
    MonthlyCase("day -31 is the 1st of a 31-day month", {"days": (-31,), "months": (5,)},
                "2024-01-01T00:00:00Z", ["2024-05-01T00:00:00+00:00"]),
    MonthlyCase("day -31 clamps to the 1st", {"days": (-31,)}, "2024-01-15T00:00:00Z",
                ["2024-02-01T00:00:00+00:00", "2024-03-01T00:00:00+00:00",
                 "2024-04-01T00:00:00+00:00"]),
    MonthlyCase("day -30", {"days": (-30,)}, "2024-01-15T00:00:00Z",
                ["2024-02-01T00:00:00+00:00", "2024-03-02T00:00:00+00:00",
                 "2024-04-01T00:00:00+00:00", "2024-05-02T00:00:00+00:00"]),
    MonthlyCase("30 and 31 land on 29 February once", {"days": (30, 31)},
                "2024-02-01T00:00:00Z",
                ["2024-02-29T00:00:00+00:00", "2024-03-30T00:00:00+00:00",
                 "2024-03-31T00:00:00+00:00", "2024-04-30T00:00:00+00:00"]),
    MonthlyCase("31 and -1 are the same date", {"days": (31, -1)}, "2024-04-01T00:00:00Z",
                ["2024-04-30T00:00:00+00:00", "2024-05-31T00:00:00+00:00"]),
    MonthlyCase("1 and -31 are the same date", {"days": (1, -31)}, "2024-04-15T00:00:00Z",
                ["2024-05-01T00:00:00+00:00", "2024-06-01T00:00:00+00:00"]),
    MonthlyCase("a day list in any order", {"days": (15, 1)}, "2024-05-01T00:00:00Z",
                ["2024-05-15T00:00:00+00:00", "2024-06-01T00:00:00+00:00",
                 "2024-06-15T00:00:00+00:00"]),
    MonthlyCase("first Monday", {"weekday": MON, "nth": 1}, "2024-05-01T00:00:00Z",
                ["2024-05-06T00:00:00+00:00", "2024-06-03T00:00:00+00:00",
                 "2024-07-01T00:00:00+00:00"]),
    MonthlyCase("last Friday", {"weekday": FRI, "nth": -1}, "2024-01-01T00:00:00Z",
                ["2024-01-26T00:00:00+00:00", "2024-02-23T00:00:00+00:00",
                 "2024-03-29T00:00:00+00:00", "2024-04-26T00:00:00+00:00"]),
    MonthlyCase("fifth Friday: only months that have one", {"weekday": FRI, "nth": 5},
                "2024-01-01T00:00:00Z",
                ["2024-03-29T00:00:00+00:00", "2024-05-31T00:00:00+00:00",
                 "2024-08-30T00:00:00+00:00", "2024-11-29T00:00:00+00:00"]),
    MonthlyCase("fifth Thursday of February 2024 (the 29th)", {"weekday": THU, "nth": 5,
                "months": (2,)}, "2023-01-01T00:00:00Z", ["2024-02-29T00:00:00+00:00"]),
    MonthlyCase("second Sunday", {"weekday": SUN, "nth": 2}, "2024-05-01T00:00:00Z",
                ["2024-05-12T00:00:00+00:00", "2024-06-09T00:00:00+00:00"]),
    MonthlyCase("a list of times", {"days": (1,), "at": (17 * H + 30 * M, 9 * H)},
                "2024-05-01T12:00:00Z",
                ["2024-05-01T17:30:00+00:00", "2024-06-01T09:00:00+00:00",
                 "2024-06-01T17:30:00+00:00"]),
    MonthlyCase("a time with seconds", {"days": (-1,), "at": (23 * H + 59 * M + 59,)},
                "2024-05-01T00:00:00Z",
                ["2024-05-31T23:59:59+00:00", "2024-06-30T23:59:59+00:00"]),
    MonthlyCase("the same time twice fires once", {"days": (1,), "at": (9 * H, 9 * H)},
                "2024-05-01T12:00:00Z",
                ["2024-06-01T09:00:00+00:00", "2024-07-01T09:00:00+00:00"]),
    MonthlyCase("quarterly", {"days": (1,), "months": (1, 4, 7, 10)}, "2024-05-01T00:00:00Z",
                ["2024-07-01T00:00:00+00:00", "2024-10-01T00:00:00+00:00",
                 "2025-01-01T00:00:00+00:00", "2025-04-01T00:00:00+00:00"]),
    MonthlyCase("last day of February only", {"days": (-1,), "months": (2,)},
                "2024-03-01T00:00:00Z",
                ["2025-02-28T00:00:00+00:00", "2026-02-28T00:00:00+00:00",
                 "2027-02-28T00:00:00+00:00", "2028-02-29T00:00:00+00:00"]),
    MonthlyCase("fifth Friday of February: 2036", {"weekday": FRI, "nth": 5, "months": (2,)},
                "2024-03-01T00:00:00Z", ["2036-02-29T00:00:00+00:00"]),
    MonthlyCase("fifth Sunday of February: 2128 after 2088", {"weekday": SUN, "nth": 5,
                "months": (2,)}, "2089-01-01T00:00:00Z", ["2128-02-29T00:00:00+00:00"]),
    MonthlyCase("strictly after an exact fire", {"days": (15,), "at": (12 * H,)},
                "2024-05-15T12:00:00Z",
                ["2024-06-15T12:00:00+00:00"]),
]
# fmt: on


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in MONTHLY_CASES])
def test_monthly_rule_fires_as_the_table_says(case: MonthlyCase) -> None:
    assert monthly_utc(case.start, len(case.fires), **case.fields) == case.fires


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in MONTHLY_CASES])
def test_reference_agrees_with_the_monthly_table(case: MonthlyCase) -> None:
    start, end = instant(case.start), instant(case.fires[-1])
    fires = monthly_fires(UTC, start, end, **case.fields)  # type: ignore[arg-type]
    assert isos(fires, UTC) == case.fires


def test_monthly_last_day_at_2330_in_madrid() -> None:
    # SPEC example: invoices, monthly {day: -1, at: "23:30"} in Europe/Madrid
    rule = Monthly(MADRID, days=(-1,), at=(23 * H + 30 * M,))
    assert isos(next_fires(rule, "2024-01-15T00:00:00Z", 4), MADRID) == [
        "2024-01-31T23:30:00+01:00",
        "2024-02-29T23:30:00+01:00",
        "2024-03-31T23:30:00+02:00",
        "2024-04-30T23:30:00+02:00",
    ]


def test_monthly_rule_clamps_day_31_in_february() -> None:
    rule = Monthly(UTC, days=(31,), months=(2,))
    assert utc_fires(rule, "2023-01-01T00:00:00Z", 2) == [
        "2023-02-28T00:00:00+00:00",
        "2024-02-29T00:00:00+00:00",
    ]


@pytest.mark.parametrize(
    "fields",
    [
        {"days": (0,)},
        {"days": (32,)},
        {"days": (-32,)},
        {"days": (1, 40)},
        {"weekday": MON, "nth": 0},
        {"weekday": MON, "nth": 6},
        {"weekday": MON, "nth": -2},
        {"weekday": 7, "nth": 1},
        {"weekday": -1, "nth": 1},
        {"days": (1,), "at": (86400,)},
        {"days": (1,), "at": (-1,)},
        {"days": (1,), "months": (0,)},
        {"days": (1,), "months": (13,)},
    ],
)
def test_monthly_rejects_out_of_range_fields(fields: dict[str, object]) -> None:
    with pytest.raises(RuleError):
        Monthly(UTC, **fields)  # type: ignore[arg-type]


# -- parsing helpers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("2h", 7200),
        ("1d", 86400),
        ("1w", 604800),
        ("1h30m", 5400),
        ("1d12h", 129600),
        ("1m30s", 90),
        (3600, 3600),
        (1, 1),
    ],
)
def test_parse_duration(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "0", "0s", "0m", 0, -5, "-1m", "abc", "1x", "h", "1.5h", "15 minutes", "m15"]
)
def test_parse_duration_rejects_zero_negative_and_garbage(text: str | int) -> None:
    with pytest.raises(RuleError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("00:00", 0), ("09:30", 34200), ("23:59", 86340), ("23:59:59", 86399), ("12:00:30", 43230)],
)
def test_parse_time_of_day(text: str, seconds: int) -> None:
    assert parse_time_of_day(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "24:00", "12:60", "12:00:60", "noon", "12", "-1:00", "12:00:00:00", "ab:cd"]
)
def test_parse_time_of_day_rejects_garbage(text: str) -> None:
    with pytest.raises(RuleError):
        parse_time_of_day(text)


@pytest.mark.parametrize(
    ("text", "weekday"),
    [
        ("MON", 0),
        ("mon", 0),
        ("Tue", 1),
        ("WED", 2),
        ("thu", 3),
        ("FRI", 4),
        ("sat", 5),
        ("SUN", 6),
        ("sun", 6),
    ],
)
def test_parse_weekday(text: str, weekday: int) -> None:
    assert parse_weekday(text) == weekday


@pytest.mark.parametrize("text", ["", "XYZ", "MO", "MONX"])
def test_parse_weekday_rejects_garbage(text: str) -> None:
    with pytest.raises(RuleError):
        parse_weekday(text)


@pytest.mark.parametrize(
    ("text", "month"), [("JAN", 1), ("jan", 1), ("Feb", 2), ("DEC", 12), (1, 1), (7, 7), (12, 12)]
)
def test_parse_month(text: str | int, month: int) -> None:
    assert parse_month(text) == month


@pytest.mark.parametrize("text", [0, 13, -1, "", "JANX", "XYZ"])
def test_parse_month_rejects_garbage(text: str | int) -> None:
    with pytest.raises(RuleError):
        parse_month(text)


def test_load_zone_returns_the_iana_zone() -> None:
    assert load_zone("Europe/Madrid") == ZoneInfo("Europe/Madrid")
    assert load_zone("UTC").key == "UTC"


def test_load_zone_suggests_a_near_miss() -> None:
    with pytest.raises(RuleError) as caught:
        load_zone("Europe/Madird")
    assert "Europe/Madrid" in str(caught.value)


@pytest.mark.parametrize("name", ["", "Mars/Olympus_Mons", "../../etc/passwd", "/etc/localtime"])
def test_load_zone_rejects_unknown_zones(name: str) -> None:
    with pytest.raises(RuleError):
        load_zone(name)


def test_local_to_instant_reads_a_naive_time_in_the_zone() -> None:
    assert local_to_instant(datetime(2024, 7, 1, 12, 0), MADRID) == instant(
        "2024-07-01T12:00:00+02:00"
    )
    assert local_to_instant(datetime(2024, 1, 1, 12, 0), MADRID) == instant(
        "2024-01-01T12:00:00+01:00"
    )
    assert local_to_instant(datetime(1970, 1, 1), UTC) == 0


@pytest.mark.parametrize(
    ("local", "zone"),
    [
        (datetime(2024, 3, 10, 2, 30), NEW_YORK),  # gap
        (datetime(2024, 3, 10, 2, 0), NEW_YORK),  # gap, first second
        (datetime(2024, 11, 3, 1, 30), NEW_YORK),  # overlap
        (datetime(2024, 11, 3, 1, 0), NEW_YORK),  # overlap, first second
        (datetime(2024, 3, 10, 0, 0), ZoneInfo("America/Havana")),  # midnight gap
        (datetime(2024, 10, 27, 2, 15), MADRID),  # overlap
        (datetime(2024, 3, 31, 2, 15), MADRID),  # gap
    ],
)
def test_local_to_instant_rejects_a_gap_or_an_overlap(local: datetime, zone: ZoneInfo) -> None:
    with pytest.raises(RuleError):
        local_to_instant(local, zone)


def test_local_to_instant_accepts_the_edges_of_a_transition() -> None:
    assert local_to_instant(datetime(2024, 3, 10, 3, 0), NEW_YORK) == instant(
        "2024-03-10T03:00:00-04:00"
    )
    assert local_to_instant(datetime(2024, 3, 10, 1, 59, 59), NEW_YORK) == instant(
        "2024-03-10T01:59:59-05:00"
    )
    assert local_to_instant(datetime(2024, 11, 3, 2, 0), NEW_YORK) == instant(
        "2024-11-03T02:00:00-05:00"
    )
    assert local_to_instant(datetime(2024, 11, 3, 0, 59, 59), NEW_YORK) == instant(
        "2024-11-03T00:59:59-04:00"
    )
