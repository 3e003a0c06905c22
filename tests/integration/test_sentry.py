"""scheduler[sentry] (docs/workers.md, "Sentry"): a failed run reaches Sentry with the job
as context, through sentry-sdk's own client and a transport that keeps the envelopes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from scheduler import hooks
from scheduler.integrations import sentry
from scheduler.queue import Queue
from tests import tasks  # noqa: F401 (imported, so the worker may run its tasks)

from .conftest import WorkerFactory

DSN = "https://public@sentry.example/1"  # never reached: the transport keeps the envelopes


class KeptEnvelopes(Transport):
    """sentry-sdk's transport interface, keeping each envelope instead of sending it."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def events(self) -> list[dict[str, Any]]:
        return [e.get_event() for e in self.envelopes if e.get_event() is not None]


@pytest.fixture
def transport() -> Iterator[KeptEnvelopes]:
    kept = KeptEnvelopes()
    sentry_sdk.init(
        dsn="https://public@sentry.example/1", transport=kept, default_integrations=False
    )
    hook = sentry.install()
    yield kept
    hooks.registry.remove("on_failure", hook)
    sentry_sdk.init()  # a client with no DSN: nothing is sent


def test_a_failed_run_is_reported_with_the_job_as_context(
    queue: Queue, make_worker: WorkerFactory, transport: KeptEnvelopes
) -> None:
    ok = queue.enqueue("tests.tasks:add", 1, 2)
    bad = queue.enqueue("tests.tasks:fail", "card declined", retries=0)
    worker = make_worker()
    while worker.fetch_once():
        worker.run_pending()
        worker.flush()
    sentry_sdk.flush()

    [event] = transport.events()
    [exception] = event["exception"]["values"]
    assert (exception["type"], exception["value"]) == ("ValueError", "card declined")
    job = event["contexts"][sentry.CONTEXT]
    assert (job["id"], job["task"], job["args"]) == (bad, "tests.tasks:fail", ["card declined"])
    assert (job["attempt"], job["status"], job["error"]) == (1, "dead", "ValueError: card declined")
    assert event["tags"]["scheduler.task"] == "tests.tasks:fail"
    assert event["tags"]["scheduler.status"] == "dead"
    assert ok not in str(event)
    assert queue.dead_count() == 1
