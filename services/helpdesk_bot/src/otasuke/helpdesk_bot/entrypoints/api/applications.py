"""Service applications and their status: the form, the operators' updates, and the bot's 「工事はいつ？」."""
from __future__ import annotations

import json
from datetime import date, datetime

import msgspec
from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException, ValidationException

from otasuke.events import Tenant
from otasuke.events.schemas.enrolment import SERVICES, PreferredDate, Service
from otasuke.platform.auth import Principal, principal_of, require_company, require_partner_staff
from otasuke.platform.companies import get_company
from otasuke.platform.service import Runtime

from ...application import enrolment
from ...domain.application_form import date_ja
from ...domain.messages_ja import SERVICE_JA, STATUS_JA, application_summary


class ApplicationIn(msgspec.Struct, kw_only=True):
    service: Service
    company_id: str | None = None
    """Required for operators and services; a company admin applies for its own company."""
    channel: str = "web"
    devices: int | None = None
    note: str | None = None
    preferred_dates: list[PreferredDate] = []
    contact_name: str | None = None
    contact_phone: str | None = None
    command_id: str | None = None


class StatusIn(msgspec.Struct, kw_only=True):
    status: str
    scheduled_for: datetime | None = None
    reason: str | None = None
    command_id: str | None = None


class ContactIn(msgspec.Struct, kw_only=True):
    channel: str
    summary: str
    command_id: str | None = None


def _out(r) -> dict:
    out = {k: r[k] for k in r.keys()}
    dates = out.get("preferred_dates") or "[]"
    out["preferred_dates"] = json.loads(dates) if isinstance(dates, str) else dates
    out["preferred_dates_ja"] = [date_ja(date.fromisoformat(d["day"]), d.get("slot", "any")) for d in out["preferred_dates"]]
    out["service_ja"] = SERVICE_JA.get(r["service"], r["service"])
    out["status_ja"] = STATUS_JA.get(r["status"], r["status"])
    out["summary_ja"] = application_summary(r["service"], r["status"], r["scheduled_for"], r["reason"])
    return out


async def _company_for(runtime: Runtime, p: Principal, company_id: str | None):
    company_id = company_id or p.company_id
    if not company_id:
        raise ValidationException("company_id is required")
    row = await get_company(runtime.pool, company_id)
    if row is None:
        raise NotFoundException("company not found")
    require_company(p, row["partner_id"], row["company_id"])
    return row


async def _application(runtime: Runtime, request: Request, application_id: str):
    row = await runtime.pool.fetchrow("SELECT * FROM applications WHERE application_id=$1", application_id)
    if row is None:
        raise NotFoundException("not found")
    require_company(principal_of(request), row["partner_id"], row["company_id"])
    return row


class ApplicationController(Controller):
    path = "/api/v1/applications"
    tags = ["applications"]

    @post("/", status_code=201)
    async def apply(self, data: ApplicationIn, request: Request, runtime: Runtime) -> dict:
        p = principal_of(request)
        company = await _company_for(runtime, p, data.company_id)
        if data.service not in SERVICES:
            raise ValidationException(f"service must be one of {', '.join(SERVICES)}")
        application_id = await enrolment.apply(
            runtime, Tenant(company["partner_id"], company["company_id"]), service=data.service, channel=data.channel,
            devices=data.devices, note=data.note, actor=p.subject, command_id=data.command_id,
            preferred_dates=data.preferred_dates, contact_name=data.contact_name, contact_phone=data.contact_phone)
        return _out(await _application(runtime, request, application_id))

    @get("/")
    async def list_applications(self, request: Request, runtime: Runtime, company_id: str | None = None) -> list[dict]:
        p = principal_of(request)
        if company_id is None and p.is_partner_staff:
            rows = await runtime.pool.fetch(
                "SELECT * FROM applications WHERE partner_id=$1 ORDER BY updated_at DESC LIMIT 500", p.partner_id)
        else:
            company = await _company_for(runtime, p, company_id)
            rows = await runtime.pool.fetch(
                "SELECT * FROM applications WHERE company_id=$1 AND partner_id=$2 ORDER BY applied_at",
                company["company_id"], company["partner_id"])
        return [_out(r) for r in rows]

    @get("/{application_id:str}")
    async def get_application(self, application_id: str, request: Request, runtime: Runtime) -> dict:
        return await _detail(runtime, request, application_id)

    @post("/{application_id:str}/status", status_code=200)
    async def change_status(self, application_id: str, data: StatusIn, request: Request, runtime: Runtime) -> dict:
        row = await _application(runtime, request, application_id)
        p = principal_of(request)
        require_partner_staff(p, row["partner_id"])
        await enrolment.change_status(runtime, row, status=data.status, scheduled_for=data.scheduled_for,
                                      reason=data.reason, actor=p.subject, command_id=data.command_id)
        return _out(await _application(runtime, request, application_id))

    @post("/{application_id:str}/contacts", status_code=201)
    async def record_contact(self, application_id: str, data: ContactIn, request: Request, runtime: Runtime) -> dict:
        row = await _application(runtime, request, application_id)
        p = principal_of(request)
        require_partner_staff(p, row["partner_id"])
        await enrolment.record_contact(runtime, row, operator_id=p.subject, channel=data.channel, summary=data.summary,
                                       command_id=data.command_id)
        return await _detail(runtime, request, application_id)


async def _detail(runtime: Runtime, request: Request, application_id: str) -> dict:
    out = _out(await _application(runtime, request, application_id))
    out["history"] = [dict(r) for r in await runtime.pool.fetch(
        "SELECT at, status, scheduled_for, reason, by FROM application_history WHERE application_id=$1 ORDER BY seq",
        application_id)]
    if principal_of(request).is_partner_staff:
        out["contacts"] = [dict(r) for r in await runtime.pool.fetch(
            "SELECT at, operator_id, channel, summary FROM customer_contacts WHERE application_id=$1 ORDER BY seq",
            application_id)]
    return out
