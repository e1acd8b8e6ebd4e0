"""Results for people: a company's history, its results page and PDF, and the partner's table 5."""
from __future__ import annotations

from datetime import datetime

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException

from otasuke.platform.auth import principal_of, require_company, require_partner_staff
from otasuke.platform.companies import get_company
from otasuke.platform.service import Runtime

from ...application.company_report import render_company_report
from ...application.results import CampaignPoint, PartnerMeasures, company_history, partner_measures


async def _company(runtime: Runtime, request: Request, company_id: str):
    row = await get_company(runtime.pool, company_id)
    if row is None:
        raise NotFoundException("not found")
    require_company(principal_of(request), row["partner_id"], row["company_id"])
    return row


@get("/api/v1/companies/{company_id:str}/training/history", tags=["results"])
async def history(company_id: str, request: Request, runtime: Runtime) -> list[CampaignPoint]:
    """One point per campaign, oldest first: how the company's rates move over time."""
    company = await _company(runtime, request, company_id)
    return await company_history(runtime.pool, company["partner_id"], company_id)


@get("/api/v1/companies/{company_id:str}/training/report", tags=["results"])
async def report_page(company_id: str, request: Request, runtime: Runtime, format: str = "html") -> Response:
    """The company's results page (``format=html``) or the same as a PDF (``format=pdf``)."""
    company = await _company(runtime, request, company_id)
    if format not in ("html", "pdf"):
        raise NotFoundException("format must be html or pdf")
    html = await render_company_report(runtime.pool, company)
    if format == "html":
        return Response(html, media_type="text/html; charset=utf-8")
    import asyncio

    from otasuke.platform.documents import html_to_pdf

    pdf = await asyncio.to_thread(html_to_pdf, html)
    return Response(
        pdf, media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="training-{company_id}.pdf"'},
    )


@get("/api/v1/partner/training/measures", tags=["results"])
async def measures(request: Request, runtime: Runtime, since: datetime | None = None) -> PartnerMeasures:
    """The seed report's table 5 for the caller's partner: per-company mean and per-mail rates."""
    principal = principal_of(request)
    require_partner_staff(principal)
    return await partner_measures(runtime.pool, principal.partner_id, since)


REPORT_ROUTES = [history, report_page, measures]
