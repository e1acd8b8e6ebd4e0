"""Deliver messages to a conversation, whatever its channel, and keep the transcript."""
from __future__ import annotations

import logging

from otasuke.events import AggregateRef, EventMeta, Tenant
from otasuke.events.schemas.helpdesk import ChatMessage
from otasuke.platform.service import Runtime

from ..adapters.line import LineChannel
from ..adapters.webchat import WebChatSockets
from ..nlu import BotMessage

log = logging.getLogger(__name__)


def conversation_id(channel: str, user_id: str) -> str:
    return f"{channel}-{user_id}"


def split_conversation(conv_id: str) -> tuple[str, str]:
    channel, user_id = conv_id.split("-", 1)
    return channel, user_id


def describe(m: BotMessage) -> str:
    if m.custom and m.custom.get("type") == "alert_card":
        c = m.custom
        return f"【{c['severity_ja']}】{c['title']}\n{c['what']}\n今すぐしてほしいこと：{c['action']}"
    return m.text or ""


class Delivery:
    def __init__(self, rt: Runtime, web: WebChatSockets, line: LineChannel | None):
        self.rt = rt
        self.web = web
        self.line = line

    async def record(self, tenant: Tenant, conv_id: str, sender: str, m: BotMessage, *, alert_id: str | None = None,
                     event_id: str | None = None) -> int:
        channel, _ = split_conversation(conv_id)
        payload = ChatMessage(conversation_id=conv_id, channel=channel, sender=sender, text=describe(m),
                              buttons=[b.title for b in m.buttons], alert_id=alert_id)
        ref = AggregateRef("helpdesk", tenant, "conversation", conv_id)
        recs = await self.rt.store.append(ref, [payload], expected_seq=None, meta=EventMeta(actor=sender),
                                          event_ids=[event_id] if event_id else None)
        return recs[-1].seq

    async def send(self, conv_id: str, messages: list[BotMessage], *, sender: str = "bot",
                   reply_token: str | None = None, retry_key: str | None = None) -> None:
        channel, user_id = split_conversation(conv_id)
        if channel == "web":
            await self.web.send(user_id, messages, sender=sender)
        elif channel == "line":
            if self.line is None:
                log.warning("LINE is not configured; message to %s kept in the transcript only", conv_id)
                return
            await self.line.send(user_id, messages, reply_token=reply_token, retry_key=retry_key)
