"""A company's allow-list: exclusions with who asked, why, and until when."""
from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from litestar import Controller, Request, delete, get, post

from otasuke.events import AggregateRef, EventMeta, Tenant, execute, new_id
from otasuke.events.schemas.telemetry import AllowlistEntryAdded
from otasuke.platform.service import Runtime

from ...application.read_model import NAME as READ_MODEL
from ...domain import allowlist
from .tenancy import company_for


class EntryIn(msgspec.Struct, kw_only=True):
    value: str
    """IP address, network (CIDR), host name or file hash to exclude."""
    reason: str
    rule_id: str | None = None
    expires_at: datetime | None = None
    requested_by: str | None = None
    """Who at the company asked (recorded next to the user who entered it)."""


class EntryOut(msgspec.Struct, kw_only=True):
    entry_id: str
    value: str
    rule_id: str | None
    reason: str
    added_by: str
    added_at: datetime
    expires_at: datetime | None
    active: bool


def _out(r) -> EntryOut:
    now = datetime.now(UTC)
    return EntryOut(entry_id=r["entry_id"], value=r["value"], rule_id=r["rule_id"], reason=r["reason"],
                    added_by=r["added_by"], added_at=r["added_at"], expires_at=r["expires_at"],
                    active=r["removed_at"] is None and (r["expires_at"] is None or r["expires_at"] > now))


class AllowlistController(Controller):
    path = "/api/v1/companies/{company_id:str}/allowlist"
    tags = ["allow-list"]

    @get("/")
    async def list_entries(self, company_id: str, request: Request, runtime: Runtime) -> list[EntryOut]:
        await company_for(request, runtime, company_id)
        rows = await runtime.pool.fetch(
            "SELECT * FROM allowlist WHERE company_id=$1 AND removed_at IS NULL ORDER BY added_at", company_id
        )
        return [_out(r) for r in rows]

    @post("/", status_code=201)
    async def add(self, company_id: str, data: EntryIn, request: Request, runtime: Runtime) -> EntryOut:
        principal, partner_id = await company_for(request, runtime, company_id)
        by = principal.subject if not data.requested_by else f"{principal.subject} (依頼: {data.requested_by})"
        expires = data.expires_at
        if expires is not None and expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        cmd = AllowlistEntryAdded(entry_id=new_id(), value=data.value.strip(), rule_id=data.rule_id,
                                  reason=data.reason, by=by, expires_at=expires)
        ref = AggregateRef("telemetry", Tenant(partner_id, company_id), allowlist.AGGREGATE_TYPE, company_id)
        outcome = await execute(runtime.store, allowlist.ALLOWLIST, ref,
                                lambda s: allowlist.add(s, cmd, datetime.now(UTC)), meta=EventMeta(actor=principal.subject))
        await runtime.wait_for(READ_MODEL, outcome.version)
        return _out(await runtime.pool.fetchrow("SELECT * FROM allowlist WHERE entry_id=$1", cmd.entry_id))

    @delete("/{entry_id:str}", status_code=204)
    async def remove(self, company_id: str, entry_id: str, request: Request, runtime: Runtime, reason: str = "") -> None:
        principal, partner_id = await company_for(request, runtime, company_id)
        ref = AggregateRef("telemetry", Tenant(partner_id, company_id), allowlist.AGGREGATE_TYPE, company_id)
        outcome = await execute(runtime.store, allowlist.ALLOWLIST, ref,
                                lambda s: allowlist.remove(s, entry_id, principal.subject, reason),
                                meta=EventMeta(actor=principal.subject))
        await runtime.wait_for(READ_MODEL, outcome.version)
