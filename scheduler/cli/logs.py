"""Log output of the long-running commands: text or JSON lines on stderr, secrets scrubbed.

Library modules only name loggers and write ``event phrase key=value ...`` with %-style
arguments, e.g. ``log.info("fire enqueued job=%s fire=%s", name, at)``. The JSON form
keeps that shape as fields: ``{"ts", "level", "logger", "event": "fire enqueued",
"job": ..., "fire": ..., "message": <the text line>}``; field names are the keys the code
writes, so they are stable.

Secrets never reach the output: a URL anywhere in a line loses its password and secret
query values (``redact_url``, which parses the URL the way redis-py does), and the
secrets the command was given (its Redis password, the dashboard token) are blanked
wherever they appear. Values come from Redis, so a job id may hold a newline or a
terminal escape: text lines write control characters as escapes, and a JSON line
escapes them as JSON does (docs/security.md).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Iterator
from contextlib import suppress
from datetime import datetime, timezone
from queue import Empty, SimpleQueue
from types import TracebackType
from typing import Any
from urllib.parse import unquote, unquote_plus, urlsplit, urlunsplit

from ..errors import CONTROL_CHARACTERS, printable, printable_lines

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HIDDEN = "***"
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
# redis-py passes every query key of its URL to the connection: password=,
# sentinel_password=, ssl_password=... are secrets.
_SECRET_KEYS = ("password", "passwd", "secret", "token")
# A shorter secret would blank out ordinary words and numbers; URLs are redacted anyway.
_SHORTEST_SECRET = 4
# "key=" then one %-placeholder, then any suffix glued to it (e.g. the "s" of "%.3fs").
_FIELD = re.compile(r"(?:\b(\w+)=)?(%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[a-zA-Z%])(\S*)")
_RESERVED = frozenset({"ts", "level", "logger", "event", "message", "error", "traceback"})
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def redact_url(url: str) -> str:
    """``url`` with its password and its secret query values replaced by ``***``.

    The URL is split as redis-py splits it (``urllib.parse``, any case of scheme): the
    password is everything after the first ``:`` of what precedes the last ``@`` of the
    host part (spaces and ``@`` included), and query keys are compared percent-decoded.
    A URL that cannot be split keeps only its scheme. Anything else is left as written.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return f"{url.partition('://')[0]}://{HIDDEN}"
    netloc, query = _hide_password(parts.netloc), _hide_query(parts.query)
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def url_secrets(url: str) -> list[str]:
    """The secrets written in ``url`` (password, secret query values), for ``scrub``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    written = [_password(parts.netloc) or "", *_secret_values(parts.query)]
    return [form for raw in written for form in {raw, unquote(raw), unquote_plus(raw)} if form]


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with each of ``secrets``, and the secrets of any URL in it, as ``***``."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, HIDDEN)
    return _URL.sub(lambda match: redact_url(match.group()), text) if "://" in text else text


def _password(netloc: str) -> str | None:
    user_info, at, _ = netloc.rpartition("@")
    _, colon, password = user_info.partition(":")
    return password if at and colon else None


def _hide_password(netloc: str) -> str:
    if _password(netloc) is None:
        return netloc
    user_info, _, host = netloc.rpartition("@")
    return f"{user_info.partition(':')[0]}:{HIDDEN}@{host}"


def _is_secret(key: str) -> bool:
    name = unquote_plus(key).lower()
    return any(word in name for word in _SECRET_KEYS)


def _secret_values(query: str) -> list[str]:
    pairs = (pair.partition("=") for pair in query.split("&"))
    return [value for key, _, value in pairs if value and _is_secret(key)]


def _hide_query(query: str) -> str:
    pairs = [pair.partition("=") for pair in query.split("&")] if query else []
    return "&".join(
        f"{key}={HIDDEN}" if value and _is_secret(key) else key + eq + value
        for key, eq, value in pairs
    )


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: event key=value``: secrets scrubbed, control characters escaped."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__(TEXT_FORMAT)
        self.secrets = _usable(secrets)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging names it)
        record.message = printable(scrub(record.message, self.secrets))
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging names it)
        return scrub(escaped_traceback(ei), self.secrets)


def escaped_traceback(exc_info: ExcInfo) -> str:
    """The traceback as Python prints it, but each exception's message on one escaped line.

    A message may quote data from Redis (a task's error about its arguments): it must not
    start a line of its own that reads like a log line.
    """
    report = traceback.TracebackException(*exc_info)
    messages = set(_messages(report))
    chunks = (
        printable(chunk.removesuffix("\n")) + "\n" if chunk in messages else printable_lines(chunk)
        for chunk in report.format()
    )
    return "".join(chunks).removesuffix("\n")


def _messages(report: traceback.TracebackException) -> Iterator[str]:
    """The message lines of ``report`` and of every exception chained to it."""
    pending, seen = [report], set()
    while pending:
        current = pending.pop()
        if id(current) not in seen:
            seen.add(id(current))
            yield from current.format_exception_only()
            pending += [e for e in (current.__cause__, current.__context__) if e is not None]


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the message's ``key=value`` pairs become fields."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = _usable(secrets)

    def format(self, record: logging.LogRecord) -> str:
        message = scrub(record.getMessage(), self.secrets)
        document: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": message,
        }
        fields = _fields(record, document)
        document.update(
            (k, scrub(v, self.secrets) if isinstance(v, str) else v) for k, v in fields.items()
        )
        document["message"] = message
        if record.exc_info:
            document["error"] = scrub(repr(record.exc_info[1]), self.secrets)
            document["traceback"] = scrub(self.formatException(record.exc_info), self.secrets)
        line = json.dumps(document, ensure_ascii=False, default=str)
        # json escapes C0 controls only; DEL, C1 and the rest get \u escapes too.
        return CONTROL_CHARACTERS.sub(lambda m: f"\\u{ord(m.group()):04x}", line)


def _usable(secrets: Iterable[str]) -> tuple[str, ...]:
    """The secrets worth blanking, longest first (a secret may contain a shorter one)."""
    return tuple(sorted({s for s in secrets if len(s) >= _SHORTEST_SECRET}, key=len, reverse=True))


def _fields(record: logging.LogRecord, document: dict[str, Any]) -> dict[str, Any]:
    """The ``key=value`` pairs of the record's format string, with their values."""
    fmt = str(record.msg)
    args = record.args if isinstance(record.args, tuple) else ()
    fields: dict[str, Any] = {}
    position = 0
    for match in _FIELD.finditer(fmt):
        key, spec, suffix = match.groups()
        if spec == "%%":
            continue
        if position >= len(args):
            break
        value = args[position]
        position += 1
        if key is None:
            continue
        if "event" not in fields:
            fields["event"] = fmt[: match.start()].strip()
        name = f"field_{key}" if key in _RESERVED else key
        fields[name] = _value(spec, suffix, value)
    return fields


def _value(spec: str, suffix: str, value: object) -> object:
    if not suffix and isinstance(value, (int, float, bool)) and spec in ("%s", "%d", "%r"):
        return value
    try:
        return (spec % (value,)) + suffix
    except (TypeError, ValueError):
        return f"{value}{suffix}"


class BufferedStderrHandler(logging.Handler):
    """Log lines to stderr, written by a thread of their own in batches.

    A worker logs a line when each job starts and ends, from many threads at thousands of
    jobs per second: a lock shared by those threads, and a write per line, would take
    most of its time. Here the logging thread formats its line and queues it, taking no
    lock; the writer thread writes and flushes whatever has queued, then waits ``batch``
    seconds (5 ms) so the next lines go out together.
    """

    def __init__(self, batch: float = 0.005) -> None:
        super().__init__()
        self._lines: SimpleQueue[str | None] = SimpleQueue()
        self._stream = open(  # noqa: SIM115 (closed by the writer thread)
            os.dup(sys.stderr.fileno()),
            "w",
            buffering=1 << 16,
            encoding="utf-8",
            errors="backslashreplace",
        )
        self._batch = batch
        self._writer = threading.Thread(target=self._write, name="scheduler-log", daemon=True)
        self._writer.start()

    def handle(self, record: logging.LogRecord) -> bool:
        """Emit without taking the handler's lock: the line queue is the only shared state."""
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.put(self.format(record) + "\n")
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        """Write what is queued and stop the writer."""
        if self._writer.is_alive():
            self._lines.put(None)
            self._writer.join(2.0)
        super().close()

    def _write(self) -> None:
        while (line := self._lines.get()) is not None and self._write_queued(line):
            time.sleep(self._batch)
        self._stream.close()

    def _write_queued(self, line: str | None) -> bool:
        """Write ``line`` and every line queued after it, then flush; False once told to
        stop. Lines that cannot be written (stderr closed) are dropped."""
        try:
            while line is not None:
                with suppress(OSError, ValueError):
                    self._stream.write(line)
                line = self._lines.get_nowait()
            return False
        except Empty:
            return True
        finally:
            with suppress(OSError, ValueError):
                self._stream.flush()


def configure_logging(level: str, fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    """Log lines of ``level`` and above on stderr as text or JSON, each of ``secrets``
    blanked wherever it appears; the CLI's only set-up."""
    handler = BufferedStderrHandler()
    handler.setFormatter(JsonFormatter(secrets) if fmt == "json" else TextFormatter(secrets))
    # Fields no format shows cost a system call or a stack walk per line (the logging
    # HOWTO's "Optimization"); so funcName and lineno stay empty.
    logging.logProcesses = logging.logThreads = logging.logMultiprocessing = False
    logging._srcfile = None
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
