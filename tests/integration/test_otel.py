"""scheduler[otel] (docs/workers.md, "OpenTelemetry"): a span per run, in the trace of the
code that enqueued it, recorded by the SDK's own InMemorySpanExporter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from scheduler import hooks
from scheduler.integrations import otel
from scheduler.jobs import decode
from scheduler.queue import Queue
from tests import tasks  # noqa: F401 (imported, so the worker may run its tasks)

from .conftest import WorkerFactory


@pytest.fixture
def provider() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    spans = otel.install(provider=provider)
    yield provider, exporter
    for kind in ("before_enqueue", "before_run", "after_run"):
        hooks.registry.remove(kind, getattr(spans, kind))
    provider.shutdown()


def by_name(spans: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    [span] = [s for s in spans if s.name == name]
    return span


def test_each_run_is_a_span_in_the_trace_that_enqueued_it(
    queue: Queue,
    make_worker: WorkerFactory,
    provider: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    tracer_provider, exporter = provider
    with tracer_provider.get_tracer("app").start_as_current_span("POST /orders") as request:
        ok = queue.enqueue("tests.tasks:add", 1, 2)
        bad = queue.enqueue("tests.tasks:fail", "no stock", retries=0)
    assert (
        "traceparent"
        in decode(queue.client.lindex(queue.keys.queue("default"), 0)).extra["headers"]
    )
    worker = make_worker()
    while worker.fetch_once():
        worker.run_pending()
        worker.flush()

    spans = exporter.get_finished_spans()
    enqueued = request.get_span_context()
    run_ok, run_bad = by_name(spans, "run tests.tasks:add"), by_name(spans, "run tests.tasks:fail")
    for run in (run_ok, run_bad):
        assert run.kind == SpanKind.CONSUMER
        assert run.context.trace_id == enqueued.trace_id
        assert run.parent is not None and run.parent.span_id == enqueued.span_id
        assert [link.context.span_id for link in run.links] == [enqueued.span_id]
    assert run_ok.attributes["messaging.message.id"] == ok
    assert run_ok.status.status_code == StatusCode.UNSET
    assert run_bad.attributes["messaging.message.id"] == bad
    assert run_bad.attributes["scheduler.status"] == "dead"
    assert run_bad.status.status_code == StatusCode.ERROR
    assert [e.name for e in run_bad.events] == ["exception"]


def test_a_job_enqueued_outside_any_trace_runs_in_a_new_one(
    queue: Queue,
    make_worker: WorkerFactory,
    provider: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    queue.enqueue("tests.tasks:noop")
    worker = make_worker()
    worker.fetch_once()
    worker.run_pending()
    [run] = provider[1].get_finished_spans()
    assert (run.parent is None and run.links == ()) or list(run.links) == []
