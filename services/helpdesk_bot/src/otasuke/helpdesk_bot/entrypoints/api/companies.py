"""Companies: registered by a partner operator; every other service learns of them from the event."""
from __future__ import annotations

import msgspec
from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException

from otasuke.events import AggregateRef, EventMeta, Tenant, execute
from otasuke.events.schemas.enrolment import CompanyRegistered
from otasuke.platform.auth import Principal, Role, principal_of, require_company, require_role
from otasuke.platform.companies import get_company
from otasuke.platform.service import Runtime

from ...domain import company


class CompanyIn(msgspec.Struct, kw_only=True):
    company_id: str
    name: str
    industry: str
    employees: int
    prefecture: str
    revenue_band: str | None = None


class CompanyOut(msgspec.Struct, kw_only=True):
    company_id: str
    partner_id: str
    name: str
    industry: str
    employees: int
    prefecture: str
    revenue_band: str | None = None


def _out(row) -> CompanyOut:
    return CompanyOut(**{f: row[f] for f in CompanyOut.__struct_fields__})


class CompanyController(Controller):
    path = "/api/v1/companies"
    tags = ["companies"]

    @post("/", status_code=201)
    async def register(self, data: CompanyIn, request: Request, runtime: Runtime) -> CompanyOut:
        principal: Principal = principal_of(request)
        require_role(principal, Role.OPERATOR)
        tenant = Tenant(principal.partner_id, data.company_id)
        existing = await get_company(runtime.pool, data.company_id)
        if existing is not None and existing["partner_id"] != principal.partner_id:
            # Company ids are global; never reveal or touch another partner's company.
            raise NotFoundException("company id already in use")
        command = CompanyRegistered(**msgspec.structs.asdict(data))
        ref = AggregateRef("enrolment", tenant, company.AGGREGATE_TYPE, data.company_id)
        outcome = await execute(
            runtime.store, company.COMPANY, ref, lambda s: company.register(s, command),
            meta=EventMeta(actor=principal.subject),
        )
        await runtime.wait_for("helpdesk_bot.companies", outcome.version)
        return CompanyOut(partner_id=principal.partner_id, **msgspec.structs.asdict(data))

    @get("/")
    async def list_companies(self, request: Request, runtime: Runtime) -> list[CompanyOut]:
        principal = principal_of(request)
        if principal.is_partner_staff:
            rows = await runtime.pool.fetch(
                "SELECT * FROM companies WHERE partner_id=$1 ORDER BY company_id", principal.partner_id
            )
        else:
            rows = await runtime.pool.fetch(
                "SELECT * FROM companies WHERE partner_id=$1 AND company_id=$2", principal.partner_id, principal.company_id
            )
        return [_out(r) for r in rows]

    @get("/{company_id:str}")
    async def get_one(self, company_id: str, request: Request, runtime: Runtime) -> CompanyOut:
        row = await get_company(runtime.pool, company_id)
        if row is None:
            raise NotFoundException("not found")
        require_company(principal_of(request), row["partner_id"], row["company_id"])
        return _out(row)
