"""One conversation turn, whatever the channel: link, hand-over, alert buttons, or the bot.

The help desk owns the conversation; the bot only answers while no operator has
it. A ticket whose conversation is this one silences the bot until it closes.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Callable

from otasuke.events import AggregateRef, DomainError, EventMeta, Tenant, derived_id, execute, load, utcnow
from otasuke.events.schemas.helpdesk import AlertNoticeAnswered
from otasuke.platform.service import Runtime

from ..domain import alert_notice as an
from ..domain import chat_guard as cg
from ..domain import link_code as lc
from ..domain import messages_ja as ja
from ..nlu import BotMessage, Button
from otasuke.events.schemas.enrolment import SERVICES

from . import enrolment, tickets
from .config import HelpdeskConfig
from .delivery import Delivery, conversation_id

log = logging.getLogger(__name__)

ALERT_ANSWER_LABELS = {"details": "詳しく", "request_help": "対応を依頼", "no_problem": "問題ない"}
"""What the card's buttons say: LINE postbacks carry no label, the transcript shows what was tapped."""
TICKET_SOURCES = {"user_request", "bot_failed", "incident_report", "alert", "dispatch_request"}
SOURCE_OF_REASON = {"bot_unavailable": "bot_failed", "whitelist_request": "user_request"}


def turn_event_id(turn_id: str | None, what: str, index: int = 0) -> str | None:
    """A deterministic id for something a turn writes, so a redelivered turn writes it once.

    ``turn_id`` names the inbound message (``line:<webhookEventId>``); None for channels
    that never redeliver, which then get fresh ids as before."""
    return derived_id(f"{turn_id}:{what}", index) if turn_id else None


class ChatService:
    def __init__(self, rt: Runtime, delivery: Delivery, config: HelpdeskConfig, bot: Callable[[], Any]):
        self.rt = rt
        self.delivery = delivery
        self.config = config
        self._bot = bot

    # -- who is talking --------------------------------------------------------------
    async def contact(self, channel: str, user_id: str):
        return await self.rt.pool.fetchrow("SELECT * FROM contacts WHERE channel=$1 AND user_id=$2", channel, user_id)

    def _default_partner(self, channel: str) -> str:
        if channel == "line" and self.config.line_partner_id:
            return self.config.line_partner_id
        return self.rt.settings.local_partner

    async def tenant_of(self, channel: str, user_id: str) -> tuple[Tenant, Any]:
        contact = await self.contact(channel, user_id)
        if contact is None:
            return Tenant(self._default_partner(channel)), None
        return Tenant(contact["partner_id"], contact["company_id"]), contact

    # -- turns -----------------------------------------------------------------------
    async def handle_text(self, channel: str, user_id: str, text: str, *, reply_token: str | None = None,
                          shown: str | None = None, display_name: Callable | None = None,
                          turn_id: str | None = None) -> list[BotMessage]:
        conv = conversation_id(channel, user_id)
        tenant, contact = await self.tenant_of(channel, user_id)
        seq = await self.delivery.record(tenant, conv, "customer", BotMessage(text=shown or text),
                                         event_id=turn_event_id(turn_id, "said"))

        if (code := lc.normalise(text)) is not None \
                and (contact is None or await self._linked_with(code, channel, user_id)):
            # The second case is this user's own linking turn redelivered: answer it as before.
            replies = [BotMessage(text=await self._link(channel, user_id, code, display_name, turn_id))]
            return await self._answer(conv, replies, reply_token, turn_id=turn_id)

        own_ticket = turn_event_id(turn_id, "ticket")
        row = await self.rt.pool.fetchrow("SELECT * FROM conversations WHERE conversation_id=$1", conv)
        if row is not None and row["handover_ticket_id"] and row["handover_ticket_id"] != own_ticket:
            ticket = await tickets.ticket_row(self.rt, row["handover_ticket_id"])
            if ticket is not None and ticket["status"] != "closed":
                # An operator has this conversation: the bot stays silent, and the operator's
                # history shows the message as soon as the webhook has answered.
                await self.rt.wait_for(tickets.VIEW, seq)
                if ticket["first_response_at"] is None:
                    return await self._answer(conv, [BotMessage(text=ja.HANDOFF_WAITING)], reply_token, sender="system",
                                              turn_id=turn_id)
                return []

        metadata: dict[str, Any] = {"channel": channel, "conversation_id": conv}
        if contact is not None:
            metadata.update(company_id=contact["company_id"], partner_id=contact["partner_id"],
                            contact_name=contact["contact_name"])
        if row is not None and row["last_alert_id"] \
                and row["last_alert_at"] > utcnow() - timedelta(minutes=self.config.alert_context_minutes):
            metadata["alert_id"] = row["last_alert_id"]
        if shown:
            # A tapped button reaches the bot as its payload; the tracker (and the ops replay) keeps the label.
            metadata["shown"] = shown

        handoff_reason: str | None = None
        handoff_summary = shown or text
        announced = False  # the bot told the user itself that a person takes over
        try:
            answer = await self._bot().respond(conv, text, metadata)
        except Exception:
            log.exception("bot failed for %s", conv)
            missed = True
            answer = [BotMessage(text=ja.BOT_UNAVAILABLE)]
        else:
            missed = any(m.custom and m.custom.get("type") == "fallback" for m in answer)
        turns = await execute(self.rt.store, cg.TURNS, self._ref(tenant, cg.BOT_TURNS, conv),
                              lambda s: cg.bot_turn(s, conv, missed, turn_id), meta=EventMeta(actor="system"))
        replies: list[BotMessage] = []
        for m in answer:
            if m.custom and m.custom.get("type") == "handoff":
                handoff_reason = str(m.custom.get("reason") or "user_request")
                handoff_summary = str(m.custom.get("summary") or handoff_summary)
                announced = any(x.text for x in answer)
            elif m.custom and m.custom.get("type") == "apply_service":
                replies.append(BotMessage(text=await self._apply(tenant, contact, conv, str(m.custom.get("service")),
                                                                 turn_id)))
            elif m.custom and m.custom.get("type") == "fallback" and not m.text:
                continue
            elif m.custom and not m.text and not m.buttons:
                # A link keeps its payload (LINE shows a button) and gets a text for the transcript and
                # the web chat; other payloads have no rendering and would be an empty bubble.
                url = str(m.custom.get("url") or "")
                if m.custom.get("type") == "link" and url.startswith(("https://", "http://")):
                    replies.append(BotMessage(text=f"{m.custom.get('title') or ''}\n{url}".strip(), custom=m.custom))
                else:
                    log.warning("bot payload %r for %s cannot be shown in a chat; dropped", m.custom.get("type"), conv)
            else:
                replies.append(m)
        if handoff_reason is None and turns.state.misses >= cg.MISSES_BEFORE_HANDOFF:
            handoff_reason = "bot_failed"
        if handoff_reason is not None:
            await execute(self.rt.store, cg.TURNS, self._ref(tenant, cg.BOT_TURNS, conv),
                          lambda s: cg.handed_over(s, conv), meta=EventMeta(actor="system"))
            await self.hand_over(tenant, conv, channel, handoff_reason, handoff_summary,
                                 alert_id=metadata.get("alert_id"), ticket_id=own_ticket)
            # Say once that a person takes over; if the bot already did, only that it goes quiet.
            replies.append(BotMessage(text=ja.BOT_STOPPED if announced else ja.HANDOFF))
        return await self._answer(conv, replies, reply_token, turn_id=turn_id)

    async def handle_postback(self, channel: str, user_id: str, data: str, label: str | None = None, *,
                              reply_token: str | None = None, turn_id: str | None = None) -> list[BotMessage]:
        if data.startswith("bot:"):
            # LINE postbacks carry no label: the button's title rides after the payload (adapters.line).
            payload, _, title = data[4:].partition("\n")
            return await self.handle_text(channel, user_id, payload, reply_token=reply_token, shown=label or title or None,
                                          turn_id=turn_id)
        if data.startswith("alert:"):
            _, answer, alert_id = (data.split(":", 2) + ["", ""])[:3]
            return await self.answer_alert(channel, user_id, alert_id, answer, label, reply_token=reply_token,
                                           turn_id=turn_id)
        return []

    async def hand_over(self, tenant: Tenant, conv: str, channel: str, reason: str, summary: str,
                        alert_id: str | None = None, ticket_id: str | None = None) -> str:
        reason = SOURCE_OF_REASON.get(reason, reason)
        source = reason if reason in TICKET_SOURCES else "user_request"
        # A ticket id derived from the turn: a redelivered turn finds its ticket instead of opening another.
        return await tickets.open_ticket(
            self.rt, tenant, source=source, summary=summary, conversation_id=conv, channel=channel,
            alert_id=alert_id, incident=source == "incident_report", actor=conv, ticket_id=ticket_id,
            command_id=ticket_id,
        )

    # -- alert card buttons ------------------------------------------------------------------
    async def answer_alert(self, channel: str, user_id: str, alert_id: str, answer: str, label: str | None, *,
                           reply_token: str | None = None, turn_id: str | None = None) -> list[BotMessage]:
        conv = conversation_id(channel, user_id)
        tenant, contact = await self.tenant_of(channel, user_id)
        alert = await self.rt.pool.fetchrow("SELECT * FROM alerts WHERE alert_id=$1", alert_id)
        if contact is None or alert is None or alert["company_id"] != contact["company_id"] \
                or answer not in ("details", "request_help", "no_problem"):
            return []  # a forged or stale button: never reveal another company's alert
        await self.delivery.record(tenant, conv, "customer", BotMessage(text=label or ALERT_ANSWER_LABELS[answer]),
                                   event_id=turn_event_id(turn_id, "said"))
        ref = AggregateRef("helpdesk", tenant, an.AGGREGATE_TYPE, alert_id)
        event = AlertNoticeAnswered(alert_id=alert_id, conversation_id=conv, answer=answer)
        outcome = await execute(self.rt.store, an.NOTICE, ref, lambda _: [event], meta=EventMeta(actor=conv),
                                command_id=turn_event_id(turn_id, "alert-answer"))
        await self.rt.wait_for(tickets.VIEW, outcome.version)
        if answer == "details":
            replies = [BotMessage(
                text=f"{alert['explanation_ja']}\n\n対象の機器：{alert['host']}（{alert['count']}回検知、"
                     f"最後は{ja.when_ja(alert['last_seen'])}）\n\n今すぐしてほしいこと：{alert['action_ja']}",
                buttons=[Button(title="対応を依頼", payload=f"alert:request_help:{alert_id}"),
                         Button(title="問題ない", payload=f"alert:no_problem:{alert_id}")])]
        elif answer == "no_problem":
            replies = [BotMessage(text=ja.ALERT_OK)]
        else:
            await tickets.open_ticket(
                self.rt, tenant, source="alert", summary=f"アラート対応の依頼：{alert['title_ja']}",
                conversation_id=conv, channel=channel, alert_id=alert_id, actor=conv,
                command_id=f"alert-help-{alert_id}-{conv}",
            )
            replies = [BotMessage(text=ja.ALERT_HELP + ja.HANDOFF)]
        return await self._answer(conv, replies, reply_token, turn_id=turn_id)

    async def _apply(self, tenant: Tenant, contact, conv: str, service: str, turn_id: str | None = None) -> str:
        if contact is None:
            return ja.APPLY_NEEDS_LINK
        if service not in SERVICES:
            return ja.APPLY_UNKNOWN
        await enrolment.apply(self.rt, tenant, service=service, channel="chat", devices=None, note=None, actor=conv,
                              command_id=turn_event_id(turn_id, "apply"), contact_name=contact["contact_name"])
        return ja.APPLIED.format(service=ja.SERVICE_JA[service])

    # -- linking -------------------------------------------------------------------------
    @staticmethod
    def _ref(tenant: Tenant, aggregate_type: str, conv: str) -> AggregateRef:
        return AggregateRef("helpdesk", tenant, aggregate_type, conv)

    async def _linked_with(self, code: str, channel: str, user_id: str) -> bool:
        """Whether this code linked this very chat user (their linking turn, redelivered)."""
        row = await self.rt.pool.fetchrow("SELECT * FROM link_codes WHERE code_hash=$1", lc.code_hash(code))
        if row is None or row["used_at"] is None:
            return False
        ref = AggregateRef("helpdesk", Tenant(row["partner_id"], row["company_id"]), lc.AGGREGATE_TYPE, lc.aggregate_id(code))
        state, _ = await load(self.rt.store, lc.LINK_CODE, ref)
        return state.used_by == (channel, user_id)

    async def _link(self, channel: str, user_id: str, code: str, display_name: Callable | None,
                    turn_id: str | None = None) -> str:
        conv = conversation_id(channel, user_id)
        # Not linked yet, so the guard lives under the partner whose chat this is.
        guard_ref = self._ref(Tenant(self._default_partner(channel)), cg.LINK_GUARD, conv)
        guard, _ = await load(self.rt.store, cg.LINK, guard_ref)
        if cg.is_locked(guard, utcnow()):
            return ja.LINK_LOCKED
        row = await self.rt.pool.fetchrow("SELECT * FROM link_codes WHERE code_hash=$1", lc.code_hash(code))
        if row is None:
            return await self._link_failed(guard_ref, conv, turn_id)
        name = await display_name(user_id) if display_name else None
        ref = AggregateRef("helpdesk", Tenant(row["partner_id"], row["company_id"]), lc.AGGREGATE_TYPE, lc.aggregate_id(code))
        try:
            outcome = await execute(self.rt.store, lc.LINK_CODE, ref,
                                    lambda s: lc.redeem(s, code, channel, user_id, name, utcnow()),
                                    meta=EventMeta(actor=conv))
        except DomainError:
            return await self._link_failed(guard_ref, conv, turn_id)
        await self.rt.wait_for(tickets.VIEW, outcome.version)
        await execute(self.rt.store, cg.LINK, guard_ref, lambda s: cg.link_succeeded(s, conv), meta=EventMeta(actor=conv))
        company = await self.rt.pool.fetchval("SELECT name FROM companies WHERE company_id=$1", row["company_id"])
        return ja.LINKED.format(company=company or row["company_id"], name=row["contact_name"])

    async def _link_failed(self, guard_ref: AggregateRef, conv: str, turn_id: str | None = None) -> str:
        lock_for = timedelta(minutes=self.config.link_lock_minutes)
        outcome = await execute(self.rt.store, cg.LINK, guard_ref,
                                lambda s: cg.link_failed(s, conv, self.config.link_attempts, lock_for, utcnow(), turn_id),
                                meta=EventMeta(actor=conv))
        if cg.is_locked(outcome.state, utcnow()):
            log.warning("link codes locked for %s after %d wrong codes", conv, outcome.state.failures)
            if outcome.appended:  # the operators' lockout list shows it as soon as the user is told
                await self.rt.wait_for(tickets.VIEW, outcome.version)
            return ja.LINK_LOCKED
        return ja.LINK_FAILED

    async def _answer(self, conv: str, replies: list[BotMessage], reply_token: str | None,
                      sender: str = "bot", turn_id: str | None = None) -> list[BotMessage]:
        if not replies:
            return []
        tenant, _ = await self.tenant_of(*conv.split("-", 1))
        for i, m in enumerate(replies):
            await self.delivery.record(tenant, conv, "system" if m.text in (ja.HANDOFF, ja.BOT_STOPPED) else sender, m,
                                       event_id=turn_event_id(turn_id, "answer", i))
        # The same retry key on a redelivered turn: LINE delivers a push that already got through only once.
        await self.delivery.send(conv, replies, sender=sender, reply_token=reply_token,
                                 retry_key=turn_event_id(turn_id, "push"))
        return replies

