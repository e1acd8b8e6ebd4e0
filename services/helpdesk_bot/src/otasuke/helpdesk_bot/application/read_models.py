"""Read models of the help desk, one projection per stream it reads.

Disposable: `otasuke events rebuild` drops and replays them.
"""
from __future__ import annotations

import json

import asyncpg
import msgspec

from otasuke.events import Projection, Recorded
from otasuke.events.schemas import diagnosis as dg
from otasuke.events.schemas import enrolment as en
from otasuke.events.schemas import helpdesk as hd
from otasuke.events.schemas import telemetry as tm
from otasuke.events.streams import DIAGNOSIS, ENROLMENT, HELPDESK, TELEMETRY

from ..domain.business_hours import first_response_due


class HelpdeskView(Projection):
    """Tickets with their timeline, chat transcripts, contacts, alert notices, preferences."""

    name = "helpdesk_bot.helpdesk"
    stream = HELPDESK.name
    filter_subjects = ("helpdesk.>",)
    tables = ("tickets", "ticket_timeline", "transcript", "contacts", "link_codes", "conversations",
              "notification_preferences", "alert_notices", "link_locks")
    schema = """
    CREATE TABLE IF NOT EXISTS tickets (
        ticket_id text PRIMARY KEY, partner_id text NOT NULL, company_id text,
        source text NOT NULL, summary text NOT NULL, conversation_id text, channel text, alert_id text,
        incident boolean NOT NULL, status text NOT NULL, opened_at timestamptz NOT NULL,
        first_response_due timestamptz NOT NULL, first_response_at timestamptz,
        dispatch_reason text, dispatched_at timestamptz, closed_at timestamptz, resolution text,
        updated_at timestamptz NOT NULL);
    CREATE INDEX IF NOT EXISTS tickets_partner ON tickets (partner_id, status);
    CREATE TABLE IF NOT EXISTS ticket_timeline (
        seq bigint PRIMARY KEY, ticket_id text NOT NULL, at timestamptz NOT NULL,
        kind text NOT NULL, status text, by text, detail text);
    CREATE TABLE IF NOT EXISTS transcript (
        seq bigint PRIMARY KEY, conversation_id text NOT NULL, at timestamptz NOT NULL,
        sender text NOT NULL, text text NOT NULL, buttons jsonb NOT NULL DEFAULT '[]', alert_id text);
    CREATE INDEX IF NOT EXISTS transcript_conv ON transcript (conversation_id, seq);
    CREATE TABLE IF NOT EXISTS contacts (
        channel text NOT NULL, user_id text NOT NULL, partner_id text NOT NULL, company_id text NOT NULL,
        contact_name text NOT NULL, display_name text, linked_at timestamptz NOT NULL,
        PRIMARY KEY (channel, user_id));
    CREATE TABLE IF NOT EXISTS link_codes (
        code_hash text PRIMARY KEY, partner_id text NOT NULL, company_id text NOT NULL,
        contact_name text NOT NULL, expires_at timestamptz NOT NULL, used_at timestamptz);
    CREATE TABLE IF NOT EXISTS conversations (
        conversation_id text PRIMARY KEY, channel text NOT NULL, user_id text NOT NULL,
        partner_id text NOT NULL, company_id text, handover_ticket_id text,
        last_alert_id text, last_alert_at timestamptz);
    CREATE TABLE IF NOT EXISTS link_locks (
        conversation_id text PRIMARY KEY, partner_id text NOT NULL, failures integer NOT NULL,
        locked_at timestamptz NOT NULL, locked_until timestamptz NOT NULL,
        lifted_at timestamptz, lifted_by text, lift_reason text);
    CREATE TABLE IF NOT EXISTS notification_preferences (
        company_id text PRIMARY KEY, partner_id text NOT NULL, min_severity text NOT NULL,
        quiet_start text, quiet_end text, escalate_after_minutes double precision NOT NULL);
    CREATE TABLE IF NOT EXISTS alert_notices (
        alert_id text PRIMARY KEY, partner_id text NOT NULL, company_id text, sent_at timestamptz NOT NULL,
        deferred boolean NOT NULL, conversation_ids jsonb NOT NULL, answer text, answered_at timestamptz,
        escalated_ticket_id text);
    """

    async def apply(self, conn: asyncpg.Connection, rec: Recorded) -> None:
        env, d, at = rec.envelope, rec.data, rec.envelope.occurred_at
        if isinstance(d, hd.TicketOpened):
            await conn.execute(
                """INSERT INTO tickets (ticket_id, partner_id, company_id, source, summary, conversation_id, channel,
                   alert_id, incident, status, opened_at, first_response_due, updated_at)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,'open',$10,$11,$10) ON CONFLICT DO NOTHING""",
                d.ticket_id, env.partner_id, env.company_id, d.source, d.summary, d.conversation_id, d.channel,
                d.alert_id, d.incident, at, first_response_due(at),
            )
            await self._timeline(conn, rec, d.ticket_id, "opened", "open", env.actor, d.summary)
            if d.conversation_id:
                await conn.execute("UPDATE conversations SET handover_ticket_id=$2 WHERE conversation_id=$1",
                                   d.conversation_id, d.ticket_id)
        elif isinstance(d, hd.TicketStatusChanged):
            await conn.execute("UPDATE tickets SET status=$2, updated_at=$3 WHERE ticket_id=$1", d.ticket_id, d.status, at)
            await self._timeline(conn, rec, d.ticket_id, "status", d.status, d.by, None)
        elif isinstance(d, hd.OperatorReplied):
            await conn.execute(
                "UPDATE tickets SET first_response_at=COALESCE(first_response_at,$2), updated_at=$2 WHERE ticket_id=$1",
                d.ticket_id, at)
            await self._timeline(conn, rec, d.ticket_id, "reply", None, d.operator_id, d.text)
            conv = await conn.fetchval("SELECT conversation_id FROM tickets WHERE ticket_id=$1", d.ticket_id)
            if conv:
                await conn.execute("INSERT INTO transcript VALUES ($1,$2,$3,'operator',$4,'[]',NULL) ON CONFLICT DO NOTHING",
                                   rec.seq, conv, at, d.text)
        elif isinstance(d, hd.DispatchRequested):
            await conn.execute("UPDATE tickets SET dispatch_reason=$2, dispatched_at=$3, updated_at=$3 WHERE ticket_id=$1",
                               d.ticket_id, d.reason, at)
            await self._timeline(conn, rec, d.ticket_id, "dispatch", None, d.operator_id, d.reason)
        elif isinstance(d, hd.TicketClosed):
            await conn.execute(
                "UPDATE tickets SET status='closed', closed_at=$2, resolution=$3, updated_at=$2 WHERE ticket_id=$1",
                d.ticket_id, at, d.resolution)
            await self._timeline(conn, rec, d.ticket_id, "closed", "closed", d.by, d.resolution)
            # The operator dealt with it: a later question is a new topic, not about the ticket's alert.
            await conn.execute("UPDATE conversations SET handover_ticket_id=NULL, last_alert_id=NULL "
                               "WHERE handover_ticket_id=$1", d.ticket_id)
        elif isinstance(d, hd.ChatMessage):
            await conn.execute(
                """INSERT INTO conversations (conversation_id, channel, user_id, partner_id, company_id)
                   VALUES ($1,$2,$3,$4,$5) ON CONFLICT (conversation_id) DO UPDATE
                   SET partner_id=$4, company_id=COALESCE($5, conversations.company_id)""",
                d.conversation_id, d.channel, d.conversation_id.split("-", 1)[1], env.partner_id, env.company_id)
            await conn.execute("INSERT INTO transcript VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING",
                               rec.seq, d.conversation_id, at, d.sender, d.text, json.dumps(d.buttons), d.alert_id)
            if d.alert_id and d.sender == "system":
                await conn.execute("UPDATE conversations SET last_alert_id=$2, last_alert_at=$3 WHERE conversation_id=$1",
                                   d.conversation_id, d.alert_id, at)
        elif isinstance(d, hd.LinkCodeIssued):
            await conn.execute("INSERT INTO link_codes VALUES ($1,$2,$3,$4,$5,NULL) ON CONFLICT DO NOTHING",
                               d.code_hash, env.partner_id, env.company_id, d.contact_name, d.expires_at)
        elif isinstance(d, hd.ContactLinked):
            await conn.execute("UPDATE link_codes SET used_at=$2 WHERE code_hash=$1", d.code_hash, at)
            await conn.execute(
                """INSERT INTO contacts VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (channel, user_id) DO UPDATE
                   SET partner_id=$3, company_id=$4, contact_name=$5, display_name=$6, linked_at=$7""",
                d.channel, d.user_id, env.partner_id, env.company_id, d.contact_name, d.display_name, at)
            await conn.execute(
                """INSERT INTO conversations (conversation_id, channel, user_id, partner_id, company_id)
                   VALUES ($1,$2,$3,$4,$5) ON CONFLICT (conversation_id) DO UPDATE SET partner_id=$4, company_id=$5""",
                f"{d.channel}-{d.user_id}", d.channel, d.user_id, env.partner_id, env.company_id)
        elif isinstance(d, hd.ContactUnlinked):
            await conn.execute("DELETE FROM contacts WHERE channel=$1 AND user_id=$2", d.channel, d.user_id)
            await conn.execute("UPDATE conversations SET company_id=NULL WHERE conversation_id=$1", f"{d.channel}-{d.user_id}")
        elif isinstance(d, hd.LinkLocked):
            await conn.execute(
                """INSERT INTO link_locks VALUES ($1,$2,$3,$4,$5,NULL,NULL,NULL) ON CONFLICT (conversation_id) DO UPDATE
                   SET partner_id=$2, failures=$3, locked_at=$4, locked_until=$5, lifted_at=NULL, lifted_by=NULL,
                       lift_reason=NULL""",
                d.conversation_id, env.partner_id, d.failures, env.occurred_at, d.until)
        elif isinstance(d, hd.LinkLockLifted):
            await conn.execute("UPDATE link_locks SET lifted_at=$2, lifted_by=$3, lift_reason=$4 WHERE conversation_id=$1",
                               d.conversation_id, env.occurred_at, env.actor, d.reason)
        elif isinstance(d, hd.NotificationPreferencesSet):
            await conn.execute(
                """INSERT INTO notification_preferences VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (company_id) DO UPDATE
                   SET min_severity=$3, quiet_start=$4, quiet_end=$5, escalate_after_minutes=$6""",
                env.company_id, env.partner_id, d.min_severity, d.quiet_start, d.quiet_end, d.escalate_after_minutes)
        elif isinstance(d, hd.AlertNoticeSent):
            await conn.execute("INSERT INTO alert_notices (alert_id, partner_id, company_id, sent_at, deferred, conversation_ids) "
                               "VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING",
                               d.alert_id, env.partner_id, env.company_id, at, d.deferred, json.dumps(d.conversation_ids))
        elif isinstance(d, hd.AlertNoticeAnswered):
            # 詳しく never overrides a real answer (問題ない / 対応を依頼): escalation reads this column.
            await conn.execute("UPDATE alert_notices SET answer=$2, answered_at=$3 WHERE alert_id=$1 "
                               "AND ($2 <> 'details' OR answer IS NULL)", d.alert_id, d.answer, at)
            if d.answer == "no_problem":  # the user closed the topic; what they type next is about something else
                await conn.execute("UPDATE conversations SET last_alert_id=NULL WHERE conversation_id=$1 AND last_alert_id=$2",
                                   d.conversation_id, d.alert_id)
        elif isinstance(d, hd.AlertEscalatedToOperator):
            await conn.execute("UPDATE alert_notices SET escalated_ticket_id=$2 WHERE alert_id=$1", d.alert_id, d.ticket_id)

    async def _timeline(self, conn, rec: Recorded, ticket_id: str, kind: str, status: str | None, by: str | None, detail: str | None):
        await conn.execute("INSERT INTO ticket_timeline VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING",
                           rec.seq, ticket_id, rec.envelope.occurred_at, kind, status, by, detail)


class AlertView(Projection):
    """Alerts of the companies, for the card texts, the console's context and escalation."""

    name = "helpdesk_bot.alerts"
    stream = TELEMETRY.name
    filter_subjects = ("telemetry.>",)
    event_types = frozenset({"telemetry.alert_raised", "telemetry.alert_grouped", "telemetry.alert_acknowledged",
                             "telemetry.alert_resolved"})
    tables = ("alerts",)
    schema = """
    CREATE TABLE IF NOT EXISTS alerts (
        alert_id text PRIMARY KEY, partner_id text NOT NULL, company_id text, severity text NOT NULL,
        category text NOT NULL, host text NOT NULL, title_ja text NOT NULL, explanation_ja text NOT NULL,
        action_ja text NOT NULL, count integer NOT NULL, first_seen timestamptz NOT NULL, last_seen timestamptz NOT NULL,
        in_learning_period boolean NOT NULL, raised_at timestamptz NOT NULL,
        acknowledged boolean NOT NULL DEFAULT false, resolved boolean NOT NULL DEFAULT false, resolution text);
    CREATE INDEX IF NOT EXISTS alerts_company ON alerts (company_id, resolved);
    """

    async def apply(self, conn: asyncpg.Connection, rec: Recorded) -> None:
        env, d = rec.envelope, rec.data
        if isinstance(d, tm.AlertRaised):
            await conn.execute(
                """INSERT INTO alerts (alert_id, partner_id, company_id, severity, category, host, title_ja, explanation_ja,
                   action_ja, count, first_seen, last_seen, in_learning_period, raised_at)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14) ON CONFLICT DO NOTHING""",
                d.alert_id, env.partner_id, env.company_id, d.severity, d.category, d.host, d.title_ja, d.explanation_ja,
                d.action_ja, d.count, d.first_seen, d.last_seen, d.in_learning_period, env.occurred_at)
        elif isinstance(d, tm.AlertGrouped):
            await conn.execute("UPDATE alerts SET count=$2, last_seen=$3 WHERE alert_id=$1", d.alert_id, d.count, d.last_seen)
        elif isinstance(d, tm.AlertAcknowledged):
            await conn.execute("UPDATE alerts SET acknowledged=true WHERE alert_id=$1", d.alert_id)
        elif isinstance(d, tm.AlertResolved):
            await conn.execute("UPDATE alerts SET resolved=true, resolution=$2 WHERE alert_id=$1", d.alert_id, d.reason)


class DiagnosisView(Projection):
    """The last completed self-diagnosis of each company (context for operators)."""

    name = "helpdesk_bot.diagnoses"
    stream = DIAGNOSIS.name
    filter_subjects = ("diagnosis.>",)
    event_types = frozenset({"diagnosis.completed"})
    tables = ("last_diagnosis",)
    schema = """
    CREATE TABLE IF NOT EXISTS last_diagnosis (
        company_id text PRIMARY KEY, partner_id text NOT NULL, diagnosis_id text NOT NULL, score integer NOT NULL,
        max_score integer NOT NULL, band text NOT NULL, completed_at timestamptz NOT NULL);
    """

    async def apply(self, conn: asyncpg.Connection, rec: Recorded) -> None:
        env, d = rec.envelope, rec.data
        if isinstance(d, dg.DiagnosisCompleted) and env.company_id:
            await conn.execute(
                """INSERT INTO last_diagnosis VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (company_id) DO UPDATE
                   SET diagnosis_id=$3, score=$4, max_score=$5, band=$6, completed_at=$7""",
                env.company_id, env.partner_id, d.diagnosis_id, d.score, d.max_score, d.band, env.occurred_at)


class ApplicationView(Projection):
    """Service applications with their status history and the operators' contacts with the customer."""

    name = "helpdesk_bot.applications"
    stream = ENROLMENT.name
    filter_subjects = ("enrolment.>",)
    event_types = frozenset({"enrolment.service_applied", "enrolment.application_status_changed",
                             "enrolment.customer_contacted"})
    tables = ("applications", "application_history", "customer_contacts")
    schema = """
    CREATE TABLE IF NOT EXISTS applications (
        application_id text PRIMARY KEY, partner_id text NOT NULL, company_id text NOT NULL, service text NOT NULL,
        status text NOT NULL, channel text NOT NULL, devices integer, note text, scheduled_for timestamptz,
        reason text, applied_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
    CREATE INDEX IF NOT EXISTS applications_company ON applications (company_id);
    -- Added later: an existing table gets them empty, which is what its (older) events say.
    ALTER TABLE applications ADD COLUMN IF NOT EXISTS preferred_dates jsonb NOT NULL DEFAULT '[]',
        ADD COLUMN IF NOT EXISTS contact_name text, ADD COLUMN IF NOT EXISTS contact_phone text;
    CREATE TABLE IF NOT EXISTS application_history (
        seq bigint PRIMARY KEY, application_id text NOT NULL, at timestamptz NOT NULL, status text NOT NULL,
        scheduled_for timestamptz, reason text, by text);
    CREATE TABLE IF NOT EXISTS customer_contacts (
        seq bigint PRIMARY KEY, application_id text NOT NULL, at timestamptz NOT NULL, operator_id text NOT NULL,
        channel text NOT NULL, summary text NOT NULL);
    """

    async def apply(self, conn: asyncpg.Connection, rec: Recorded) -> None:
        env, d, at = rec.envelope, rec.data, rec.envelope.occurred_at
        if isinstance(d, en.ServiceApplied):
            await conn.execute(
                """INSERT INTO applications (application_id, partner_id, company_id, service, status, channel, devices,
                       note, applied_at, updated_at, preferred_dates, contact_name, contact_phone)
                   VALUES ($1,$2,$3,$4,'provisional',$5,$6,$7,$8,$8,$9::jsonb,$10,$11) ON CONFLICT DO NOTHING""",
                d.application_id, env.partner_id, env.company_id, d.service, d.channel, d.devices, d.note, at,
                msgspec.json.encode(d.preferred_dates).decode(), d.contact_name, d.contact_phone)
            await conn.execute("INSERT INTO application_history VALUES ($1,$2,$3,'provisional',NULL,NULL,$4) ON CONFLICT DO NOTHING",
                               rec.seq, d.application_id, at, env.actor)
        elif isinstance(d, en.ApplicationStatusChanged):
            await conn.execute(
                """UPDATE applications SET status=$2, scheduled_for=COALESCE($3, CASE WHEN $2 IN ('installed','active')
                   THEN scheduled_for END), reason=$4, updated_at=$5 WHERE application_id=$1""",
                d.application_id, d.status, d.scheduled_for, d.reason, at)
            await conn.execute("INSERT INTO application_history VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING",
                               rec.seq, d.application_id, at, d.status, d.scheduled_for, d.reason, env.actor)
        elif isinstance(d, en.CustomerContacted):
            await conn.execute("INSERT INTO customer_contacts VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING",
                               rec.seq, d.application_id, at, d.operator_id, d.channel, d.summary)
