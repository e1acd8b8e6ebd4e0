"""What bears on a company's risk, learnt from the other contexts' streams.

Four small read models, one per stream: the latest diagnosis, monitored devices
and alerts, incident tickets, and phishing-training results. They feed quotes
and the insurer's underwriting view.
"""
from __future__ import annotations

import asyncpg
import msgspec

from otasuke.events import Projection, Recorded
from otasuke.events.schemas.diagnosis import DiagnosisCompleted
from otasuke.events.schemas.helpdesk import TicketClosed, TicketOpened, TicketStatusChanged
from otasuke.events.schemas.telemetry import AlertGrouped, AlertRaised, AlertResolved, DeviceRegistered
from otasuke.events.streams import DIAGNOSIS, HELPDESK, TELEMETRY, TRAINING

DIAGNOSES = "insurance.diagnoses"
TELEMETRY_FACTS = "insurance.telemetry"
TICKETS = "insurance.tickets"
TRAINING_FACTS = "insurance.training"


def _json(value) -> str:
    return msgspec.json.encode(value).decode()


class LatestDiagnosis(Projection):
    name = DIAGNOSES
    stream = DIAGNOSIS.name
    filter_subjects = ("diagnosis.>",)
    event_types = frozenset({"diagnosis.completed"})
    tables = ("ins_diagnoses",)
    schema = """
    CREATE TABLE IF NOT EXISTS ins_diagnoses (
        company_id text PRIMARY KEY,
        partner_id text NOT NULL,
        diagnosis_id text NOT NULL,
        questionnaire_version text NOT NULL,
        industry text NOT NULL,
        score integer NOT NULL,
        max_score integer NOT NULL,
        band text NOT NULL,
        areas jsonb NOT NULL,
        not_implemented jsonb NOT NULL,
        unknown jsonb NOT NULL,
        completed_at timestamptz NOT NULL,
        seq bigint NOT NULL
    );
    """

    async def apply(self, conn: asyncpg.Connection, rec: Recorded) -> None:
        env, d = rec.envelope, rec.envelope.data
        if not isinstance(d, DiagnosisCompleted) or env.company_id is None:
            return
        # Stream order is completion order, so the last one applied is the latest.
        await conn.execute(
            """INSERT INTO ins_diagnoses VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9::jsonb,$10::jsonb,$11::jsonb,$12,$13)
               ON CONFLICT (company_id) DO UPDATE SET diagnosis_id=$3, questionnaire_version=$4, industry=$5, score=$6,
               max_score=$7, band=$8, areas=$9::jsonb, not_implemented=$10::jsonb, unknown=$11::jsonb, completed_at=$12, seq=$13""",
            env.company_id, env.partner_id, d.diagnosis_id, d.questionnaire_version, d.industry, d.score, d.max_score,
            d.band, _json(d.areas), _json(d.not_implemented), _json(d.unknown), env.occurred_at, rec.seq,
        )


class MonitoredDevicesAndAlerts(Projection):
    name = TELEMETRY_FACTS
    stream = TELEMETRY.name
    filter_subjects = ("telemetry.>",)
    event_types = frozenset(
        {"telemetry.device_registered", "telemetry.alert_raised", "telemetry.alert_grouped", "telemetry.alert_resolved"}
    )
    tables = ("ins_devices", "ins_alerts")
    schema = """
    CREATE TABLE IF NOT EXISTS ins_devices (
        device_id text PRIMARY KEY,
        partner_id text NOT NULL,
        company_id text NOT NULL,
        kind text NOT NULL,
        hostname text NOT NULL,
        registered_at timestamptz NOT NULL
    );
    CREATE INDEX IF NOT EXISTS ins_devices_company ON ins_devices (company_id);
    CREATE TABLE IF NOT EXISTS ins_alerts (
        alert_id text PRIMARY KEY,
        partner_id text NOT NULL,
        company_id text NOT NULL,
        category text NOT NULL,
        severity text NOT NULL,
        title_ja text NOT NULL,
        host text NOT NULL,
        first_seen timestamptz NOT NULL,
        last_seen timestamptz NOT NULL,
        count integer NOT NULL,
        resolved boolean NOT NULL DEFAULT false,
        false_positive boolean NOT NULL DEFAULT false,
        resolution text
    );
    CREATE INDEX IF NOT EXISTS ins_alerts_company ON ins_alerts (company_id, first_seen);
    """

    async def apply(self, conn: asyncpg.Connection, rec: Recorded) -> None:
        env, d = rec.envelope, rec.envelope.data
        if env.company_id is None:
            return
        if isinstance(d, DeviceRegistered):
            await conn.execute(
                "INSERT INTO ins_devices VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (device_id) DO UPDATE SET hostname=$5, kind=$4",
                d.device_id, env.partner_id, env.company_id, d.kind, d.hostname, env.occurred_at,
            )
        elif isinstance(d, AlertRaised):
            await conn.execute(
                """INSERT INTO ins_alerts (alert_id, partner_id, company_id, category, severity, title_ja, host, first_seen, last_seen, count)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (alert_id) DO NOTHING""",
                d.alert_id, env.partner_id, env.company_id, d.category, d.severity, d.title_ja, d.host,
                d.first_seen, d.last_seen, d.count,
            )
        elif isinstance(d, AlertGrouped):
            await conn.execute(
                "UPDATE ins_alerts SET count=$2, last_seen=GREATEST(last_seen, $3) WHERE alert_id=$1", d.alert_id, d.count, d.last_seen
            )
        elif isinstance(d, AlertResolved):
            await conn.execute(
                "UPDATE ins_alerts SET resolved=true, false_positive=$2, resolution=$3 WHERE alert_id=$1",
                d.alert_id, d.false_positive, d.reason,
            )


class IncidentTickets(Projection):
    name = TICKETS
    stream = HELPDESK.name
    filter_subjects = ("helpdesk.>",)
    event_types = frozenset({"helpdesk.ticket_opened", "helpdesk.ticket_status_changed", "helpdesk.ticket_closed"})
    tables = ("ins_tickets",)
    schema = """
    CREATE TABLE IF NOT EXISTS ins_tickets (
        ticket_id text PRIMARY KEY,
        partner_id text NOT NULL,
        company_id text NOT NULL,
        source text NOT NULL,
        summary text NOT NULL,
        alert_id text,
        incident boolean NOT NULL,
        status text NOT NULL,
        opened_at timestamptz NOT NULL,
        closed_at timestamptz
    );
    CREATE INDEX IF NOT EXISTS ins_tickets_company ON ins_tickets (company_id);
    """

    async def apply(self, conn: asyncpg.Connection, rec: Recorded) -> None:
        env, d = rec.envelope, rec.envelope.data
        if env.company_id is None:
            return
        if isinstance(d, TicketOpened):
            await conn.execute(
                "INSERT INTO ins_tickets VALUES ($1,$2,$3,$4,$5,$6,$7,'open',$8,NULL) ON CONFLICT (ticket_id) DO NOTHING",
                d.ticket_id, env.partner_id, env.company_id, d.source, d.summary, d.alert_id,
                d.incident or d.source in ("incident_report", "alert"), env.occurred_at,
            )
        elif isinstance(d, TicketStatusChanged):
            await conn.execute("UPDATE ins_tickets SET status=$2 WHERE ticket_id=$1", d.ticket_id, d.status)
        elif isinstance(d, TicketClosed):
            await conn.execute("UPDATE ins_tickets SET status='closed', closed_at=$2 WHERE ticket_id=$1", d.ticket_id, env.occurred_at)


# Count fields we look for in a company-level training result, whatever its exact shape.
TRAINING_COUNTS = ("recipients", "sent", "opened", "clicked", "submitted", "reported", "learning_completed")


class TrainingResults(Projection):
    """Company-level phishing-training results (``training.campaign_completed``), read by field name.

    The training context owns that event's schema; reading the counts by name
    keeps this read model working if fields are added there.
    """

    name = TRAINING_FACTS
    stream = TRAINING.name
    filter_subjects = ("training.>",)
    event_types = frozenset({"training.campaign_completed"})
    tables = ("ins_training",)
    schema = """
    CREATE TABLE IF NOT EXISTS ins_training (
        company_id text NOT NULL,
        campaign_id text NOT NULL,
        partner_id text NOT NULL,
        completed_at timestamptz NOT NULL,
        counts jsonb NOT NULL,
        PRIMARY KEY (company_id, campaign_id)
    );
    """

    async def apply(self, conn: asyncpg.Connection, rec: Recorded) -> None:
        env = rec.envelope
        if env.company_id is None:
            return
        data = msgspec.to_builtins(env.data)
        if not isinstance(data, dict):
            return
        counts = {k: v for k, v in data.items() if k in TRAINING_COUNTS and isinstance(v, int)}
        if isinstance(data.get("totals"), dict):
            counts.update({k: v for k, v in data["totals"].items() if k in TRAINING_COUNTS and isinstance(v, int)})
        campaign = str(data.get("campaign_id") or env.aggregate_id)
        await conn.execute(
            """INSERT INTO ins_training VALUES ($1,$2,$3,$4,$5::jsonb)
               ON CONFLICT (company_id, campaign_id) DO UPDATE SET counts=$5::jsonb, completed_at=$4""",
            env.company_id, campaign, env.partner_id, env.occurred_at, _json(counts),
        )
