"""Alerts into chat: push high-severity alerts as cards, hold them over quiet hours, escalate the ignored."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from otasuke.events import AggregateRef, EventMeta, Reactor, Recorded, Tenant, derived_id, execute, utcnow
from otasuke.events.schemas.helpdesk import AlertEscalatedToOperator, AlertNoticeSent
from otasuke.events.schemas.telemetry import AlertRaised
from otasuke.events.streams import TELEMETRY
from otasuke.platform.service import Runtime

from ..domain import alert_notice as an
from ..domain import messages_ja as ja
from ..nlu import BotMessage
from . import tickets
from .delivery import Delivery

log = logging.getLogger(__name__)


def alert_card(alert_id: str, severity: str, title: str, what: str, action: str) -> BotMessage:
    return BotMessage(custom={
        "type": "alert_card", "alert_id": alert_id, "severity": severity,
        "severity_ja": an.SEVERITY_JA.get(severity, severity), "title": title, "what": what, "action": action,
        "buttons": [
            {"title": "詳しく", "payload": f"alert:details:{alert_id}"},
            {"title": "対応を依頼", "payload": f"alert:request_help:{alert_id}"},
            {"title": "問題ない", "payload": f"alert:no_problem:{alert_id}"},
        ],
    })


async def preferences(rt: Runtime, company_id: str | None) -> an.Preferences:
    row = await rt.pool.fetchrow("SELECT * FROM notification_preferences WHERE company_id=$1", company_id)
    if row is None:
        return an.Preferences()
    return an.Preferences(min_severity=row["min_severity"], quiet_start=row["quiet_start"], quiet_end=row["quiet_end"],
                          escalate_after_minutes=row["escalate_after_minutes"])


def notice_ref(tenant: Tenant, alert_id: str) -> AggregateRef:
    return AggregateRef("helpdesk", tenant, an.AGGREGATE_TYPE, alert_id)


async def push_alert(rt: Runtime, delivery: Delivery, tenant: Tenant, alert: dict[str, Any], *, deferred: bool,
                     cause_id: str) -> bool:
    """Send one card per alert to every linked contact of the company; False if it was already sent."""
    contacts = await rt.pool.fetch(
        "SELECT channel, user_id FROM contacts WHERE company_id=$1 AND partner_id=$2 ORDER BY linked_at",
        tenant.company_id, tenant.partner_id)
    convs = [f"{c['channel']}-{c['user_id']}" for c in contacts]
    notice = AlertNoticeSent(alert_id=alert["alert_id"], severity=alert["severity"], conversation_ids=convs, deferred=deferred)
    # Recorded before sending: a crash in between loses one card rather than sending it twice.
    outcome = await execute(rt.store, an.NOTICE, notice_ref(tenant, alert["alert_id"]), lambda s: an.send_once(s, notice),
                            meta=EventMeta(actor="system"), command_id=cause_id)
    if not outcome.appended:
        return False
    card = alert_card(alert["alert_id"], alert["severity"], alert["title_ja"], alert["explanation_ja"], alert["action_ja"])
    for i, conv in enumerate(convs):
        seq = await delivery.record(tenant, conv, "system", card, alert_id=alert["alert_id"],
                                    event_id=derived_id(cause_id, 10 + i))
        # The card makes this alert the chat's context: readable before the user can type about it.
        await rt.wait_for(tickets.VIEW, seq)
        try:
            await delivery.send(conv, [card], sender="system", retry_key=derived_id(cause_id, 1000 + i))
        except Exception:
            log.exception("could not push alert %s to %s", alert["alert_id"], conv)
    await rt.wait_for(tickets.VIEW, outcome.version)
    return True


class AlertPusher(Reactor):
    name = "helpdesk_bot.alert_pusher"
    stream = TELEMETRY.name
    filter_subjects = ("telemetry.>",)
    event_types = frozenset({"telemetry.alert_raised"})

    def __init__(self, rt: Runtime):
        self.rt = rt

    async def handle(self, rec: Recorded) -> None:
        d, env = rec.data, rec.envelope
        if not isinstance(d, AlertRaised) or env.company_id is None:
            return
        prefs = await preferences(self.rt, env.company_id)
        if an.decide(prefs, d.severity, d.in_learning_period, utcnow()) != "push":
            return  # skipped, or held for the scheduler to send when quiet hours end
        alert = {"alert_id": d.alert_id, "severity": d.severity, "title_ja": d.title_ja,
                 "explanation_ja": d.explanation_ja, "action_ja": d.action_ja}
        await push_alert(self.rt, self.rt.extras["delivery"], env.tenant, alert, deferred=False, cause_id=env.id)


async def send_deferred(rt: Runtime, delivery: Delivery) -> int:
    """Alerts held back (quiet hours) that may be sent now.

    An alert without a notice a few seconds after it was raised was held back:
    the pusher handles fresh alerts. ``send_once`` keeps it to one card either way.
    """
    now = utcnow()
    rows = await rt.pool.fetch(
        """SELECT a.* FROM alerts a LEFT JOIN alert_notices n USING (alert_id)
           WHERE n.alert_id IS NULL AND a.company_id IS NOT NULL AND NOT a.resolved AND NOT a.acknowledged
             AND NOT a.in_learning_period AND a.raised_at > now() - interval '24 hours'
             AND a.raised_at < now() - interval '3 seconds'""")
    sent = 0
    for a in rows:
        prefs = await preferences(rt, a["company_id"])
        if an.decide(prefs, a["severity"], False, now) == "push":
            sent += await push_alert(rt, delivery, Tenant(a["partner_id"], a["company_id"]), dict(a), deferred=True,
                                     cause_id=f"deferred-{a['alert_id']}")
    return sent


async def escalate_unacknowledged(rt: Runtime, delivery: Delivery) -> int:
    now = utcnow()
    rows = await rt.pool.fetch(
        """SELECT n.alert_id, n.partner_id, n.company_id, n.sent_at, n.conversation_ids, a.severity, a.title_ja
           FROM alert_notices n JOIN alerts a USING (alert_id)
           WHERE a.severity = 'critical' AND (n.answer IS NULL OR n.answer = 'details') AND n.escalated_ticket_id IS NULL
             AND NOT a.acknowledged AND NOT a.resolved""")
    done = 0
    for r in rows:
        prefs = await preferences(rt, r["company_id"])
        if not an.should_escalate(prefs, r["severity"], r["sent_at"], False, now):
            continue
        tenant = Tenant(r["partner_id"], r["company_id"])
        convs = json.loads(r["conversation_ids"])
        conv = convs[0] if convs else None
        ticket_id = derived_id(f"escalation:{r['alert_id']}")
        await tickets.open_ticket(rt, tenant, source="alert", summary=f"未確認の緊急アラート：{r['title_ja']}",
                                  conversation_id=conv, channel=conv.split("-", 1)[0] if conv else None,
                                  alert_id=r["alert_id"], ticket_id=ticket_id, command_id=f"escalation-ticket-{r['alert_id']}")
        minutes = (now - r["sent_at"]).total_seconds() / 60
        event = AlertEscalatedToOperator(alert_id=r["alert_id"], ticket_id=ticket_id, minutes_unacknowledged=round(minutes, 1))
        outcome = await execute(rt.store, an.NOTICE, notice_ref(tenant, r["alert_id"]), lambda s: an.escalate_once(s, event),
                                meta=EventMeta(actor="system"), command_id=f"escalation-{r['alert_id']}")
        if outcome.appended:
            await rt.wait_for(tickets.VIEW, outcome.version)
            if conv:
                msg = BotMessage(text=ja.ESCALATED)
                await delivery.record(tenant, conv, "system", msg, event_id=derived_id(f"escalation-msg-{r['alert_id']}"))
                await delivery.send(conv, [msg], sender="system", retry_key=derived_id(f"escalation-push-{r['alert_id']}"))
            done += 1
    return done


INBOX_KEEP = "7 days"
"""LINE redelivers a webhook event for a limited time; ids older than this are never seen again."""


async def prune_line_inbox(rt: Runtime) -> int:
    status = await rt.pool.execute(
        f"DELETE FROM line_webhook_inbox WHERE received_at < now() - interval '{INBOX_KEEP}'")
    return int(status.split()[-1])


async def run_scheduler(rt: Runtime, delivery: Delivery, every: float) -> None:
    ticks = 0
    while True:
        await asyncio.sleep(every)
        ticks += 1
        views = [rt.runners.get(name) for name in (tickets.VIEW, "helpdesk_bot.alerts")]
        if not all(v is not None and v.active for v in views):
            continue  # start-up: the read models are not there yet
        try:
            await send_deferred(rt, delivery)
            await escalate_unacknowledged(rt, delivery)
            if ticks % 120 == 1:  # about hourly at the default tick
                await prune_line_inbox(rt)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("alert scheduler tick failed; trying again next tick")
