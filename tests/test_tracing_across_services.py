"""One trace follows a request: HTTP on the help desk → event → projection in another service."""
import asyncio

import httpx
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


async def test_trace_context_crosses_http_nats_and_services(start_service, auth_headers):
    helpdesk = await start_service("helpdesk_bot")
    diagnosis = await start_service("diagnosis")
    exporter = InMemorySpanExporter()
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))

    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {**auth_headers("operator", partner_id="chubu"), "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    async with httpx.AsyncClient(base_url=helpdesk.url) as client:
        resp = await client.post("/api/v1/companies", headers=headers, json={
            "company_id": "ena-foods", "name": "恵那食品", "industry": "food", "employees": 12, "prefecture": "岐阜県"})
        assert resp.status_code == 201

    def spans_named(prefix):
        return [s for s in exporter.get_finished_spans() if s.name.startswith(prefix)]

    for _ in range(200):
        handled = [s for s in spans_named("handle enrolment.company_registered")
                   if s.attributes.get("otasuke.consumer") == "diagnosis.companies"]
        if handled:
            break
        await asyncio.sleep(0.05)
    assert handled, "diagnosis never handled the event"
    assert format(handled[0].context.trace_id, "032x") == trace_id
    published = spans_named("publish enrolment.company_registered")
    assert published and format(published[0].context.trace_id, "032x") == trace_id
    # The diagnosis service's read model has the company the help desk registered.
    assert await diagnosis.runtime.pool.fetchval("SELECT name FROM companies WHERE company_id='ena-foods'") == "恵那食品"
