"""Rules: `every`, `cron` and `monthly`, each a pure "next fire strictly after an instant".

Instants are whole seconds since the Unix epoch (UTC). Rules read no clock and touch no
Redis; SPEC section 2 is their contract. (API STUB: implementation in progress.)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo


def parse_duration(text: str | int) -> int:
    """Seconds in a duration: ``90s``, ``15m``, ``2h``, ``1d``, ``1w``, ``1h30m`` or an int.

    Raises RuleError for anything else, zero or negative.
    """
    raise NotImplementedError


def parse_time_of_day(text: str) -> int:
    """Seconds since midnight of ``"HH:MM"`` or ``"HH:MM:SS"``; RuleError otherwise."""
    raise NotImplementedError


def parse_weekday(text: str | int) -> int:
    """0 (Monday) .. 6 (Sunday) from ``MON``..``SUN`` (any case); RuleError otherwise."""
    raise NotImplementedError


def parse_month(text: str | int) -> int:
    """1..12 from a number or ``JAN``..``DEC`` (any case); RuleError otherwise."""
    raise NotImplementedError


def load_zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; RuleError with a suggestion if there is none."""
    raise NotImplementedError


def local_to_instant(local: datetime, zone: ZoneInfo) -> int:
    """The instant a naive local time names in ``zone``; RuleError if it is in a gap or overlap."""
    raise NotImplementedError


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


class Every(Rule):
    """Fires at ``start + k * period`` for every integer k (epoch-anchored by default)."""

    kind = "every"

    def __init__(self, period: int, start: int = 0, text: str | None = None) -> None:
        raise NotImplementedError

    def next_after(self, instant: int) -> int | None:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class Cron(Rule):
    """A cron expression read on the wall clock of ``zone`` (5 fields, or 6 with seconds first)."""

    kind = "cron"

    def __init__(self, expression: str, zone: ZoneInfo) -> None:
        raise NotImplementedError

    def next_after(self, instant: int) -> int | None:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class Monthly(Rule):
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
        raise NotImplementedError

    def next_after(self, instant: int) -> int | None:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError
