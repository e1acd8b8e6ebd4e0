"""Chat contacts of a company: one-time link codes, the linked contacts, alert preferences;
and, for the partner's operators, chat users locked out after wrong link codes."""
from __future__ import annotations

from datetime import datetime, timedelta

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.exceptions import NotFoundException, ValidationException

from otasuke.events import AggregateRef, EventMeta, Tenant, execute, utcnow
from otasuke.events.schemas.helpdesk import LinkCodeIssued, NotificationPreferencesSet
from otasuke.platform.auth import principal_of, require_company, require_partner_staff
from otasuke.platform.companies import get_company
from otasuke.platform.service import Runtime

from ...application.tickets import VIEW
from ...domain import alert_notice as an
from ...domain import chat_guard as cg
from ...domain import link_code as lc


class LinkCodeIn(msgspec.Struct, kw_only=True):
    contact_name: str
    """Who will use the code, e.g. 「総務 山田」."""


class LinkCodeOut(msgspec.Struct, kw_only=True):
    code: str
    contact_name: str
    expires_at: datetime
    how_to_ja: str


class LiftIn(msgspec.Struct, kw_only=True):
    reason: str | None = None
    """Why, for the record (e.g. 「電話で本人確認済み」)."""
    command_id: str | None = None


class PreferencesIn(msgspec.Struct, kw_only=True):
    min_severity: str = "high"
    quiet_start: str | None = None
    quiet_end: str | None = None
    escalate_after_minutes: float = 30.0


async def _company(runtime: Runtime, request: Request, company_id: str):
    row = await get_company(runtime.pool, company_id)
    if row is None:
        raise NotFoundException("not found")
    require_company(principal_of(request), row["partner_id"], row["company_id"])
    return row


class ContactController(Controller):
    path = "/api/v1/companies/{company_id:str}"
    tags = ["contacts"]

    @post("/link-codes", status_code=201)
    async def issue_code(self, company_id: str, data: LinkCodeIn, request: Request, runtime: Runtime) -> LinkCodeOut:
        company = await _company(runtime, request, company_id)
        if not data.contact_name.strip():
            raise ValidationException("contact_name is required")
        code = lc.new_code()
        hours = runtime.extras["config"].link_code_hours
        event = LinkCodeIssued(code_hash=lc.code_hash(code), contact_name=data.contact_name.strip(),
                               issued_by=principal_of(request).subject, expires_at=utcnow() + timedelta(hours=hours))
        ref = AggregateRef("helpdesk", Tenant(company["partner_id"], company_id), lc.AGGREGATE_TYPE, lc.aggregate_id(code))
        outcome = await execute(runtime.store, lc.LINK_CODE, ref, lambda s: [event],
                                meta=EventMeta(actor=principal_of(request).subject))
        await runtime.wait_for(VIEW, outcome.version)
        return LinkCodeOut(code=code, contact_name=event.contact_name, expires_at=event.expires_at,
                           how_to_ja=f"LINE またはウェブのチャットで、このコード（{code}）を送ってください。"
                                     f"有効期限は{int(hours)}時間です。")

    @get("/contacts")
    async def contacts(self, company_id: str, request: Request, runtime: Runtime) -> list[dict]:
        company = await _company(runtime, request, company_id)
        rows = await runtime.pool.fetch(
            "SELECT channel, user_id, contact_name, display_name, linked_at FROM contacts "
            "WHERE company_id=$1 AND partner_id=$2 ORDER BY linked_at", company_id, company["partner_id"])
        return [dict(r) for r in rows]

    @put("/notification-preferences")
    async def set_preferences(self, company_id: str, data: PreferencesIn, request: Request, runtime: Runtime) -> dict:
        company = await _company(runtime, request, company_id)
        if data.min_severity not in an.SEVERITIES:
            raise ValidationException(f"min_severity must be one of {', '.join(an.SEVERITIES)}")
        if not (an.valid_hm(data.quiet_start) and an.valid_hm(data.quiet_end)) or \
                (data.quiet_start is None) != (data.quiet_end is None):
            raise ValidationException("quiet_start and quiet_end are both \"HH:MM\" (Japan time) or both empty")
        if data.escalate_after_minutes < 0:
            raise ValidationException("escalate_after_minutes must be zero or more")
        event = NotificationPreferencesSet(**msgspec.structs.asdict(data), by=principal_of(request).subject)
        ref = AggregateRef("helpdesk", Tenant(company["partner_id"], company_id), "notification_preferences", company_id)
        outcome = await execute(runtime.store, _PREFS, ref, lambda s: [event], meta=EventMeta(actor=event.by))
        await runtime.wait_for(VIEW, outcome.version)
        return msgspec.structs.asdict(data)

    @get("/notification-preferences")
    async def get_preferences(self, company_id: str, request: Request, runtime: Runtime) -> dict:
        await _company(runtime, request, company_id)
        row = await runtime.pool.fetchrow("SELECT * FROM notification_preferences WHERE company_id=$1", company_id)
        return msgspec.structs.asdict(an.Preferences()) if row is None else {
            k: row[k] for k in ("min_severity", "quiet_start", "quiet_end", "escalate_after_minutes")}


LOCK_COLUMNS = "conversation_id, failures, locked_at, locked_until, lifted_at, lifted_by, lift_reason"


def _lock_out(row, now: datetime) -> dict:
    out = dict(row)
    channel, _, user_id = row["conversation_id"].partition("-")
    out.update(channel=channel, user_id=user_id, locked=row["lifted_at"] is None and row["locked_until"] > now)
    return out


class LinkLockController(Controller):
    """Chat users locked out after repeated wrong link codes. They are not linked to a company
    yet, so the locks belong to the partner whose chat it is: only its operators see them."""

    path = "/api/v1/link-locks"
    tags = ["contacts"]

    @get("/")
    async def list_locks(self, request: Request, runtime: Runtime, include_past: bool = False) -> list[dict]:
        p = principal_of(request)
        require_partner_staff(p)
        now = utcnow()
        rows = await runtime.pool.fetch(
            f"SELECT {LOCK_COLUMNS} FROM link_locks WHERE partner_id=$1 "
            "AND ($2 OR (lifted_at IS NULL AND locked_until > $3)) ORDER BY locked_at DESC LIMIT 200",
            p.partner_id, include_past, now)
        return [_lock_out(r, now) for r in rows]

    @post("/{conversation_id:str}/lift", status_code=200)
    async def lift(self, conversation_id: str, data: LiftIn, request: Request, runtime: Runtime) -> dict:
        """Let the chat user try a link code again now (an event with the operator as actor)."""
        p = principal_of(request)
        require_partner_staff(p)
        row = await runtime.pool.fetchrow("SELECT partner_id FROM link_locks WHERE conversation_id=$1", conversation_id)
        if row is None or row["partner_id"] != p.partner_id:
            raise NotFoundException("no link lock for this chat user")  # another partner's lock stays hidden
        ref = AggregateRef("helpdesk", Tenant(row["partner_id"]), cg.LINK_GUARD, conversation_id)
        reason = (data.reason or "").strip()[:200] or None
        outcome = await execute(runtime.store, cg.LINK, ref, lambda s: cg.lift_lock(s, conversation_id, reason, utcnow()),
                                meta=EventMeta(actor=p.subject), command_id=data.command_id)
        await runtime.wait_for(VIEW, outcome.version)
        now = utcnow()
        return _lock_out(await runtime.pool.fetchrow(
            f"SELECT {LOCK_COLUMNS} FROM link_locks WHERE conversation_id=$1", conversation_id), now)


from otasuke.events import Aggregate  # noqa: E402

_PREFS = Aggregate(initial=lambda: None, evolve=lambda s, e: s)  # last write wins; no invariant to check
