"""`POST /webhooks/line`: verify the signature, process each event once (a half-done one again on redelivery)."""
from __future__ import annotations

import logging

from litestar import Request, Response, post
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.webhooks import FollowEvent, MessageEvent, PostbackEvent, TextMessageContent

from otasuke.platform.service import Runtime

from ..application.chat import turn_event_id
from ..nlu import BotMessage

log = logging.getLogger(__name__)

# An event is *received* (claimed for LEASE) before it is processed and *completed* after: a
# turn that failed half-way is processed again when LINE redelivers it (every write of a turn
# has an id derived from the webhookEventId, so what did land is not written twice), and a
# redelivery of a completed event is ignored. The effects are NATS events and LINE calls,
# not rows of this database, so "completed" cannot share their transaction.
INBOX_DDL = """
CREATE TABLE IF NOT EXISTS line_webhook_inbox (
    webhook_event_id text PRIMARY KEY, received_at timestamptz NOT NULL DEFAULT now());
ALTER TABLE line_webhook_inbox ADD COLUMN IF NOT EXISTS attempts integer NOT NULL DEFAULT 1;
ALTER TABLE line_webhook_inbox ADD COLUMN IF NOT EXISTS claimed_until timestamptz;
-- Rows from before this column were handled when received: they count as completed.
ALTER TABLE line_webhook_inbox ADD COLUMN IF NOT EXISTS completed_at timestamptz DEFAULT now();
ALTER TABLE line_webhook_inbox ALTER COLUMN completed_at DROP DEFAULT;
"""
LEASE_SECONDS = 120  # longer than a slow turn; a worker that died frees the event after this

WELCOME = ("友だち追加ありがとうございます。お助け隊の相談窓口です。会社の管理者の方から届いた"
           "8けたの連携コードを送っていただくと、アラートのお知らせも受け取れます。")


async def _claim(runtime: Runtime, event_id: str) -> bool:
    """Receive an event: True if this delivery should process it (new, or received but never
    completed and nobody is working on it now); False if it is completed or in progress."""
    return await runtime.pool.fetchval(
        """INSERT INTO line_webhook_inbox AS i (webhook_event_id, claimed_until, completed_at)
           VALUES ($1, now() + make_interval(secs => $2), NULL)
           ON CONFLICT (webhook_event_id) DO UPDATE
               SET claimed_until = EXCLUDED.claimed_until, attempts = i.attempts + 1
               WHERE i.completed_at IS NULL AND (i.claimed_until IS NULL OR i.claimed_until < now())
           RETURNING true""", event_id, float(LEASE_SECONDS)) is not None


async def _settle(runtime: Runtime, event_id: str, completed: bool) -> None:
    await runtime.pool.execute(
        "UPDATE line_webhook_inbox SET claimed_until=NULL, completed_at=CASE WHEN $2 THEN now() END "
        "WHERE webhook_event_id=$1", event_id, completed)


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
    failed: list[str] = []
    for ev in events:
        user_id = getattr(ev.source, "user_id", None)
        if not user_id or not await _claim(runtime, ev.webhook_event_id):
            continue  # completed already (or being processed right now), or a group without a user
        try:
            await _process(runtime, ev, user_id)
        except Exception:
            log.exception("LINE event %s failed; left for LINE's redelivery", ev.webhook_event_id)
            await _settle(runtime, ev.webhook_event_id, completed=False)
            failed.append(ev.webhook_event_id)
        else:
            await _settle(runtime, ev.webhook_event_id, completed=True)
    if failed:
        # A non-2xx answer makes LINE redeliver the batch; its completed events are skipped then.
        return Response({"detail": "some events failed", "failed": failed}, status_code=500)
    return Response({"ok": True}, status_code=200)


async def _process(runtime: Runtime, ev, user_id: str) -> None:
    chat = runtime.extras["chat"]
    line = runtime.extras["line"]
    turn_id = f"line:{ev.webhook_event_id}"
    if isinstance(ev, MessageEvent) and isinstance(ev.message, TextMessageContent):
        await chat.handle_text("line", user_id, ev.message.text, reply_token=ev.reply_token,
                               display_name=line.display_name if line else None, turn_id=turn_id)
    elif isinstance(ev, PostbackEvent):
        await chat.handle_postback("line", user_id, ev.postback.data, None, reply_token=ev.reply_token,
                                   turn_id=turn_id)
    elif isinstance(ev, FollowEvent) and line is not None:
        # Nothing is written; the retry key keeps a redelivered follow from greeting twice.
        await line.send(user_id, [BotMessage(text=WELCOME)], reply_token=ev.reply_token,
                        retry_key=turn_event_id(turn_id, "push"))
    # Unfollow and other events change nothing here: the contact stays linked (the admin removes it).
