"""`POST /webhooks/line`: verify the signature, drop redeliveries, hand each event to the chat."""
from __future__ import annotations

import logging

from litestar import Request, Response, post
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.webhooks import FollowEvent, MessageEvent, PostbackEvent, TextMessageContent

from otasuke.platform.service import Runtime

log = logging.getLogger(__name__)

INBOX_DDL = """
CREATE TABLE IF NOT EXISTS line_webhook_inbox (
    webhook_event_id text PRIMARY KEY, received_at timestamptz NOT NULL DEFAULT now())
"""
WELCOME = ("友だち追加ありがとうございます。お助け隊の相談窓口です。会社の管理者の方から届いた"
           "8けたの連携コードを送っていただくと、アラートのお知らせも受け取れます。")


async def _first_time(runtime: Runtime, event_id: str) -> bool:
    return await runtime.pool.fetchval(
        "INSERT INTO line_webhook_inbox (webhook_event_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING true", event_id
    ) is not None


@post("/webhooks/line", status_code=200, include_in_schema=False)
async def line_webhook(request: Request, runtime: Runtime) -> Response:
    config = runtime.extras["config"]
    if not config.line_channel_secret:
        return Response({"detail": "LINE is not configured"}, status_code=503)
    body = (await request.body()).decode("utf-8", errors="replace")
    signature = request.headers.get("x-line-signature", "")
    try:
        events = WebhookParser(config.line_channel_secret).parse(body, signature)
    except InvalidSignatureError:
        return Response({"detail": "invalid X-Line-Signature"}, status_code=400)
    except (ValueError, KeyError, TypeError) as exc:
        return Response({"detail": f"malformed webhook body: {exc}"}, status_code=400)
    chat = runtime.extras["chat"]
    line = runtime.extras["line"]
    for ev in events:
        user_id = getattr(ev.source, "user_id", None)
        if not user_id or not await _first_time(runtime, ev.webhook_event_id):
            continue  # a redelivered event we already handled, or a group without a user
        try:
            if isinstance(ev, MessageEvent) and isinstance(ev.message, TextMessageContent):
                await chat.handle_text("line", user_id, ev.message.text, reply_token=ev.reply_token,
                                       display_name=line.display_name if line else None)
            elif isinstance(ev, PostbackEvent):
                await chat.handle_postback("line", user_id, ev.postback.data, None, reply_token=ev.reply_token)
            elif isinstance(ev, FollowEvent) and line is not None:
                from ..nlu import BotMessage

                await line.send(user_id, [BotMessage(text=WELCOME)], reply_token=ev.reply_token)
        except Exception:
            # LINE redelivers on a non-2xx answer; our inbox would drop it, so log and go on.
            log.exception("LINE event %s failed", ev.webhook_event_id)
    return Response({"ok": True}, status_code=200)
