"""Templates and the filters they use: times in UTC and in a job's zone, ages, durations,
JSON, and the bar chart's geometry. Autoescaping is on for every template."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from ..documents import read_seconds
from ..rules.describe import duration_text

TEMPLATES = Path(__file__).parent / "templates"
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CHART_WIDTH, CHART_HEIGHT = 600, 120


def environment() -> jinja2.Environment:
    """The templates' environment, autoescaped. A field missing from Redis data renders
    as nothing (or a dash), not as an error."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        utc=utc,
        local=local,
        ago=ago,
        span=span,
        seconds=seconds,
        pretty=pretty,
        hhmm=hhmm,
        number=number,
    )
    env.globals["chart_bars"] = chart_bars
    return env


def _number(value: object) -> float | None:
    """``value`` as a number of seconds; None for a field that is missing, empty, undefined
    or (written straight into Redis) no number a datetime can hold."""
    if isinstance(value, jinja2.Undefined):
        return None
    return read_seconds(value)


def utc(instant: float | str | None) -> str:
    """``2026-11-23 09:00:00 UTC``, or a dash."""
    value = _number(instant)
    if value is None:
        return "-"
    return datetime.fromtimestamp(int(value), timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def local(instant: float | None, zone: str) -> str:
    """``Mon 2026-11-23 10:00:00 +01:00`` in ``zone``, or a dash."""
    value = _number(instant)
    if value is None:
        return "-"
    moment = datetime.fromtimestamp(int(value), ZoneInfo(zone))
    text = moment.isoformat()
    return f"{_WEEKDAYS[moment.weekday()]} {text[:10]} {text[11:19]} {text[19:]}"


def hhmm(instant: float) -> str:
    """``09:05`` UTC."""
    return datetime.fromtimestamp(int(instant), timezone.utc).strftime("%H:%M")


def seconds(value: float | str | None) -> str:
    """A duration: ``0.031s``, ``12.4s``, ``3m10s``; a dash for none."""
    amount = _number(value)
    if amount is None:
        return "-"
    if amount < 10:
        return f"{amount:.3f}s"
    if amount < 60:
        return f"{amount:.1f}s"
    return duration_text(int(amount))


def ago(instant: float | str | None, now: float) -> str:
    """``3m10s ago`` or ``in 45s``; a dash for none."""
    value = _number(instant)
    if value is None:
        return "-"
    delta = now - value
    text = span(abs(delta))
    return f"{text} ago" if delta >= 0 else f"in {text}"


def span(amount: float) -> str:
    """The two largest units of a duration: ``3m10s``, ``2h5m``, ``4ms``."""
    if amount < 1:
        return f"{amount * 1000:.0f}ms"
    text = duration_text(int(amount))
    cut = [i for i, c in enumerate(text) if c.isalpha()]
    return text[: cut[1] + 1] if len(cut) > 2 else text


def pretty(value: Any) -> str:
    """JSON, indented (escaped by the template like any other text)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def number(value: int) -> str:
    """``12,345``."""
    return f"{value:,}"


def chart_bars(points: list[tuple[int, int, int]]) -> list[dict[str, Any]]:
    """SVG geometry of one bar per minute: processed (and failed, drawn over it)."""
    top = max([p for _, p, _ in points] + [1])
    width = CHART_WIDTH / max(1, len(points))
    bars = []
    for i, (minute, processed, failed) in enumerate(points):
        height = CHART_HEIGHT * processed / top
        failed_height = CHART_HEIGHT * min(failed, processed or failed) / top
        bars.append(
            {
                "x": round(i * width + 1, 1),
                "width": round(width - 2, 1),
                "y": round(CHART_HEIGHT - height, 1),
                "height": round(height, 1),
                "failed_y": round(CHART_HEIGHT - failed_height, 1),
                "failed_height": round(failed_height, 1),
                "minute": minute * 60,
                "processed": processed,
                "failed": failed,
            }
        )
    return bars
