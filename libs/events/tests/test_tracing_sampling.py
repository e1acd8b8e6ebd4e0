"""Sampling: hot-path traces are kept at the configured ratio, request traces always, and the decision travels."""
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased

from otasuke.events import tracing


@pytest.fixture
def traced(monkeypatch):
    """Spans of ``tracing.span`` go to a provider with the given hot-path ratio; returns the finished spans."""
    def use(ratio: float) -> InMemorySpanExporter:
        exporter = InMemorySpanExporter()
        provider = TracerProvider(sampler=ParentBased(root=tracing.PipelineSampler(ratio)))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        monkeypatch.setattr(tracing, "_tracer", provider.get_tracer("test"))
        return exporter

    return use


def sampled_flag(headers) -> bool:
    return bool(int(headers["traceparent"].rsplit("-", 1)[1], 16) & 0x01)


def names(exporter) -> list[str]:
    return sorted(s.name for s in exporter.get_finished_spans())


def test_unsampled_detection_lot_records_nothing_but_still_carries_its_trace(traced):
    exporter = traced(0.0)
    with tracing.span("detect lot", kind="consumer", hot_path=True, messages=3):
        lot_trace = tracing.current_trace_id()
        with tracing.span("publish telemetry.alert_raised", kind="producer"):
            headers = tracing.current_trace_headers()
    with tracing.span("handle telemetry.alert_raised", kind="consumer", parent_headers=headers):
        handled_trace = tracing.current_trace_id()
    assert names(exporter) == []  # no span per alert event
    assert not sampled_flag(headers)  # "not sampled" travels with the event
    assert lot_trace and handled_trace == lot_trace  # the trace id still links them


def test_sampled_detection_lot_is_one_trace_with_its_events_below(traced):
    exporter = traced(1.0)
    with tracing.span("detect lot", kind="consumer", hot_path=True):
        with tracing.span("publish telemetry.alert_raised", kind="producer"):
            headers = tracing.current_trace_headers()
    with tracing.span("handle telemetry.alert_raised", kind="consumer", parent_headers=headers):
        pass
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"detect lot", "publish telemetry.alert_raised", "handle telemetry.alert_raised"}
    assert sampled_flag(headers) and len({s.context.trace_id for s in spans.values()}) == 1
    assert spans["publish telemetry.alert_raised"].parent.span_id == spans["detect lot"].context.span_id


def test_request_traces_are_always_recorded_whatever_the_ratio(traced):
    exporter = traced(0.0)
    with tracing.span("POST /api/v1/companies", kind="server"):
        with tracing.span("publish enrolment.company_registered", kind="producer"):
            headers = tracing.current_trace_headers()
    with tracing.span("handle enrolment.company_registered", kind="consumer", parent_headers=headers, seq=7):
        pass
    assert names(exporter) == ["POST /api/v1/companies", "handle enrolment.company_registered",
                               "publish enrolment.company_registered"]
    handled = [s for s in exporter.get_finished_spans() if s.name.startswith("handle")][0]
    assert handled.attributes["otasuke.seq"] == "7"


def test_a_ratio_outside_zero_to_one_is_refused_with_the_setting_named(monkeypatch):
    from otasuke.platform.settings import Settings

    monkeypatch.setenv("OTASUKE_TRACE_SAMPLE_RATIO", "5")
    with pytest.raises(ValueError, match="OTASUKE_TRACE_SAMPLE_RATIO"):
        Settings.from_env()
    monkeypatch.setenv("OTASUKE_TRACE_SAMPLE_RATIO", "0.25")
    assert Settings.from_env().trace_sample_ratio == 0.25
