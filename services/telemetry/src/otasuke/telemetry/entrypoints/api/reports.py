"""The monthly report of a company: JSON for tools, HTML for reading, PDF for filing."""
from __future__ import annotations

import asyncio
import re
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.exceptions import HTTPException

from otasuke.platform import documents
from otasuke.platform.service import Runtime

from ...application import monthly_report
from .tenancy import company_for

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


async def _report(company_id: str, month: str, request: Request, runtime: Runtime):
    if not _MONTH.match(month):
        raise HTTPException(status_code=400, detail="month must look like 2025-01")
    await company_for(request, runtime, company_id)
    return await monthly_report.build(runtime.pool, company_id, month)


class ReportController(Controller):
    path = "/api/v1/companies/{company_id:str}/reports"
    tags = ["reports"]

    @get("/{month:str}")
    async def report_json(self, company_id: str, month: str, request: Request, runtime: Runtime) -> dict[str, Any]:
        return (await _report(company_id, month, request, runtime)).as_dict()

    @get("/{month:str}/html")
    async def report_html(self, company_id: str, month: str, request: Request, runtime: Runtime) -> Response:
        r = await _report(company_id, month, request, runtime)
        html = await asyncio.to_thread(monthly_report.render_html, r)
        return Response(html, media_type="text/html; charset=utf-8")

    @get("/{month:str}/pdf")
    async def report_pdf(self, company_id: str, month: str, request: Request, runtime: Runtime) -> Response:
        r = await _report(company_id, month, request, runtime)
        html = await asyncio.to_thread(monthly_report.render_html, r)
        pdf = await asyncio.to_thread(documents.html_to_pdf, html)
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="report-{company_id}-{month}.pdf"'})
