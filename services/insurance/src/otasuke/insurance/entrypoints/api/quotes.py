"""Top-up quotes: priced from the tables and the latest diagnosis, explained, printed, accepted."""
from __future__ import annotations

from datetime import date

import msgspec
from litestar import Controller, Response, get, post

from otasuke.events import Tenant
from otasuke.events.schemas.insurance import CoverLimit, DiagnosisSnapshot, PriceStep, QuoteCondition, QuoteIssued
from otasuke.platform.auth import Role
from otasuke.platform.service import Runtime

from ...application.book import BOOK
from ...application.quoting import accept_quote, request_quote
from ...tables import coverage_texts
from .access import Caller
from .documents import html_response, pdf_response, render


class QuoteIn(msgspec.Struct, kw_only=True):
    company_id: str
    industry: str
    """A table key (``retail``) or its Japanese name (小売業)."""
    revenue_band: str
    """A table key (``100m_500m``) or its Japanese name (1億〜5億円)."""
    plan: str = "standard"
    request_id: str | None = None
    """Optional: the same request_id returns the same quote (safe retries)."""


class QuoteOut(msgspec.Struct, kw_only=True):
    id: str
    company_id: str
    premium_yen: int
    industry: str
    revenue_band: str
    plan: str
    table_version: str
    diagnosis: DiagnosisSnapshot | None
    """The diagnosis the price used, or null if the company has none yet."""
    conditions: list[QuoteCondition]
    steps: list[PriceStep]
    covers: list[CoverLimit]
    aggregate_limit_yen: int
    valid_until: date
    not_covered_ja: list[str]
    accepted_policy_id: str | None = None


def quote_out(company_id: str, q: QuoteIssued, accepted: str | None = None) -> QuoteOut:
    return QuoteOut(
        id=q.quote_id, company_id=company_id, premium_yen=q.premium_yen, industry=q.industry, revenue_band=q.revenue_band,
        plan=q.plan, table_version=q.table_version, diagnosis=q.diagnosis, conditions=q.conditions, steps=q.steps,
        covers=q.covers, aggregate_limit_yen=q.aggregate_limit_yen, valid_until=q.valid_until,
        not_covered_ja=coverage_texts().not_covered, accepted_policy_id=accepted,
    )


class AcceptedOut(msgspec.Struct):
    quote_id: str
    policy_id: str


class QuoteController(Controller):
    path = "/api/v1/quotes"
    tags = ["quotes"]

    @post("/", status_code=201)
    async def create(self, data: QuoteIn, caller: Caller, runtime: Runtime) -> QuoteOut:
        tenant = await caller.company(data.company_id, Role.COMPANY_ADMIN, Role.OPERATOR, Role.SERVICE)
        issued, seq = await request_quote(
            runtime, tenant=tenant, industry=data.industry, revenue_band=data.revenue_band, plan=data.plan,
            actor=caller.subject, request_id=data.request_id, today=date.today(),
        )
        await runtime.wait_for(BOOK, seq)
        return quote_out(tenant.company_id, issued)

    @get("/")
    async def list_quotes(self, caller: Caller, runtime: Runtime, company_id: str | None = None) -> list[QuoteOut]:
        tenant = await caller.company(company_id)
        rows = await runtime.pool.fetch(
            "SELECT * FROM ins_quotes WHERE company_id=$1 AND partner_id=$2 ORDER BY seq DESC", tenant.company_id, tenant.partner_id
        )
        return [self._decoded(r) for r in rows]

    @staticmethod
    def _decoded(row) -> QuoteOut:
        return quote_out(row["company_id"], msgspec.json.decode(row["body"], type=QuoteIssued), row["accepted_policy_id"])

    @get("/{quote_id:str}")
    async def get_quote(self, quote_id: str, caller: Caller) -> QuoteOut:
        return self._decoded(await caller.row("ins_quotes", quote_id))

    async def _html(self, caller: Caller, runtime: Runtime, quote_id: str) -> tuple[str, QuoteOut]:
        out = self._decoded(await caller.row("ins_quotes", quote_id))
        company = await runtime.pool.fetchrow("SELECT * FROM companies WHERE company_id=$1", out.company_id)
        return render("quote.html", quote=out, company=company), out

    @get("/{quote_id:str}/document.html")
    async def quote_html(self, quote_id: str, caller: Caller, runtime: Runtime) -> Response:
        html, _ = await self._html(caller, runtime, quote_id)
        return html_response(html)

    @get("/{quote_id:str}/document.pdf")
    async def quote_pdf(self, quote_id: str, caller: Caller, runtime: Runtime) -> Response:
        html, out = await self._html(caller, runtime, quote_id)
        return await pdf_response(html, f"quote-{out.id}.pdf")

    @post("/{quote_id:str}/accept", status_code=201)
    async def accept(self, quote_id: str, caller: Caller, runtime: Runtime) -> AcceptedOut:
        """The company takes the top-up cover: a top-up policy is issued from the quote."""
        row = await caller.row("ins_quotes", quote_id, Role.COMPANY_ADMIN, Role.OPERATOR)
        policy_id, seq = await accept_quote(
            runtime.store, tenant=Tenant(row["partner_id"], row["company_id"]), quote_id=quote_id,
            actor=caller.subject, today=date.today(),
        )
        await runtime.wait_for(BOOK, seq)
        return AcceptedOut(quote_id, policy_id)
