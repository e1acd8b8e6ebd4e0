"""The telemetry read model: devices, alerts, counts per category and month,
allow-list, learned baselines and monitored services — all rebuilt from the
TELEMETRY stream (``otasuke events rebuild telemetry.read_model``)."""
from __future__ import annotations

from datetime import date

import asyncpg
import msgspec

from otasuke.events import Projection, Recorded
from otasuke.events.schemas.telemetry import (
    AlertAcknowledged,
    AlertEscalated,
    AlertGrouped,
    AlertRaised,
    AlertResolved,
    AllowlistEntryAdded,
    AllowlistEntryRemoved,
    BaselineLearned,
    DeviceCheckedIn,
    DeviceRegistered,
    IngestRejected,
    MonitoringStarted,
    MonitoringStopped,
)
from otasuke.events.streams import TELEMETRY

NAME = "telemetry.read_model"


def month_of(ts) -> date:
    return date(ts.year, ts.month, 1)


class TelemetryReadModel(Projection):
    name = NAME
    stream = TELEMETRY.name
    filter_subjects = ("telemetry.>",)
    tables = ("devices", "alerts", "alert_actions", "detection_counts", "allowlist", "baseline", "monitoring",
              "device_checkins")
    schema = """
    CREATE TABLE IF NOT EXISTS devices (
        device_id text PRIMARY KEY, partner_id text NOT NULL, company_id text NOT NULL, kind text NOT NULL,
        hostname text NOT NULL, learning_until timestamptz, registered_at timestamptz NOT NULL,
        registered_by text, last_seen_at timestamptz, last_source text, events_seen bigint NOT NULL DEFAULT 0,
        last_rejection text, last_rejection_at timestamptz
    );
    CREATE INDEX IF NOT EXISTS devices_company ON devices (company_id);
    CREATE TABLE IF NOT EXISTS device_checkins (
        device_id text NOT NULL, at timestamptz NOT NULL, events bigint NOT NULL, PRIMARY KEY (device_id, at)
    );
    CREATE TABLE IF NOT EXISTS alerts (
        alert_id text PRIMARY KEY, group_key text NOT NULL, partner_id text NOT NULL, company_id text NOT NULL,
        device_id text NOT NULL, host text NOT NULL, rule_id text NOT NULL, rule_title text NOT NULL,
        category text NOT NULL, kind text, severity text NOT NULL, rule_severity text, baseline text,
        title_ja text NOT NULL, explanation_ja text NOT NULL, action_ja text NOT NULL, evidence jsonb NOT NULL,
        in_learning_period boolean NOT NULL, first_seen timestamptz NOT NULL, last_seen timestamptz NOT NULL,
        count bigint NOT NULL, status text NOT NULL, resolution text, false_positive boolean NOT NULL DEFAULT false,
        raised_at timestamptz NOT NULL, updated_at timestamptz NOT NULL
    );
    CREATE INDEX IF NOT EXISTS alerts_company ON alerts (company_id, last_seen DESC);
    CREATE TABLE IF NOT EXISTS alert_actions (
        alert_id text NOT NULL, seq bigint NOT NULL, at timestamptz NOT NULL, action text NOT NULL,
        by text, detail text, PRIMARY KEY (alert_id, seq)
    );
    CREATE TABLE IF NOT EXISTS detection_counts (
        company_id text NOT NULL, partner_id text NOT NULL, month date NOT NULL, kind text NOT NULL,
        category text NOT NULL, count bigint NOT NULL, PRIMARY KEY (company_id, month, category)
    );
    CREATE TABLE IF NOT EXISTS allowlist (
        entry_id text PRIMARY KEY, partner_id text NOT NULL, company_id text NOT NULL, value text NOT NULL,
        rule_id text, reason text NOT NULL, added_by text NOT NULL, expires_at timestamptz,
        added_at timestamptz NOT NULL, removed_at timestamptz, removed_by text
    );
    CREATE TABLE IF NOT EXISTS baseline (
        device_id text NOT NULL, item_type text NOT NULL, item text NOT NULL, count bigint NOT NULL,
        PRIMARY KEY (device_id, item_type, item)
    );
    CREATE TABLE IF NOT EXISTS monitoring (
        company_id text NOT NULL, partner_id text NOT NULL, service text NOT NULL, active boolean NOT NULL,
        since date NOT NULL, expected_devices integer, PRIMARY KEY (company_id, service)
    );
    """

    async def apply(self, conn: asyncpg.Connection, rec: Recorded) -> None:
        env = rec.envelope
        d = env.data
        at = env.occurred_at
        if isinstance(d, DeviceRegistered):
            await conn.execute(
                """INSERT INTO devices (device_id, partner_id, company_id, kind, hostname, learning_until, registered_at, registered_by)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (device_id) DO NOTHING""",
                d.device_id, env.partner_id, env.company_id, d.kind, d.hostname, d.learning_until, at, d.registered_by,
            )
        elif isinstance(d, DeviceCheckedIn):
            await conn.execute(
                """UPDATE devices SET last_seen_at = GREATEST(COALESCE(last_seen_at, $2), $2), last_source=$3,
                   events_seen = events_seen + $4 WHERE device_id=$1""",
                d.device_id, d.at, d.source, d.events,
            )
            await conn.execute(
                "INSERT INTO device_checkins VALUES ($1,$2,$3) ON CONFLICT DO NOTHING", d.device_id, d.at, d.events
            )
        elif isinstance(d, IngestRejected):
            await conn.execute(
                "UPDATE devices SET last_rejection=$2, last_rejection_at=$3 WHERE device_id=$1",
                d.device_id, d.reason, at,
            )
        elif isinstance(d, BaselineLearned):
            for item_type, items in (("pair", d.process_pairs), ("shape", d.command_shapes)):
                if items:
                    await conn.executemany(
                        """INSERT INTO baseline VALUES ($1,$2,$3,$4) ON CONFLICT (device_id, item_type, item)
                           DO UPDATE SET count = baseline.count + EXCLUDED.count""",
                        [(d.device_id, item_type, k, v) for k, v in items.items()],
                    )
        elif isinstance(d, MonitoringStarted):
            await conn.execute(
                """INSERT INTO monitoring VALUES ($1,$2,$3,true,$4,$5) ON CONFLICT (company_id, service)
                   DO UPDATE SET active=true, since=$4, expected_devices=$5""",
                env.company_id, env.partner_id, d.service, d.since, d.expected_devices,
            )
        elif isinstance(d, MonitoringStopped):
            await conn.execute(
                "UPDATE monitoring SET active=false, since=$3 WHERE company_id=$1 AND service=$2",
                env.company_id, d.service, d.since,
            )
        elif isinstance(d, AllowlistEntryAdded):
            await conn.execute(
                """INSERT INTO allowlist (entry_id, partner_id, company_id, value, rule_id, reason, added_by, expires_at, added_at)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (entry_id) DO NOTHING""",
                d.entry_id, env.partner_id, env.company_id, d.value, d.rule_id, d.reason, d.by, d.expires_at, at,
            )
        elif isinstance(d, AllowlistEntryRemoved):
            await conn.execute(
                "UPDATE allowlist SET removed_at=$2, removed_by=$3 WHERE entry_id=$1", d.entry_id, at, d.by
            )
        elif isinstance(d, AlertRaised):
            await conn.execute(
                """INSERT INTO alerts VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,
                   'open',NULL,false,$22,$22) ON CONFLICT (alert_id) DO NOTHING""",
                d.alert_id, env.aggregate_id, env.partner_id, env.company_id, d.device_id, d.host, d.rule_id,
                d.rule_title, d.category, d.kind, d.severity, d.rule_severity, d.baseline, d.title_ja,
                d.explanation_ja, d.action_ja, msgspec.json.encode(d.evidence).decode(), d.in_learning_period,
                d.first_seen, d.last_seen, d.count, at,
            )
            await self._count(conn, env, d.kind or "", d.category, d.first_seen, d.count)
            await self._action(conn, rec, d.alert_id, "raised", "system", d.severity)
        elif isinstance(d, AlertGrouped):
            row = await conn.fetchrow(
                """UPDATE alerts SET count=$2, last_seen=GREATEST(last_seen,$3), updated_at=$4 WHERE alert_id=$1
                   RETURNING kind, category""",
                d.alert_id, d.count, d.last_seen, at,
            )
            if row is not None:
                await self._count(conn, env, row["kind"] or "", row["category"], d.last_seen, d.added)
        elif isinstance(d, AlertAcknowledged):
            await conn.execute(
                "UPDATE alerts SET status='acknowledged', updated_at=$2 WHERE alert_id=$1 AND status='open'", d.alert_id, at
            )
            await self._action(conn, rec, d.alert_id, "acknowledged", d.by, None)
        elif isinstance(d, AlertEscalated):
            await conn.execute(
                "UPDATE alerts SET status='escalated', updated_at=$2 WHERE alert_id=$1 AND status<>'resolved'", d.alert_id, at
            )
            await self._action(conn, rec, d.alert_id, "escalated", d.by, d.reason)
        elif isinstance(d, AlertResolved):
            await conn.execute(
                """UPDATE alerts SET status='resolved', resolution=$2, false_positive=$3, updated_at=$4
                   WHERE alert_id=$1""",
                d.alert_id, d.reason, d.false_positive, at,
            )
            await self._action(conn, rec, d.alert_id, "resolved", d.by, d.reason)

    @staticmethod
    async def _count(conn, env, kind: str, category: str, ts, n: int) -> None:
        await conn.execute(
            """INSERT INTO detection_counts VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (company_id, month, category)
               DO UPDATE SET count = detection_counts.count + EXCLUDED.count""",
            env.company_id, env.partner_id, month_of(ts), kind, category, n,
        )

    @staticmethod
    async def _action(conn, rec: Recorded, alert_id: str, action: str, by: str | None, detail: str | None) -> None:
        await conn.execute(
            "INSERT INTO alert_actions VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING",
            alert_id, rec.seq, rec.envelope.occurred_at, action, by, detail,
        )
