"""Policies: list a company's cover, read one, print it; run due renewals."""
from __future__ import annotations

from datetime import date

import msgspec
from litestar import Controller, Response, get, post
from litestar.exceptions import ValidationException

from otasuke.events.schemas.insurance import CoverLimit
from otasuke.platform.auth import Role
from otasuke.platform.service import Runtime

from ...application.bundled_cover import renew_due_policies
from .access import Caller
from .documents import html_response, pdf_response, render


class PolicyOut(msgspec.Struct, kw_only=True):
    id: str
    company_id: str
    tier: str
    """``bundled`` (first floor, comes with UTM/EDR) or ``top_up`` (second floor, bought from a quote)."""
    status: str
    product: str
    starts_on: date
    ends_on: date
    ended_on: date | None
    aggregate_limit_yen: int
    annual_premium_yen: int
    covers: list[CoverLimit]
    service: str | None
    quote_id: str | None
    table_version: str
    renewals: int


def policy_out(row) -> PolicyOut:
    return PolicyOut(
        id=row["policy_id"], company_id=row["company_id"], tier=row["tier"], status=row["status"], product=row["product"],
        starts_on=row["starts_on"], ends_on=row["ends_on"], ended_on=row["ended_on"],
        aggregate_limit_yen=row["aggregate_limit_yen"], annual_premium_yen=row["annual_premium_yen"],
        covers=msgspec.json.decode(row["covers"], type=list[CoverLimit]), service=row["service"],
        quote_id=row["quote_id"], table_version=row["table_version"], renewals=row["renewals"],
    )


class RenewalsOut(msgspec.Struct):
    renewed: list[str]


class PolicyController(Controller):
    path = "/api/v1/policies"
    tags = ["policies"]

    @get("/")
    async def list_policies(self, caller: Caller, runtime: Runtime, company_id: str | None = None) -> list[PolicyOut]:
        """A company's policies (bundled and top-up). Partner staff may omit company_id to list the partner's book."""
        scope = await caller.scope(company_id)
        rows = await runtime.pool.fetch(
            """SELECT * FROM ins_policies WHERE partner_id=$1 AND ($2::text IS NULL OR company_id=$2)
               ORDER BY company_id, tier, starts_on""",
            *scope,
        )
        return [policy_out(r) for r in rows]

    @get("/{policy_id:str}")
    async def get_policy(self, policy_id: str, caller: Caller) -> PolicyOut:
        return policy_out(await caller.row("ins_policies", policy_id))

    async def _html(self, caller: Caller, runtime: Runtime, policy_id: str) -> tuple[str, PolicyOut]:
        p = policy_out(await caller.row("ins_policies", policy_id))
        company = await runtime.pool.fetchrow("SELECT * FROM companies WHERE company_id=$1", p.company_id)
        return render("policy.html", policy=p, company=company), p

    @get("/{policy_id:str}/document.html")
    async def policy_html(self, policy_id: str, caller: Caller, runtime: Runtime) -> Response:
        html, _ = await self._html(caller, runtime, policy_id)
        return html_response(html)

    @get("/{policy_id:str}/document.pdf")
    async def policy_pdf(self, policy_id: str, caller: Caller, runtime: Runtime) -> Response:
        html, p = await self._html(caller, runtime, policy_id)
        return await pdf_response(html, f"policy-{p.id}.pdf")

    @post("/renewals", status_code=200)
    async def run_renewals(self, caller: Caller, runtime: Runtime, today: date | None = None) -> RenewalsOut:
        """Renew bundled cover that reached its end while the service is still active (also runs by itself daily)."""
        caller.allow(Role.OPERATOR, Role.SERVICE)
        if today is not None and today > date.today():
            # Renewing ahead of time would start cover periods that have not begun.
            raise ValidationException("today may not be in the future")
        renewed = await renew_due_policies(runtime.store, runtime.pool, today or date.today())
        return RenewalsOut(renewed)
