"""OpenTelemetry for events: spans for publish/handle, W3C trace context in NATS headers.

``configure(service, exporter)`` sets the tracer provider once per process;
the exporter is ``otlp``, ``console`` or ``none`` (the default, which still
creates spans and propagates context so one trace can follow a request
across services as soon as an exporter is switched on).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("otasuke.events")
_configured = False

_KINDS = {
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
    "internal": SpanKind.INTERNAL,
    "server": SpanKind.SERVER,
    "client": SpanKind.CLIENT,
}


def configure(service_name: str, exporter: str = "none", endpoint: str | None = None) -> TracerProvider:
    """Install a tracer provider for this process (idempotent)."""
    global _configured
    current = trace.get_tracer_provider()
    if _configured and isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()))
    elif exporter != "none":
        raise ValueError(f"unknown trace exporter {exporter!r}: use otlp, console or none")
    trace.set_tracer_provider(provider)
    _configured = True
    return provider


def current_trace_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier


def context_from_headers(headers: Mapping[str, str] | None):
    return _propagator.extract(dict(headers or {}))


@contextlib.contextmanager
def span(name: str, *, kind: str = "internal", parent_headers: Mapping[str, str] | None = None, **attributes) -> Iterator[trace.Span]:
    """A span; with ``parent_headers`` it continues the trace carried by a message."""
    ctx = context_from_headers(parent_headers) if parent_headers is not None else None
    token = otel_context.attach(ctx) if ctx is not None else None
    try:
        with _tracer.start_as_current_span(name, kind=_KINDS[kind]) as sp:
            for key, value in attributes.items():
                if value is not None:
                    sp.set_attribute(f"otasuke.{key}", str(value))
            yield sp
    finally:
        if token is not None:
            otel_context.detach(token)


def current_trace_id() -> str | None:
    sc = trace.get_current_span().get_span_context()
    return format(sc.trace_id, "032x") if sc.is_valid else None
