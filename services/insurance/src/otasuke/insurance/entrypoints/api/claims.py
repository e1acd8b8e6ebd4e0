"""Claims: started by the company or the help desk from an incident ticket or alert, settled by the insurer."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, get, post

from otasuke.events import Tenant
from otasuke.platform.auth import Role
from otasuke.platform.service import Runtime

from ...application import claims
from ...application.book import BOOK
from ...domain.claim import STATUS_JA
from .access import Caller


class ClaimIn(msgspec.Struct, kw_only=True):
    company_id: str
    ticket_id: str | None = None
    alert_id: str | None = None
    description: str = ""


class StatusIn(msgspec.Struct, kw_only=True):
    status: str
    note: str = ""
    paid_yen: int | None = None


class EvidenceOut(msgspec.Struct, kw_only=True):
    at: str
    source: str
    event_type: str
    event_id: str
    summary_ja: str
    data: dict[str, Any]


class ClaimOut(msgspec.Struct, kw_only=True):
    id: str
    company_id: str
    status: str
    status_ja: str
    policy_ids: list[str]
    ticket_id: str | None
    alert_ids: list[str]
    incident_category: str | None
    description: str
    opened_by: str
    opened_at: datetime
    paid_yen: int | None
    history: list[dict[str, Any]]
    evidence: list[EvidenceOut]


async def claim_out(pool, row) -> ClaimOut:
    ev = await pool.fetch("SELECT * FROM ins_claim_evidence WHERE claim_id=$1 ORDER BY at, event_id", row["claim_id"])
    return ClaimOut(
        id=row["claim_id"], company_id=row["company_id"], status=row["status"], status_ja=STATUS_JA[row["status"]],
        policy_ids=msgspec.json.decode(row["policy_ids"]), ticket_id=row["ticket_id"],
        alert_ids=msgspec.json.decode(row["alert_ids"]), incident_category=row["incident_category"],
        description=row["description"], opened_by=row["opened_by"], opened_at=row["opened_at"], paid_yen=row["paid_yen"],
        history=msgspec.json.decode(row["history"]),
        evidence=[
            EvidenceOut(at=e["at"], source=e["source"], event_type=e["event_type"], event_id=e["event_id"],
                        summary_ja=e["summary_ja"], data=msgspec.json.decode(e["data"]))
            for e in ev
        ],
    )


class ClaimController(Controller):
    path = "/api/v1/claims"
    tags = ["claims"]

    @post("/", status_code=201)
    async def open(self, data: ClaimIn, caller: Caller, runtime: Runtime) -> ClaimOut:
        """Start a claim from a ticket or an alert; asking again for the same incident adds any new evidence."""
        tenant = await caller.company(data.company_id, Role.COMPANY_ADMIN, Role.OPERATOR, Role.SERVICE)
        claim_id, outcome = await claims.open_claim(
            runtime.store, runtime.pool, tenant=tenant, ticket_id=data.ticket_id, alert_id=data.alert_id,
            description=data.description, actor=caller.subject,
        )
        await runtime.wait_for(BOOK, outcome.version)
        return await self._out(runtime, claim_id)

    async def _out(self, runtime: Runtime, claim_id: str) -> ClaimOut:
        row = await runtime.pool.fetchrow("SELECT * FROM ins_claims WHERE claim_id=$1", claim_id)
        return await claim_out(runtime.pool, row)

    @get("/")
    async def list_claims(self, caller: Caller, runtime: Runtime, company_id: str | None = None) -> list[ClaimOut]:
        """A company's claims; partner staff may omit company_id to list the partner's."""
        scope = await caller.scope(company_id)
        rows = await runtime.pool.fetch(
            "SELECT * FROM ins_claims WHERE partner_id=$1 AND ($2::text IS NULL OR company_id=$2) ORDER BY opened_at DESC",
            *scope,
        )
        return [await claim_out(runtime.pool, r) for r in rows]

    @get("/{claim_id:str}")
    async def get_claim(self, claim_id: str, caller: Caller, runtime: Runtime) -> ClaimOut:
        return await claim_out(runtime.pool, await caller.row("ins_claims", claim_id))

    @post("/{claim_id:str}/status", status_code=200)
    async def change_status(self, claim_id: str, data: StatusIn, caller: Caller, runtime: Runtime) -> ClaimOut:
        """The insurer's staff move a claim on: documents_requested, under_review, approved/denied, settled (with paid_yen)."""
        row = await caller.row("ins_claims", claim_id, Role.INSURER)
        outcome = await claims.change_status(
            runtime.store, runtime.pool, tenant=Tenant(row["partner_id"], row["company_id"]), claim_id=claim_id,
            status=data.status, note=data.note, paid_yen=data.paid_yen, actor=caller.subject,
        )
        await runtime.wait_for(BOOK, outcome.version)
        return await self._out(runtime, claim_id)
