"""Writing converted entries as a schedule file (docs/migrating.md).

Values are written so that the YAML 1.2 reader of ``scheduler check`` reads back exactly
what was converted: text is plain only where it cannot read as anything else, otherwise
double-quoted with escapes; lists and mappings in flow style. Everything that was not
converted is a comment that says why, above its entry.
"""

from __future__ import annotations

import json
import math
import re
import textwrap
from typing import Any

from ..errors import printable
from ..schedule.fields import YAML11_BOOLS
from ..schedule.yamlnodes import resolve_plain
from .entries import Converted, Entry, job_names

WIDTH = 92  # comments wrap to this many columns
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*(?::[A-Za-z0-9_./-]+)*|(?:[0-9]+[wdhms])+")
# What the YAML reader refuses or reads otherwise unescaped: controls, line and paragraph
# separators (line breaks to YAML), surrogates, the byte order mark and non-characters.
_ESCAPE = re.compile(
    "[^\t\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)


def render(converted: Converted) -> str:
    """The schedule file: header comments, ``timezone``, then ``jobs`` in source order."""
    lines = [line for text in converted.header for line in comment(text, "")]
    if converted.timezone is not None:
        lines.append(f"timezone: {scalar(converted.timezone)}")
    if converted.targets:
        lines.append("targets:")
        lines += [f"  {key}: {scalar(value)}" for key, value in converted.targets.items()]
    names = job_names(entry.source_name for entry in converted.entries)
    active = [e for e in converted.entries if e.skipped is None]
    lines.append("jobs:" if active else "jobs: {}")
    for entry in converted.entries:
        lines += _entry_lines(entry, names[entry.source_name])
    return "\n".join(lines) + "\n"


def _entry_lines(entry: Entry, name: str) -> list[str]:
    notes = list(entry.notes)
    if name != entry.source_name:
        notes.insert(0, f"named {entry.source_name!r} in the source")
    body = [f"  {scalar(name)}:"]
    body += [f"    {key}: {scalar(value)}" for key, value in entry.settings.items()]
    if entry.skipped is not None:
        notes.insert(0, f"not converted: {entry.skipped}")
        body = [f"  # {printable(line[2:])}" for line in body]
    return [line for note in notes for line in comment(note, "  ")] + body


def comment(text: str, indent: str) -> list[str]:
    """``text`` as comment lines at ``indent``, wrapped to fit the width of the file."""
    width = WIDTH - len(indent) - 2
    wrapped = textwrap.wrap(printable(text), width, break_long_words=False)
    return [f"{indent}# {line}" for line in wrapped or [""]]


def scalar(value: Any) -> str:
    """``value`` in YAML flow form that the schedule's YAML 1.2 reader reads back as is."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        assert math.isfinite(value), "converters keep non-finite numbers out"
        return json.dumps(value)
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(scalar(item) for item in value) + "]"
    items = ", ".join(f"{_text(str(key))}: {scalar(item)}" for key, item in value.items())
    return "{" + items + "}"


def _text(text: str) -> str:
    if _PLAIN.fullmatch(text) and resolve_plain(text) == text and text not in YAML11_BOOLS:
        return text
    quoted = json.dumps(text, ensure_ascii=False)
    return _ESCAPE.sub(_escape, quoted)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
