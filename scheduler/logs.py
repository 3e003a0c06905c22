"""Log output of the long-running commands: text or JSON lines on stderr, secrets scrubbed.

Library modules only name loggers and write ``event phrase key=value ...`` with %-style
arguments, e.g. ``log.info("fire enqueued job=%s fire=%s", name, at)``. The JSON form
keeps that shape as fields: ``{"ts", "level", "logger", "event": "fire enqueued",
"job": ..., "fire": ..., "message": <the text line>}``; field names are the keys the code
writes, so they are stable. Redis passwords in URLs never reach the output.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
from contextlib import suppress
from datetime import datetime, timezone
from queue import Empty, SimpleQueue
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_SECRET = re.compile(r"(rediss?://[^:@/\s]*:)[^@\s]+@")
# "key=" then one %-placeholder, then any suffix glued to it (e.g. the "s" of "%.3fs").
_FIELD = re.compile(r"(?:\b(\w+)=)?(%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[a-zA-Z%])(\S*)")
_RESERVED = frozenset({"ts", "level", "logger", "event", "message", "error", "traceback"})


def scrub(text: str) -> str:
    """``text`` with the password of any ``redis://user:password@`` URL replaced by ***."""
    return _SECRET.sub(r"\1***@", text)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: event key=value``, secrets scrubbed."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the message's ``key=value`` pairs become fields."""

    def format(self, record: logging.LogRecord) -> str:
        message = scrub(record.getMessage())
        document: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": message,
        }
        document.update(_fields(record, document))
        document["message"] = message
        if record.exc_info:
            document["error"] = scrub(repr(record.exc_info[1]))
            document["traceback"] = scrub(self.formatException(record.exc_info))
        return json.dumps(document, ensure_ascii=False, default=str)


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
    return {k: scrub(v) if isinstance(v, str) else v for k, v in fields.items()}


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
            os.dup(sys.stderr.fileno()), "w", buffering=1 << 16, encoding="utf-8",
            errors="backslashreplace",
        )  # fmt: skip
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


def configure_logging(level: str, fmt: str = "text") -> None:
    """Log lines of ``level`` and above on stderr as text or JSON; the CLI's only set-up."""
    handler = BufferedStderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    # Fields no format shows cost a system call or a stack walk per line (the logging
    # HOWTO's "Optimization"); so funcName and lineno stay empty.
    logging.logProcesses = logging.logThreads = logging.logMultiprocessing = False
    logging._srcfile = None
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
