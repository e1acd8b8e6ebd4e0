"""The training read model: one row per campaign and one per recipient.

Every recipient event sets a timestamp once (``COALESCE``), so a redelivered
or repeated event changes nothing; counts are computed by SQL aggregation over
these rows (see :mod:`.results`), never kept as counters that could drift.
"""
from __future__ import annotations

import asyncpg

from otasuke.events import Projection, Recorded
from otasuke.events.schemas import training as ev
from otasuke.events.streams import TRAINING

RESULTS_PROJECTION = "training.results"


class TrainingReadModel(Projection):
    name = RESULTS_PROJECTION
    stream = TRAINING.name
    filter_subjects = ("training.>",)
    tables = ("campaigns", "recipients", "automated_requests", "invitations")
    schema = """
    CREATE TABLE IF NOT EXISTS campaigns (
        campaign_id text PRIMARY KEY,
        partner_id text NOT NULL,
        company_id text NOT NULL,
        name text NOT NULL,
        template_id text NOT NULL,
        mode text NOT NULL,
        status text NOT NULL,
        window_start timestamptz NOT NULL,
        window_end timestamptz NOT NULL,
        recipients_planned integer NOT NULL,
        sender_name text NOT NULL,
        sender_address text NOT NULL,
        charset text NOT NULL,
        created_at timestamptz NOT NULL,
        completed_at timestamptz
    );
    CREATE INDEX IF NOT EXISTS campaigns_tenant ON campaigns (partner_id, company_id, created_at);
    CREATE TABLE IF NOT EXISTS recipients (
        recipient_id text PRIMARY KEY,
        campaign_id text NOT NULL,
        partner_id text NOT NULL,
        company_id text NOT NULL,
        email text NOT NULL,
        name text NOT NULL,
        department text NOT NULL,
        position text NOT NULL,
        manager text NOT NULL,
        send_at timestamptz NOT NULL,
        status text NOT NULL DEFAULT 'scheduled',
        message_id text,
        sent_at timestamptz,
        resent_after_restart boolean NOT NULL DEFAULT false,
        failure text,
        opened_at timestamptz,
        clicked_at timestamptz,
        submitted_at timestamptz,
        reported_at timestamptz,
        report_channel text,
        pre_started_at timestamptz,
        pre_completed_at timestamptz,
        post_started_at timestamptz,
        post_completed_at timestamptz,
        quiz_score integer,
        automated_requests integer NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS recipients_campaign ON recipients (campaign_id, department, email);
    CREATE INDEX IF NOT EXISTS recipients_due ON recipients (send_at) WHERE status IN ('scheduled', 'dispatching');
    CREATE TABLE IF NOT EXISTS invitations (
        recipient_id text NOT NULL,
        stage text NOT NULL,
        campaign_id text NOT NULL,
        status text NOT NULL DEFAULT 'pending',
        sent_at timestamptz,
        PRIMARY KEY (recipient_id, stage)
    );
    CREATE INDEX IF NOT EXISTS invitations_pending ON invitations (campaign_id) WHERE status = 'pending';
    CREATE TABLE IF NOT EXISTS automated_requests (
        event_id text PRIMARY KEY,
        recipient_id text NOT NULL,
        campaign_id text NOT NULL,
        at timestamptz NOT NULL,
        action text NOT NULL,
        reason text NOT NULL,
        user_agent text NOT NULL
    );
    """

    async def apply(self, conn: asyncpg.Connection, rec: Recorded) -> None:
        env = rec.envelope
        d = env.data
        rid = env.aggregate_id
        if isinstance(d, ev.CampaignCreated):
            await conn.execute(
                """INSERT INTO campaigns VALUES ($1,$2,$3,$4,$5,$6,'active',$7,$8,$9,$10,$11,$12,$13,NULL)
                   ON CONFLICT (campaign_id) DO NOTHING""",
                d.campaign_id, env.partner_id, env.company_id, d.name, d.template_id, d.mode,
                d.window_start, d.window_end, d.recipients, d.sender.name, d.sender.address, d.charset,
                env.occurred_at,
            )
        elif isinstance(d, ev.RecipientsScheduled):
            await conn.executemany(
                """INSERT INTO recipients (recipient_id, campaign_id, partner_id, company_id, email, name,
                   department, position, manager, send_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
                   ON CONFLICT (recipient_id) DO NOTHING""",
                [(r.recipient_id, d.campaign_id, env.partner_id, env.company_id, r.email, r.name,
                  r.department, r.position, r.manager, r.send_at) for r in d.recipients],
            )
        elif isinstance(d, ev.CampaignPaused):
            await conn.execute("UPDATE campaigns SET status='paused' WHERE campaign_id=$1 AND status='active'", d.campaign_id)
        elif isinstance(d, ev.CampaignResumed):
            await conn.execute("UPDATE campaigns SET status='active' WHERE campaign_id=$1 AND status='paused'", d.campaign_id)
        elif isinstance(d, ev.CampaignCancelled):
            await conn.execute(
                "UPDATE campaigns SET status='cancelled' WHERE campaign_id=$1 AND status IN ('active','paused')",
                d.campaign_id,
            )
            await conn.execute(
                "UPDATE recipients SET status='cancelled' WHERE campaign_id=$1 AND status='scheduled'", d.campaign_id
            )
        elif isinstance(d, ev.CampaignCompleted):
            await conn.execute(
                "UPDATE campaigns SET status='completed', completed_at=$2 WHERE campaign_id=$1", d.campaign_id, env.occurred_at
            )
            await conn.execute(
                "UPDATE recipients SET status='cancelled' WHERE campaign_id=$1 AND status='scheduled'", d.campaign_id
            )
        elif isinstance(d, ev.LearningInvitationsRequested):
            await conn.execute(
                """INSERT INTO invitations (recipient_id, stage, campaign_id)
                   SELECT recipient_id, $2, campaign_id FROM recipients WHERE campaign_id=$1 AND status <> 'failed'
                   ON CONFLICT DO NOTHING""",
                d.campaign_id, d.stage,
            )
        elif isinstance(d, ev.LearningInvitationSent):
            await conn.execute(
                "UPDATE invitations SET status='sent', sent_at=COALESCE(sent_at, $3) WHERE recipient_id=$1 AND stage=$2",
                rid, d.stage, d.sent_at,
            )
        elif isinstance(d, ev.DispatchStarted):
            await conn.execute(
                "UPDATE recipients SET status='dispatching' WHERE recipient_id = ANY($1::text[]) AND status='scheduled'",
                d.recipient_ids,
            )
        elif isinstance(d, ev.MailSent):
            await conn.execute(
                """UPDATE recipients SET status='sent', sent_at=COALESCE(sent_at, $2), message_id=$3,
                   resent_after_restart = resent_after_restart OR $4 WHERE recipient_id=$1""",
                rid, d.sent_at, d.message_id, d.resent_after_restart,
            )
        elif isinstance(d, ev.MailDeliveryFailed):
            await conn.execute(
                "UPDATE recipients SET status='failed', failure=$2 WHERE recipient_id=$1 AND status <> 'sent'", rid, d.reason
            )
        elif isinstance(d, ev.MailOpened):
            await conn.execute("UPDATE recipients SET opened_at=COALESCE(opened_at, $2) WHERE recipient_id=$1", rid, d.at)
        elif isinstance(d, ev.LinkClicked):
            await conn.execute("UPDATE recipients SET clicked_at=COALESCE(clicked_at, $2) WHERE recipient_id=$1", rid, d.at)
        elif isinstance(d, ev.FormSubmitted):
            await conn.execute(
                "UPDATE recipients SET submitted_at=COALESCE(submitted_at, $2) WHERE recipient_id=$1", rid, d.at
            )
        elif isinstance(d, ev.MailReported):
            await conn.execute(
                """UPDATE recipients SET reported_at=COALESCE(reported_at, $2),
                   report_channel=COALESCE(report_channel, $3) WHERE recipient_id=$1""",
                rid, d.at, d.channel,
            )
        elif isinstance(d, ev.AutomatedRequestRecorded):
            inserted = await conn.execute(
                "INSERT INTO automated_requests VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING",
                env.id, rid, d.campaign_id, d.at, d.action, d.reason, d.user_agent,
            )
            if inserted.endswith(" 1"):
                await conn.execute(
                    "UPDATE recipients SET automated_requests = automated_requests + 1 WHERE recipient_id=$1", rid
                )
        elif isinstance(d, ev.LearningStarted):
            column = "pre_started_at" if d.stage == "pre" else "post_started_at"
            await conn.execute(f"UPDATE recipients SET {column}=COALESCE({column}, $2) WHERE recipient_id=$1", rid, d.at)
        elif isinstance(d, ev.LearningCompleted):
            column = "pre_completed_at" if d.stage == "pre" else "post_completed_at"
            await conn.execute(
                f"""UPDATE recipients SET {column}=COALESCE({column}, $2),
                    quiz_score=GREATEST(COALESCE(quiz_score, 0), $3) WHERE recipient_id=$1""",
                rid, d.at, d.score,
            )
