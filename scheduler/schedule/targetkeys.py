"""What a fire runs: the target keys of a job (``task``, ``celery``, ``rq``, ``dramatiq``)
and the settings each target reads (docs/targets.md).

A job names exactly one target. Each target says how its name is written, its default
queue, the job settings only it reads, which common settings it cannot honour (a load
error, never silently dropped), and the settings of ``targets: <key>:`` at the top of the
file (key prefixes, the broker). Pure: reading the file needs no target library.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass, field
from typing import Any

from .fields import Invalid, int_in, kind_of, read_jitter, read_json, shown, text_of
from .yamlnodes import Mapping, Node, Scalar

Reader = Callable[[Node], Any]
# Why a setting cannot be honoured, given the job's settings (the file's, with defaults:),
# or None. It is asked only about a setting the job has.
Refusal = Callable[[AnyMapping[str, Any]], "str | None"]


@dataclass(frozen=True)
class TargetKeys:
    """How the schedule file names and configures one target."""

    key: str  # the job key naming it
    what: str  # what its value names, in words
    read_name: Reader
    default_queue: str
    settings: dict[str, Reader] = field(default_factory=dict)  # read by this target only
    refused: dict[str, Refusal] = field(default_factory=dict)
    file_settings: dict[str, Reader] = field(default_factory=dict)  # under targets: <key>:
    article: str = "a"  # before its key in messages: "an rq job"


TASK_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]{0,199}")
DEFAULT_RETRIES = 3  # a job's retries when neither it nor defaults: sets them (schedule.md)
FUNCTION_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def read_task_name(node: Node) -> str:
    """A Celery task name (``myproj.tasks.send_report``): the name its worker registered."""
    text = text_of(node, 'a Celery task name like "myproj.tasks.send_report"')
    if not TASK_NAME.fullmatch(text):
        raise Invalid(
            f"{shown(text)} is not a task name: letters, digits and _ . : - "
            '(up to 200), as Celery names it, e.g. "myproj.tasks.send_report"',
            node,
        )
    return text


def read_function_path(node: Node) -> str:
    """An RQ job's function: its import path (``myproj.search.reindex``), as rq imports it."""
    text = text_of(node, 'a function path like "myproj.search.reindex"')
    if len(text) > 200 or not FUNCTION_PATH.fullmatch(text):
        raise Invalid(
            f"{shown(text)} is not a function path: dotted names, as rq imports it, "
            'e.g. "myproj.search.reindex"',
            node,
        )
    return text


def read_actor_name(node: Node) -> str:
    """A Dramatiq actor name (``send_digest``): the name its worker registered."""
    text = text_of(node, 'a Dramatiq actor name like "send_digest"')
    if not TASK_NAME.fullmatch(text):
        raise Invalid(
            f"{shown(text)} is not an actor name: letters, digits and _ . : - "
            '(up to 200), as Dramatiq names it, e.g. "send_digest"',
            node,
        )
    return text


def read_headers(node: Node) -> dict[str, Any]:
    """Message headers: a mapping of text keys to JSON values."""
    if not isinstance(node, Mapping):
        raise Invalid(f"expected a mapping like {{tenant: acme}}, got {kind_of(node)}", node)
    headers: dict[str, Any] = read_json(node)
    return headers


def read_prefix(node: Node) -> str:
    """A key prefix (may be empty): text without spaces or control characters."""
    text = node.text if isinstance(node, Scalar) and node.value is not None else None
    if text is None or any(c.isspace() or not c.isprintable() for c in text):
        raise Invalid(f"expected a key prefix (text without spaces), got {kind_of(node)}", node)
    return text


APP_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*(?::[A-Za-z_][A-Za-z0-9_.]*)?")


def read_app(node: Node) -> str:
    """The application the target's workers load (``myproj.celery:app``), as their
    command line names it; read by ``scheduler check --import`` only."""
    text = text_of(node, 'a module, or module:attribute, like "myproj.celery:app"')
    if len(text) > 200 or not APP_PATH.fullmatch(text):
        raise Invalid(
            f"{shown(text)} is not an application path: a module, or module:attribute, "
            'as the worker command line names it, e.g. "myproj.celery:app"',
            node,
        )
    return text


def read_broker(node: Node) -> str:
    """A broker URL (``redis://host:6379/0``): what the target's workers connect to."""
    text = text_of(node, "a broker URL like redis://localhost:6379/0")
    if "://" not in text:
        raise Invalid(f"{shown(text)} is not a URL like redis://localhost:6379/0", node)
    return text


def _no_overlap_skip(settings: AnyMapping[str, Any]) -> str | None:
    if settings["overlap"] == "skip":
        return (
            "overlap: skip needs to see the previous run, and a Celery worker's run "
            "leaves no trace in Redis until it is acked (docs/targets.md)"
        )
    return None


def _no_retries(settings: AnyMapping[str, Any]) -> str | None:
    return "retries are the Celery task's own (autoretry_for, retry()), not the schedule's"


def _rq_overlap(settings: AnyMapping[str, Any]) -> str | None:
    if settings["overlap"] == "skip" and settings.get("expires") is not None:
        return (
            "overlap: skip with expires: RQ's ttl may delete the job's hash, which is how "
            "the scheduler sees the run, before the run ends; drop expires"
        )
    return None


def _dramatiq_overlap(settings: AnyMapping[str, Any]) -> str | None:
    if settings["overlap"] != "skip":
        return None
    retries = settings.get("retries", DEFAULT_RETRIES)
    if retries or settings.get("jitter"):
        what = f"retries: {retries}" if retries else "jitter"
        return (
            f"overlap: skip with {what}: Dramatiq gives a retried or delayed message a new "
            "Redis id, so the scheduler cannot see it; set retries: 0 and no jitter"
        )
    return None


CELERY = TargetKeys(
    key="celery",
    what="a Celery task name",
    read_name=read_task_name,
    default_queue="celery",
    settings={"headers": read_headers, "priority": int_in(range(10), "a priority 0..9")},
    refused={"overlap": _no_overlap_skip, "retries": _no_retries},
    file_settings={"broker": read_broker, "global_keyprefix": read_prefix, "app": read_app},
)

RQ = TargetKeys(
    key="rq",
    what="an RQ job's function path",
    read_name=read_function_path,
    default_queue="default",
    settings={"result_ttl": read_jitter, "failure_ttl": read_jitter},
    refused={"overlap": _rq_overlap},
    file_settings={"broker": read_broker, "prefix": read_prefix},
    article="an",
)

DRAMATIQ = TargetKeys(
    key="dramatiq",
    what="a Dramatiq actor name",
    read_name=read_actor_name,
    default_queue="default",
    refused={"overlap": _dramatiq_overlap},
    file_settings={"broker": read_broker, "namespace": read_prefix, "app": read_app},
)

TARGETS: dict[str, TargetKeys] = {t.key: t for t in (CELERY, RQ, DRAMATIQ)}
TARGET_SETTINGS = frozenset(name for t in TARGETS.values() for name in t.settings)


def settings_of(target: str) -> dict[str, Reader]:
    """The settings only ``target`` reads (none for ``task``)."""
    keys = TARGETS.get(target)
    return keys.settings if keys is not None else {}


def owners(setting: str) -> list[str]:
    """The targets that read ``setting``."""
    return [t.key for t in TARGETS.values() if setting in t.settings]
