"""A span per run, in the trace of the code that enqueued it (``pip install
scheduler[otel]``; docs/workers.md, "OpenTelemetry").

``install()`` registers three hooks: ``before_enqueue`` writes the current trace context
into the job's headers as a W3C ``traceparent``; ``before_run`` starts a span "run <task>"
(kind CONSUMER) whose parent is that context and which links to it; ``after_run`` ends
it, with an error status and the exception recorded for a failed run. Metrics stay
Prometheus (docs/metrics.md).
"""

from __future__ import annotations

import threading

from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ..hooks import Hooks, JobEvent, registry

_PROPAGATOR = TraceContextTextMapPropagator()


class RunSpans:
    """The hooks of one installation: the tracer, and each job thread's open span."""

    def __init__(self, provider: TracerProvider | None = None) -> None:
        self.tracer = trace.get_tracer("scheduler", tracer_provider=provider)
        self._open = threading.local()

    def before_enqueue(self, event: JobEvent) -> None:
        """Carry the enqueuing code's trace context in the job's headers."""
        _PROPAGATOR.inject(event.headers)

    def before_run(self, event: JobEvent) -> None:
        """Start the run's span, a child of (and linked to) the enqueue's context."""
        parent = _PROPAGATOR.extract(event.headers)
        enqueued = trace.get_current_span(parent).get_span_context()
        links = [Link(enqueued)] if enqueued.is_valid else []
        span = self.tracer.start_span(
            f"run {event.task}", parent, SpanKind.CONSUMER, _attributes(event), links
        )
        self._open.span = span

    def after_run(self, event: JobEvent) -> None:
        """End the run's span with its outcome."""
        span: Span | None = getattr(self._open, "span", None)
        self._open.span = None
        if span is None:
            return  # the run never started (its task cannot be run)
        span.set_attribute("scheduler.status", event.status or "")
        if event.exception is not None:
            span.record_exception(event.exception)
            span.set_status(Status(StatusCode.ERROR, event.error))
        span.end()


def install(hooks: Hooks | None = None, provider: TracerProvider | None = None) -> RunSpans:
    """Trace runs through ``hooks`` (default: the process-wide registry) with the tracer
    of ``provider`` (default: the global one); returns the hooks' owner."""
    spans = RunSpans(provider)
    target = registry if hooks is None else hooks
    target.add("before_enqueue", spans.before_enqueue)
    target.add("before_run", spans.before_run)
    target.add("after_run", spans.after_run)
    return spans


def _attributes(event: JobEvent) -> dict[str, str | int]:
    attributes: dict[str, str | int] = {
        "messaging.system": "scheduler",
        "messaging.message.id": event.id,
        "messaging.destination.name": event.queue,
        "scheduler.task": event.task,
        "scheduler.attempt": event.attempt,
    }
    if event.schedule is not None:
        attributes["scheduler.schedule"] = event.schedule
    return attributes
