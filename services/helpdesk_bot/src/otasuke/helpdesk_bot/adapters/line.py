"""LINE Messaging API through line-bot-sdk v3: reply first, push (with a retry key) as the fallback.

The API base URL is configurable (``OTASUKE_LINE_API_BASE``) so a deployment
can go through a proxy and tests can point it at a local server.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import uuid
from urllib.parse import urlsplit

import aiohttp

from linebot.v3.messaging import (
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    FlexBox,
    FlexBubble,
    FlexButton,
    FlexContainer,
    FlexMessage,
    FlexText,
    PostbackAction,
    PushMessageRequest,
    QuickReply,
    QuickReplyItem,
    ReplyMessageRequest,
    TextMessage,
    URIAction,
)
from linebot.v3.messaging.exceptions import ApiException

from ..nlu import BotMessage

log = logging.getLogger(__name__)

MAX_MESSAGES = 5  # LINE accepts at most five messages per reply or push
PUSH_ATTEMPTS = 3
PUSH_BACKOFF = 0.5  # seconds, doubled per attempt


def postback_data(payload: str, title: str) -> str:
    """The postback a button sends back: our own ``alert:`` buttons as they are, the bot's
    payloads (``/intent{...}``) marked ``bot:`` so the chat hands them to Rasa (as the web chat
    does), with the title after a newline so the transcript shows what the user tapped."""
    if payload.startswith("alert:"):
        return payload
    return f"bot:{payload}\n{title}"[:300]


def _quick_reply(buttons) -> QuickReply | None:
    if not buttons:
        return None
    return QuickReply(items=[
        QuickReplyItem(action=PostbackAction(label=b.title[:20], data=postback_data(b.payload, b.title), displayText=b.title))
        for b in buttons[:13]
    ])


def alert_bubble(card: dict) -> dict:
    """A Flex bubble: what happened, how serious, what to do now, and three buttons."""
    colour = "#C62828" if card["severity"] == "critical" else "#EF6C00"
    buttons = [
        {"type": "button", "style": "primary" if i == 1 else "secondary", "height": "sm",
         "action": {"type": "postback", "label": b["title"], "data": b["payload"], "displayText": b["title"]}}
        for i, b in enumerate(card["buttons"])
    ]
    return {
        "type": "bubble",
        "header": {"type": "box", "layout": "vertical", "backgroundColor": colour, "contents": [
            {"type": "text", "text": f"重要度：{card['severity_ja']}", "color": "#FFFFFF", "size": "sm"},
            {"type": "text", "text": card["title"], "color": "#FFFFFF", "weight": "bold", "wrap": True},
        ]},
        "body": {"type": "box", "layout": "vertical", "spacing": "md", "contents": [
            {"type": "text", "text": "何が起きたか", "weight": "bold", "size": "sm"},
            {"type": "text", "text": card["what"], "wrap": True, "size": "sm"},
            {"type": "text", "text": "今すぐしてほしいこと", "weight": "bold", "size": "sm"},
            {"type": "text", "text": card["action"], "wrap": True, "size": "sm"},
        ]},
        "footer": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": buttons},
    }


MAX_URI = 1000  # LINE's limit for a URI action


def openable(url: str) -> bool:
    """Whether LINE can open the link from a button: https, or http on this machine (local tests)."""
    if len(url) > MAX_URI:
        return False
    parts = urlsplit(url)
    if parts.scheme == "https":
        return bool(parts.hostname)
    if parts.scheme == "http" and parts.hostname:
        if parts.hostname == "localhost":
            return True
        try:
            return ipaddress.ip_address(parts.hostname).is_loopback
        except ValueError:
            return False
    return False


def link_message(title: str, url: str) -> FlexMessage:
    """A link as a button the user taps (a bare URL in a text bubble is easy to miss or mistype)."""
    bubble = FlexBubble(
        body=FlexBox(layout="vertical", contents=[FlexText(text=title or "ご案内", wrap=True, weight="bold")]),
        footer=FlexBox(layout="vertical", contents=[
            FlexButton(style="primary", height="sm", action=URIAction(label="開く", uri=url))]),
    )
    return FlexMessage(altText=f"{title}：{url}"[:400], contents=bubble)


def to_line(messages: list[BotMessage]) -> list:
    out: list = []
    for m in messages:
        link = m.custom if m.custom and m.custom.get("type") == "link" else None
        if m.custom and m.custom.get("type") == "alert_card":
            card = m.custom
            out.append(FlexMessage(altText=f"【{card['severity_ja']}】{card['title']}",
                                   contents=FlexContainer.from_dict(alert_bubble(card))))
        elif link and openable(str(link.get("url") or "")):
            out.append(link_message(str(link.get("title") or ""), str(link["url"])))
        elif m.text:
            out.append(TextMessage(text=m.text[:5000], quickReply=_quick_reply(m.buttons)))
    if len(out) > MAX_MESSAGES:
        # Keep the last message (it carries the quick replies) and fold the rest into texts.
        head = "\n\n".join(getattr(x, "text", "") or getattr(x, "alt_text", "") for x in out[: len(out) - MAX_MESSAGES + 1])
        out = [TextMessage(text=head[:5000]), *out[len(out) - MAX_MESSAGES + 1:]]
    return out


class LineChannel:
    def __init__(self, *, access_token: str, api_base: str):
        self.api_base = api_base.rstrip("/")
        self._client = AsyncApiClient(Configuration(access_token=access_token, host=self.api_base))
        self._api = AsyncMessagingApi(self._client)
        # The generated client always uses its own base path; point it at ours.
        self._api.line_base_path = self.api_base

    async def close(self) -> None:
        await self._client.close()

    async def send(self, user_id: str, messages: list[BotMessage], *, reply_token: str | None = None,
                   retry_key: str | None = None) -> str:
        """Deliver; returns "reply" or "push". A push is retried safely with the same retry key."""
        line_messages = to_line(messages)
        if not line_messages:
            return "none"
        if reply_token:
            try:
                await self._api.reply_message(ReplyMessageRequest(replyToken=reply_token, messages=line_messages))
                return "reply"
            except ApiException as exc:
                # Expired or already-used reply token (slow bot, redelivered event): push instead.
                log.info("LINE reply failed (%s); pushing instead", exc.status)
        key = retry_key or str(uuid.uuid4())
        for attempt in range(PUSH_ATTEMPTS):
            try:
                await self._api.push_message(PushMessageRequest(to=user_id, messages=line_messages), x_line_retry_key=key)
                return "push"
            except ApiException as exc:
                if exc.status == 409:  # a push with this retry key was already accepted
                    return "push"
                # 5xx and 429 may be retried; the same key makes LINE deliver at most once.
                if (exc.status or 0) < 500 and exc.status != 429 or attempt == PUSH_ATTEMPTS - 1:
                    raise
                log.info("LINE push answered %s; retrying with the same retry key", exc.status)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                if attempt == PUSH_ATTEMPTS - 1:
                    raise
                log.info("LINE push did not get through; retrying with the same retry key")
            await asyncio.sleep(PUSH_BACKOFF * 2 ** attempt)
        return "push"

    async def display_name(self, user_id: str) -> str | None:
        try:
            profile = await self._api.get_profile(user_id)
        except Exception:  # the name is a nicety; linking works without it
            return None
        return profile.display_name
