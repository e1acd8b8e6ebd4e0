"""Helpers for the help desk tests (imported by the tests; fixtures live in conftest.py)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime

import httpx

from otasuke.events import AggregateRef, EventStore, Tenant, new_id
from otasuke.events.schemas.telemetry import AlertGrouped, AlertRaised

CHANNEL_SECRET = "test-channel-secret"


def sign(body: bytes, secret: str = CHANNEL_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def line_event(user_id: str, *, text: str | None = None, postback: str | None = None, event_id: str | None = None,
               reply_token: str | None = None, redelivery: bool = False) -> dict:
    ev = {
        "type": "message" if text is not None else "postback",
        "mode": "active",
        "timestamp": int(datetime.now(UTC).timestamp() * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": event_id or uuid.uuid4().hex.upper()[:26],
        "deliveryContext": {"isRedelivery": redelivery},
        "replyToken": reply_token or uuid.uuid4().hex,
    }
    if text is not None:
        ev["message"] = {"type": "text", "id": str(uuid.uuid4().int)[:18], "quoteToken": "q", "text": text}
    else:
        ev["postback"] = {"data": postback}
    return ev


async def post_line(client: httpx.AsyncClient, *events: dict, secret: str = CHANNEL_SECRET) -> httpx.Response:
    body = json.dumps({"destination": "Uxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "events": list(events)}, ensure_ascii=False).encode()
    return await client.post("/webhooks/line", content=body,
                             headers={"X-Line-Signature": sign(body, secret), "Content-Type": "application/json"})


async def link_code(client: httpx.AsyncClient, headers: dict, company_id: str, name: str = "総務 山田") -> str:
    resp = await client.post(f"/api/v1/companies/{company_id}/link-codes", json={"contact_name": name}, headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()["code"]


async def raise_alert(store: EventStore, partner: str, company: str, *, severity: str = "high",
                      learning: bool = False, alert_id: str | None = None) -> str:
    alert_id = alert_id or new_id()
    now = datetime.now(UTC)
    ref = AggregateRef("telemetry", Tenant(partner, company), "alert", alert_id)
    await store.append(ref, [AlertRaised(
        alert_id=alert_id, rule_id="r-c2", rule_title="C2 callback", category="c2_callback", severity=severity,
        device_id="utm-1", host="PC-経理01", first_seen=now, last_seen=now,
        title_ja="不審な外部サーバーとの通信", explanation_ja="経理のパソコンが、攻撃者が使うサーバーと通信しました。",
        action_ja="そのパソコンのLANケーブルを抜いてください。", in_learning_period=learning)], expected_seq=0)
    return alert_id


async def group_alert(store: EventStore, partner: str, company: str, alert_id: str, count: int) -> None:
    ref = AggregateRef("telemetry", Tenant(partner, company), "alert", alert_id)
    await store.append(ref, [AlertGrouped(alert_id=alert_id, count=count, last_seen=datetime.now(UTC))], expected_seq=None)


async def eventually(check, timeout: float = 10.0, every: float = 0.1):
    """Poll until ``check()`` returns something truthy (consumers are asynchronous)."""
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(every)
