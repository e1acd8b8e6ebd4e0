"""OpenTelemetry for events: spans for publish/handle, W3C trace context in NATS headers.

``configure(service, exporter)`` sets the tracer provider once per process;
the exporter is ``otlp``, ``console`` or ``none`` (the default, which still
creates spans and propagates context so one trace can follow a request
across services as soon as an exporter is switched on).

Sampling: traces started by a request or a command are always recorded. The
high-volume pipeline (one trace per detection lot, started with
``span(..., hot_path=True)``) records only ``sample_ratio`` of its traces
(``OTASUKE_TRACE_SAMPLE_RATIO``, default 0.01), decided once per trace from
its id; every span below follows that decision (ParentBased), across
services too, since the decision travels in the ``traceparent`` flags. An
unrecorded span is a cheap placeholder that still carries the trace id.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler, SamplingResult, TraceIdRatioBased
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("otasuke.events")
_configured = False

HOT_PATH = "otasuke.hot_path"
DEFAULT_SAMPLE_RATIO = 0.01

_KINDS = {
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
    "internal": SpanKind.INTERNAL,
    "server": SpanKind.SERVER,
    "client": SpanKind.CLIENT,
}


class PipelineSampler(Sampler):
    """Root spans marked ``hot_path`` are kept at ``ratio`` (by trace id); other root spans always."""

    def __init__(self, ratio: float):
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"trace sample ratio must be between 0 and 1, not {ratio}")
        self.ratio = ratio
        self._hot = TraceIdRatioBased(ratio)

    def should_sample(
        self, parent_context, trace_id: int, name: str, kind: SpanKind | None = None,
        attributes: Attributes = None, links: Sequence[Link] | None = None, trace_state=None,
    ) -> SamplingResult:
        sampler = self._hot if attributes and attributes.get(HOT_PATH) else ALWAYS_ON
        return sampler.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"PipelineSampler{{hot_path={self.ratio}}}"


def sample_ratio_from_env() -> float:
    value = os.environ.get("OTASUKE_TRACE_SAMPLE_RATIO")
    return float(value) if value not in (None, "") else DEFAULT_SAMPLE_RATIO


def configure(
    service_name: str, exporter: str = "none", endpoint: str | None = None, sample_ratio: float | None = None
) -> TracerProvider:
    """Install a tracer provider for this process (idempotent); ``sample_ratio`` applies to hot-path traces."""
    global _configured
    current = trace.get_tracer_provider()
    if _configured and isinstance(current, TracerProvider):
        return current
    ratio = sample_ratio_from_env() if sample_ratio is None else sample_ratio
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}), sampler=ParentBased(root=PipelineSampler(ratio))
    )
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
def span(
    name: str, *, kind: str = "internal", parent_headers: Mapping[str, str] | None = None, hot_path: bool = False,
    **attributes,
) -> Iterator[trace.Span]:
    """A span; with ``parent_headers`` it continues the trace carried by a message.

    ``hot_path`` marks a new trace of the high-volume pipeline, recorded at the configured sample ratio.
    """
    if parent_headers is None and not hot_path:
        current = trace.get_current_span()
        sc = current.get_span_context()
        if sc.is_valid and not sc.trace_flags.sampled:
            # Inside a trace that is not recorded a child would be an unrecorded placeholder too:
            # skip making one; the trace id and the "not sampled" flag still propagate from ``current``.
            yield current
            return
    ctx = context_from_headers(parent_headers) if parent_headers is not None else None
    token = otel_context.attach(ctx) if ctx is not None else None
    try:
        with _tracer.start_as_current_span(name, kind=_KINDS[kind], attributes={HOT_PATH: True} if hot_path else None) as sp:
            if sp.is_recording():  # an unsampled span would drop them anyway
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
