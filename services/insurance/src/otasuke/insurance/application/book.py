"""The insurance book: policies, quotes and claims as read models, rebuilt from the INSURANCE stream."""
from __future__ import annotations

import asyncpg
import msgspec

from otasuke.events import Projection, Recorded
from otasuke.events.schemas.insurance import (
    ClaimEvidenceAdded,
    ClaimOpened,
    ClaimStatusChanged,
    PolicyEnded,
    PolicyIssued,
    PolicyRenewed,
    QuoteAccepted,
    QuoteIssued,
)
from otasuke.events.streams import INSURANCE

BOOK = "insurance.book"


def _json(value) -> str:
    return msgspec.json.encode(value).decode()


class InsuranceBook(Projection):
    name = BOOK
    stream = INSURANCE.name
    filter_subjects = ("insurance.>",)
    tables = ("ins_policies", "ins_quotes", "ins_claims", "ins_claim_evidence")
    schema = """
    CREATE TABLE IF NOT EXISTS ins_policies (
        policy_id text PRIMARY KEY,
        partner_id text NOT NULL,
        company_id text NOT NULL,
        tier text NOT NULL,
        product text NOT NULL,
        status text NOT NULL,
        starts_on date NOT NULL,
        ends_on date NOT NULL,
        ended_on date,
        end_reason text,
        aggregate_limit_yen bigint NOT NULL,
        annual_premium_yen bigint NOT NULL,
        covers jsonb NOT NULL,
        service text,
        application_id text,
        quote_id text,
        table_version text NOT NULL,
        issued_at timestamptz NOT NULL,
        renewals integer NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS ins_policies_company ON ins_policies (company_id);
    CREATE INDEX IF NOT EXISTS ins_policies_partner ON ins_policies (partner_id);
    CREATE TABLE IF NOT EXISTS ins_quotes (
        quote_id text PRIMARY KEY,
        partner_id text NOT NULL,
        company_id text NOT NULL,
        premium_yen bigint NOT NULL,
        body jsonb NOT NULL,
        issued_at timestamptz NOT NULL,
        seq bigint NOT NULL,
        accepted_policy_id text
    );
    CREATE INDEX IF NOT EXISTS ins_quotes_company ON ins_quotes (company_id);
    CREATE TABLE IF NOT EXISTS ins_claims (
        claim_id text PRIMARY KEY,
        partner_id text NOT NULL,
        company_id text NOT NULL,
        status text NOT NULL,
        policy_ids jsonb NOT NULL,
        ticket_id text,
        alert_ids jsonb NOT NULL,
        incident_category text,
        description text NOT NULL,
        opened_by text NOT NULL,
        opened_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        paid_yen bigint,
        history jsonb NOT NULL DEFAULT '[]'
    );
    CREATE INDEX IF NOT EXISTS ins_claims_company ON ins_claims (company_id);
    CREATE TABLE IF NOT EXISTS ins_claim_evidence (
        claim_id text NOT NULL,
        event_id text NOT NULL,
        at text NOT NULL,
        source text NOT NULL,
        event_type text NOT NULL,
        summary_ja text NOT NULL,
        data jsonb NOT NULL,
        PRIMARY KEY (claim_id, event_id)
    );
    """

    async def apply(self, conn: asyncpg.Connection, rec: Recorded) -> None:
        env = rec.envelope
        d = env.data
        if isinstance(d, PolicyIssued):
            await conn.execute(
                """INSERT INTO ins_policies (policy_id, partner_id, company_id, tier, product, status, starts_on, ends_on,
                       aggregate_limit_yen, annual_premium_yen, covers, service, application_id, quote_id, table_version, issued_at)
                   VALUES ($1,$2,$3,$4,$5,'active',$6,$7,$8,$9,$10::jsonb,$11,$12,$13,$14,$15)
                   ON CONFLICT (policy_id) DO NOTHING""",
                d.policy_id, env.partner_id, env.company_id, d.tier, d.product, d.starts_on, d.ends_on,
                d.aggregate_limit_yen, d.annual_premium_yen, _json(d.covers), d.service, d.application_id,
                d.quote_id, d.table_version, env.occurred_at,
            )
        elif isinstance(d, PolicyRenewed):
            await conn.execute(
                """UPDATE ins_policies SET status='active', starts_on=$2, ends_on=$3, ended_on=NULL, end_reason=NULL,
                   renewals=renewals+1 WHERE policy_id=$1""",
                d.policy_id, d.starts_on, d.ends_on,
            )
        elif isinstance(d, PolicyEnded):
            await conn.execute(
                "UPDATE ins_policies SET status='ended', ended_on=$2, end_reason=$3 WHERE policy_id=$1",
                d.policy_id, d.ended_on, d.reason,
            )
        elif isinstance(d, QuoteIssued):
            await conn.execute(
                """INSERT INTO ins_quotes VALUES ($1,$2,$3,$4,$5::jsonb,$6,$7,NULL) ON CONFLICT (quote_id) DO NOTHING""",
                d.quote_id, env.partner_id, env.company_id, d.premium_yen, _json(d), env.occurred_at, rec.seq,
            )
        elif isinstance(d, QuoteAccepted):
            await conn.execute("UPDATE ins_quotes SET accepted_policy_id=$2 WHERE quote_id=$1", d.quote_id, d.policy_id)
        elif isinstance(d, ClaimOpened):
            await conn.execute(
                """INSERT INTO ins_claims (claim_id, partner_id, company_id, status, policy_ids, ticket_id, alert_ids,
                       incident_category, description, opened_by, opened_at, updated_at, history)
                   VALUES ($1,$2,$3,'opened',$4::jsonb,$5,$6::jsonb,$7,$8,$9,$10,$10,$11::jsonb)
                   ON CONFLICT (claim_id) DO NOTHING""",
                d.claim_id, env.partner_id, env.company_id, _json(d.policy_ids), d.ticket_id, _json(d.alert_ids),
                d.incident_category, d.description, d.opened_by, env.occurred_at,
                _json([{"status": "opened", "at": env.occurred_at.isoformat(), "by": env.actor, "note": ""}]),
            )
            await self._evidence(conn, d.claim_id, d.evidence)
        elif isinstance(d, ClaimEvidenceAdded):
            await self._evidence(conn, d.claim_id, d.evidence)
        elif isinstance(d, ClaimStatusChanged):
            entry = {"status": d.status, "at": env.occurred_at.isoformat(), "by": env.actor, "note": d.note}
            await conn.execute(
                """UPDATE ins_claims SET status=$2, updated_at=$3, paid_yen=COALESCE($4, paid_yen),
                   history = history || $5::jsonb WHERE claim_id=$1""",
                d.claim_id, d.status, env.occurred_at, d.paid_yen, _json([entry]),
            )

    async def _evidence(self, conn: asyncpg.Connection, claim_id: str, items) -> None:
        await conn.executemany(
            """INSERT INTO ins_claim_evidence VALUES ($1,$2,$3,$4,$5,$6,$7::jsonb) ON CONFLICT DO NOTHING""",
            [(claim_id, e.event_id, e.at, e.source, e.event_type, e.summary_ja, _json(e.data)) for e in items],
        )
