"""Rules in words, for `scheduler next` and the docs: "at 09:00 on Monday"."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

from .cronexpr import CronFields

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ORDINALS = ("first", "second", "third", "fourth", "fifth")
_UNIT_WORDS = (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
_UNIT_LETTERS = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def duration_text(seconds: int) -> str:
    """Compact form: ``1h30m``, ``15m``, ``90s`` stays ``1m30s``."""
    parts = []
    for letter, size in _UNIT_LETTERS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{letter}")
    return "".join(parts) or "0s"


def duration_words(seconds: int) -> str:
    """Words: ``1 hour 30 minutes``."""
    parts = []
    for word, size in _UNIT_WORDS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {word}{'' if count == 1 else 's'}")
    return " ".join(parts)


def utc_text(instant: float) -> str:
    """An instant as ``2026-11-23T09:00:00Z`` (whole seconds)."""
    return datetime.fromtimestamp(int(instant), timezone.utc).isoformat()[:19] + "Z"


def every(period: int, start: int) -> str:
    """``every 15 minutes``, with the phase when ``start`` shifts it."""
    words = duration_words(period)
    words = words[2:] if words.startswith("1 ") and " " not in words[2:] else words
    text = f"every {words}"
    if start % period:
        text += f" from {utc_text(start)}"
    return text


def clock(second: int) -> str:
    """``09:00`` or ``09:00:30``."""
    hours, rest = divmod(second, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours:02}:{minutes:02}" + (f":{seconds:02}" if seconds else "")


def join(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def compact(values: Iterable[int], name: tuple[str, ...] | None = None, base: int = 0) -> str:
    """Sorted values with runs of three or more as ranges: ``1-5, 10 and 15``."""
    ordered = sorted(values)
    label = (lambda v: name[v - base]) if name else str
    runs: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        if j - i >= 2:
            runs.append(
                f"{label(ordered[i])}-{label(ordered[j])}"
                if not name
                else f"{label(ordered[i])} to {label(ordered[j])}"
            )
            i = j + 1
        else:
            runs.append(label(ordered[i]))
            i += 1
    return join(runs)


def _step_of(values: Sequence[int], span: int) -> int | None:
    """The step if ``values`` are 0, s, 2s, ... filling ``span`` (e.g. minutes 0,15,30,45)."""
    if len(values) < 2 or values[0] != 0:
        return None
    step = values[1] - values[0]
    if span % step == 0 and list(values) == list(range(0, span, step)):
        return step
    return None


def cron(f: CronFields) -> str:
    """A cron rule in words."""
    text = _cron_time(f)
    days = _cron_days(f)
    if days:
        text += f" {days}"
    if len(f.months) < 12:
        text += f" in {compact(f.months, MONTHS, 1)}"
    return text


def _cron_time(f: CronFields) -> str:
    if f.seconds != (0,):
        return _with_seconds(f)
    if len(f.hours) == 24:
        return _minutes_of_every_hour(f.minutes)
    if len(f.minutes) == 1 and len(f.hours) <= 6:
        return "at " + join([clock(h * 3600 + f.minutes[0] * 60) for h in f.hours])
    minutes = _minutes_of_every_hour(f.minutes).replace(" of every hour", "")
    return f"{minutes} past hours {compact(f.hours)}"


def _minutes_of_every_hour(minutes: Sequence[int]) -> str:
    if len(minutes) == 60:
        return "every minute"
    step = _step_of(minutes, 60)
    if step:
        return f"every {step} minutes"
    if len(minutes) == 1:
        return f"at minute {minutes[0]} of every hour"
    return f"at minutes {compact(minutes)} of every hour"


def _with_seconds(f: CronFields) -> str:
    if len(f.hours) == 24 and len(f.minutes) == 60:
        if len(f.seconds) == 60:
            return "every second"
        step = _step_of(f.seconds, 60)
        return f"every {step} seconds" if step else f"at seconds {compact(f.seconds)}"
    if len(f.seconds) == 1 and len(f.minutes) == 1 and len(f.hours) <= 6:
        return "at " + join([clock(h * 3600 + f.minutes[0] * 60 + f.seconds[0]) for h in f.hours])
    return (
        f"at second {compact(f.seconds)} of minutes {compact(f.minutes)}"
        f" past hours {compact(f.hours)}"
    )


def _cron_days(f: CronFields) -> str:
    by_day = _day_of_month_words(f) if len(f.days) < 31 or f.last_day else ""
    by_weekday = _weekday_words(f) if len(f.weekdays) < 7 else ""
    if f.days_restricted and f.weekdays_restricted:
        return f"{by_day} or {by_weekday}"
    if by_day and by_weekday:
        return f"{by_day} if it is {by_weekday.removeprefix('on ')}"
    return by_day or by_weekday


def _day_of_month_words(f: CronFields) -> str:
    parts = []
    if f.days:
        plural = "day" if len(f.days) == 1 else "days"
        parts.append(f"{plural} {compact(f.days)}")
    if f.last_day:
        parts.append("the last day")
    return f"on {join(parts)} of the month"


def _weekday_words(f: CronFields) -> str:
    parts = []
    if f.weekdays:
        parts.append(compact(f.weekdays, WEEKDAYS))
    for weekday, nth in sorted(f.nth_weekdays, key=lambda p: (p[1], p[0])):
        parts.append(f"the {ORDINALS[nth - 1]} {WEEKDAYS[weekday]}")
    return f"on {join(parts)}"


def ordinal_day(day: int) -> str:
    """``1st``, ``22nd``; ``last day``, ``2nd-to-last day`` for negative days."""
    if day == -1:
        return "last day"
    if day < 0:
        return f"{_ordinal(-day)}-to-last day"
    return _ordinal(day)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def monthly(
    days: Sequence[int],
    weekday: int | None,
    nth: int | None,
    times: Sequence[int],
    months: Iterable[int],
) -> str:
    """A monthly rule in words: ``at 23:30 on the last day of the month``."""
    text = "at " + join([clock(t) for t in times])
    if weekday is not None and nth is not None:
        which = "last" if nth == -1 else ORDINALS[nth - 1]
        text += f" on the {which} {WEEKDAYS[weekday]} of the month"
    else:
        text += f" on the {join([ordinal_day(d) for d in days])} of the month"
    months = sorted(months)
    if len(months) < 12:
        text += f" in {compact(months, MONTHS, 1)}"
    return text


def monthly_text(
    days: Sequence[int],
    weekday: int | None,
    nth: int | None,
    times: Sequence[int],
    months: Iterable[int],
) -> str:
    """A monthly rule written back in the file's own terms: ``day -1 at 23:30``."""
    if weekday is not None:
        text = f"{WEEKDAYS[weekday][:3].upper()} nth {nth}"
    else:
        text = "day " + ",".join(str(d) for d in days)
    text += " at " + ",".join(clock(t) for t in times)
    months = sorted(months)
    if len(months) < 12:
        text += " months " + ",".join(str(m) for m in months)
    return text
