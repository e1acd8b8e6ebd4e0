"""Tickets for the operator console: partner-scoped for operators, own company for company admins."""
from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException

from otasuke.platform.auth import principal_of, require_company, require_partner_staff
from otasuke.platform.companies import active_services
from otasuke.platform.service import Runtime

from ...application import tickets
from ...domain.business_hours import business_time_between


class ReplyIn(msgspec.Struct):
    text: str
    command_id: str | None = None


class StatusIn(msgspec.Struct):
    status: str
    command_id: str | None = None


class DispatchIn(msgspec.Struct):
    reason: str
    requested_for: datetime | None = None
    command_id: str | None = None


class CloseIn(msgspec.Struct):
    resolution: str
    command_id: str | None = None


def _ticket(r) -> dict:
    out = {k: r[k] for k in r.keys()}
    now = datetime.now(tz=r["opened_at"].tzinfo)
    answered = r["first_response_at"]
    out["sla"] = {
        "first_response_due": r["first_response_due"],
        "met": None if answered is None else answered <= r["first_response_due"],
        "overdue": answered is None and now > r["first_response_due"],
        "business_minutes_to_first_response": None if answered is None
        else round(business_time_between(r["opened_at"], answered).total_seconds() / 60, 1),
    }
    return out


async def _visible(runtime: Runtime, request: Request, ticket_id: str):
    row = await tickets.ticket_row(runtime, ticket_id)
    if row is None:
        raise NotFoundException("not found")
    require_company(principal_of(request), row["partner_id"], row["company_id"])
    return row


async def _staff_ticket(runtime: Runtime, request: Request, ticket_id: str):
    row = await _visible(runtime, request, ticket_id)
    require_partner_staff(principal_of(request), row["partner_id"])
    return row


class TicketController(Controller):
    path = "/api/v1/tickets"
    tags = ["tickets"]

    @get("/")
    async def list_tickets(self, request: Request, runtime: Runtime, status: str = "active") -> list[dict]:
        p = principal_of(request)
        where, args = ["partner_id=$1"], [p.partner_id]
        if not p.is_partner_staff:
            where.append("company_id=$2")
            args.append(p.company_id)
        if status == "active":
            where.append("status <> 'closed'")
        elif status != "all":
            where.append(f"status=${len(args) + 1}")
            args.append(status)
        rows = await runtime.pool.fetch(
            f"SELECT t.*, c.name AS company_name FROM tickets t LEFT JOIN companies c USING (company_id, partner_id) "
            f"WHERE {' AND '.join('t.' + w for w in where)} ORDER BY opened_at DESC LIMIT 500", *args)
        return [_ticket(r) for r in rows]

    @get("/{ticket_id:str}")
    async def get_ticket(self, ticket_id: str, request: Request, runtime: Runtime) -> dict:
        row = await _visible(runtime, request, ticket_id)
        pool = runtime.pool
        out = _ticket(row)
        out["timeline"] = [dict(r) for r in await pool.fetch(
            "SELECT at, kind, status, by, detail FROM ticket_timeline WHERE ticket_id=$1 ORDER BY seq", ticket_id)]
        out["transcript"] = [dict(r) for r in await pool.fetch(
            "SELECT at, sender, text, alert_id FROM transcript WHERE conversation_id=$1 ORDER BY seq",
            row["conversation_id"])] if row["conversation_id"] else []
        company = await pool.fetchrow("SELECT * FROM companies WHERE company_id=$1", row["company_id"]) if row["company_id"] else None
        out["company"] = {
            "company": dict(company) if company else None,
            "services": await active_services(pool, row["company_id"]) if row["company_id"] else [],
            "open_alerts": [dict(r) for r in await pool.fetch(
                "SELECT alert_id, severity, title_ja, host, count, last_seen, acknowledged FROM alerts "
                "WHERE company_id=$1 AND partner_id=$2 AND NOT resolved ORDER BY last_seen DESC LIMIT 20",
                row["company_id"], row["partner_id"])],
            "last_diagnosis": (lambda r: dict(r) if r else None)(await pool.fetchrow(
                "SELECT diagnosis_id, score, max_score, band, completed_at FROM last_diagnosis WHERE company_id=$1 AND partner_id=$2",
                row["company_id"], row["partner_id"])),
            "applications": [dict(r) for r in await pool.fetch(
                "SELECT application_id, service, status, scheduled_for FROM applications WHERE company_id=$1 AND partner_id=$2",
                row["company_id"], row["partner_id"])],
        }
        return out

    @post("/{ticket_id:str}/replies", status_code=201)
    async def reply(self, ticket_id: str, data: ReplyIn, request: Request, runtime: Runtime) -> dict:
        row = await _staff_ticket(runtime, request, ticket_id)
        await tickets.reply(runtime, runtime.extras["delivery"], row, principal_of(request).subject, data.text, data.command_id)
        return _ticket(await tickets.ticket_row(runtime, ticket_id))

    @post("/{ticket_id:str}/status", status_code=200)
    async def status(self, ticket_id: str, data: StatusIn, request: Request, runtime: Runtime) -> dict:
        row = await _staff_ticket(runtime, request, ticket_id)
        await tickets.change_status(runtime, row, principal_of(request).subject, data.status, data.command_id)
        return _ticket(await tickets.ticket_row(runtime, ticket_id))

    @post("/{ticket_id:str}/dispatch", status_code=200)
    async def dispatch(self, ticket_id: str, data: DispatchIn, request: Request, runtime: Runtime) -> dict:
        row = await _staff_ticket(runtime, request, ticket_id)
        await tickets.dispatch(runtime, runtime.extras["delivery"], row, principal_of(request).subject, data.reason,
                               data.requested_for, data.command_id)
        return _ticket(await tickets.ticket_row(runtime, ticket_id))

    @post("/{ticket_id:str}/close", status_code=200)
    async def close(self, ticket_id: str, data: CloseIn, request: Request, runtime: Runtime) -> dict:
        row = await _staff_ticket(runtime, request, ticket_id)
        await tickets.close(runtime, runtime.extras["delivery"], row, principal_of(request).subject, data.resolution,
                            data.command_id)
        return _ticket(await tickets.ticket_row(runtime, ticket_id))
