"""A zone's UTC offsets as segments between transitions, found once per zone and year.

zoneinfo answers "what is the offset at this instant" but does not list transitions.
Wall-clock rules need them (a gap or an overlap changes which local times fire), so a
``Timeline`` probes each UTC year of a zone every few hours and bisects each change down
to the second. Segments never cross a UTC year boundary; at such an artificial boundary
the offset before equals the offset after.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

_PROBE_STEP = 6 * 3600


@dataclass(frozen=True)
class Segment:
    """Instants ``start <= t < end`` all read with ``offset``; ``before`` held just before."""

    start: int
    end: int
    offset: int
    before: int


@dataclass(frozen=True)
class _Year:
    start: int
    end: int
    initial: int  # offset in force just before the year starts
    instants: tuple[int, ...]  # transition instants within [start, end)
    offsets: tuple[int, ...]  # offset in force from each transition on


def year_start(year: int) -> int:
    """Epoch seconds of 1 January of ``year``, 00:00 UTC."""
    return int(datetime(year, 1, 1, tzinfo=timezone.utc).timestamp())


class Timeline:
    """Offsets and transitions of one zone."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._years: dict[int, _Year] = {}

    def offset_at(self, instant: int) -> int:
        """UTC offset in seconds at ``instant``."""
        delta = datetime.fromtimestamp(instant, self.zone).utcoffset()
        assert delta is not None
        return int(delta.total_seconds())

    def segment(self, instant: int) -> Segment:
        """The segment holding ``instant``."""
        year = self._year(datetime.fromtimestamp(instant, timezone.utc).year)
        i = bisect.bisect_right(year.instants, instant)
        start = year.instants[i - 1] if i > 0 else year.start
        end = year.instants[i] if i < len(year.instants) else year.end
        offset = year.offsets[i - 1] if i > 0 else year.initial
        before = year.offsets[i - 2] if i > 1 else year.initial
        return Segment(start, end, offset, before)

    def _year(self, year: int) -> _Year:
        found = self._years.get(year)
        if found is None:
            found = self._years[year] = self._scan(year)
        return found

    def _scan(self, year: int) -> _Year:
        start, end = year_start(year), year_start(year + 1)
        initial = self.offset_at(start - 1)
        instants: list[int] = []
        offsets: list[int] = []
        cur, offset = start - 1, initial
        while cur < end - 1:
            probe = min(cur + _PROBE_STEP, end - 1)
            probed = self.offset_at(probe)
            if probed == offset:
                cur = probe
                continue
            cur = self._first_change(cur, probe, offset)
            offset = self.offset_at(cur)
            instants.append(cur)
            offsets.append(offset)
        return _Year(start, end, initial, tuple(instants), tuple(offsets))

    def _first_change(self, lo: int, hi: int, offset: int) -> int:
        """Smallest t in (lo, hi] whose offset differs from ``offset`` (hi's does)."""
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.offset_at(mid) == offset:
                lo = mid
            else:
                hi = mid
        return hi


@functools.lru_cache(maxsize=512)
def timeline(zone: ZoneInfo) -> Timeline:
    """The shared timeline of ``zone`` (zones are few; their transitions are computed once)."""
    return Timeline(zone)
