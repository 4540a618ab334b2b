"""Traces that follow one request across services (OpenTelemetry, W3C trace context).

A request's span (``OpenTelemetryMiddleware``, or webhook-ingest's own for its fast lane) is
current while the request writes its events; ``Outbox.row`` stores its ``traceparent`` in the
row's headers, the relay publishes those headers with the event, and FastStream's telemetry
middleware continues the trace in each consumer, whose own events carry it on.

Spans are exported over OTLP (HTTP) when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; otherwise
none are recorded, though a trace context that arrives is still passed on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

TRACER = trace.get_tracer("billing_kit")
UNTRACED_PATHS = "livez,readyz,healthz,metrics"
"""Probes and scrapes: frequent, and of no interest in a trace."""


def configure_tracing(service_name: str) -> None:
    """Export this process's spans when a collector is configured; a tracer provider the
    process set up already (a test's) is kept."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    name = os.environ.get("OTEL_SERVICE_NAME") or service_name
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


def trace_headers() -> dict[str, str]:
    """The current trace context as W3C headers (``traceparent``), empty outside a trace."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def message_span(destination: str, headers: Sequence[tuple[str, bytes]]) -> Iterator[trace.Span]:
    """The consumer span of one message of a batch, continuing the trace its headers carry
    (the batch's own span, FastStream's, starts a trace of its own and links to them)."""
    carrier = {name: value.decode(errors="replace") for name, value in headers}
    batch = trace.get_current_span().get_span_context()
    with TRACER.start_as_current_span(
        f"{destination} process",
        context=propagate.extract(carrier) if carrier else None,
        kind=trace.SpanKind.CONSUMER,
        links=[trace.Link(batch)] if batch.is_valid else None,
        attributes={"messaging.system": "kafka", "messaging.destination.name": destination},
    ) as span:
        yield span


@contextmanager
def batch_span(
    destination: str,
    group: str,
    consumer: str,
    messages: Sequence[tuple[object, Sequence[tuple[str, bytes]]]],
) -> Iterator[trace.Span]:
    """The span of a batch applied together (``Batched``) by ``consumer`` of consumer group
    ``group``: linked to the trace of each of its messages (their headers), naming their
    event ids."""
    links = []
    for _, headers in messages:
        carrier = {name: value.decode(errors="replace") for name, value in headers}
        context = trace.get_current_span(propagate.extract(carrier)).get_span_context()
        if context.is_valid:
            links.append(trace.Link(context))
    with TRACER.start_as_current_span(
        f"apply {destination}",
        links=links,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": destination,
            "messaging.consumer.group.name": group,
            "billing.consumer": consumer,
            "messaging.batch.message_count": len(messages),
            "event.ids": [str(event_id) for event_id, _ in messages],
        },
    ) as span:
        yield span


@contextmanager
def server_span(method: str, route: str) -> Iterator[trace.Span]:
    """The span of a request answered outside FastAPI's middleware."""
    with TRACER.start_as_current_span(
        f"{method} {route}",
        kind=trace.SpanKind.SERVER,
        attributes={"http.request.method": method, "http.route": route},
    ) as span:
        yield span
