"""Helpers for the help desk tests (imported by the tests; fixtures live in conftest.py)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from aiohttp import web

from otasuke.events import AggregateRef, EventStore, Tenant, new_id
from otasuke.events.schemas.telemetry import AlertGrouped, AlertRaised
from otasuke.platform.embedded import free_port

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


COMPANIES = (("chubu", "gifu-seiki"), ("chubu", "ena-foods"), ("kansai", "osaka-print"))


async def start_helpdesk(start_service, monkeypatch, auth_headers, line_url: str, *, companies=COMPANIES, **overrides):
    """The help desk with LINE pointed at the local stand-in, and companies registered through its API.

    ``overrides`` go to ``start_service`` (e.g. ``ports=`` of the session's Rasa bot, so its
    action server finds this help desk)."""
    monkeypatch.setenv("OTASUKE_LINE_CHANNEL_SECRET", CHANNEL_SECRET)
    monkeypatch.setenv("OTASUKE_LINE_CHANNEL_ACCESS_TOKEN", "test-access-token")
    monkeypatch.setenv("OTASUKE_LINE_API_BASE", line_url)
    monkeypatch.setenv("OTASUKE_LINE_PARTNER_ID", "chubu")
    monkeypatch.setenv("OTASUKE_HELPDESK_TICK_SECONDS", "0.3")
    svc = await start_service("helpdesk_bot", **overrides)
    svc.client = httpx.AsyncClient(base_url=svc.url, timeout=30)
    for partner, company in companies:
        resp = await svc.client.post("/api/v1/companies", headers=auth_headers("operator", partner_id=partner), json={
            "company_id": company, "name": f"{company} 株式会社", "industry": "manufacturing",
            "employees": 20, "prefecture": "岐阜県"})
        assert resp.status_code == 201, resp.text
    return svc


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


@dataclass
class LinePlatform:
    """Implements the documented Messaging API endpoints we use and records every request."""

    url: str = ""
    requests: list[dict] = field(default_factory=list)
    expired_reply_tokens: set[str] = field(default_factory=set)
    retry_keys: set[str] = field(default_factory=set)
    failing: int = 0
    """How many of the next reply/push calls answer 500 (an outage in the middle of a turn)."""

    def delivered(self, to: str | None = None) -> list[dict]:
        """Replies and pushes the platform accepted, i.e. what the user actually sees."""
        return [r for r in self.requests if r["kind"] in ("reply", "push") and r.get("status") == 200
                and (to is None or r["body"].get("to", to) == to)]

    def outage(self) -> web.Response | None:
        if self.failing > 0:
            self.failing -= 1
            return web.json_response({"message": "Internal server error"}, status=500)
        return None

    def sent(self, kind: str, to: str | None = None) -> list[dict]:
        return [r for r in self.requests if r["kind"] == kind and (to is None or r["body"].get("to") == to)]

    def texts(self) -> list[str]:
        return [m.get("text") or m.get("altText") for r in self.requests if r["kind"] in ("reply", "push")
                for m in r["body"]["messages"]]


@asynccontextmanager
async def line_platform_stub():
    """A local LINE Messaging API on a free port (the real one is unreachable from here)."""
    platform = LinePlatform()

    async def reply(request: web.Request):
        body = await request.json()
        record = {"kind": "reply", "body": body, "auth": request.headers.get("Authorization"), "status": 500}
        platform.requests.append(record)
        if (down := platform.outage()) is not None:
            return down
        if body["replyToken"] in platform.expired_reply_tokens:
            record["status"] = 400
            return web.json_response({"message": "Invalid reply token"}, status=400)
        record["status"] = 200
        return web.json_response({"sentMessages": [{"id": str(i), "quoteToken": "q"} for i, _ in enumerate(body["messages"])]})

    async def push(request: web.Request):
        body = await request.json()
        key = request.headers.get("X-Line-Retry-Key")
        record = {"kind": "push", "body": body, "retry_key": key, "status": 500}
        platform.requests.append(record)
        if (down := platform.outage()) is not None:
            return down
        if key in platform.retry_keys:
            record["status"] = 409
            return web.json_response({"message": "The retry key is already accepted"}, status=409)
        platform.retry_keys.add(key)
        record["status"] = 200
        return web.json_response({"sentMessages": [{"id": str(i), "quoteToken": "q"} for i, _ in enumerate(body["messages"])]})

    async def profile(request: web.Request):
        platform.requests.append({"kind": "profile", "body": {"to": request.match_info["user_id"]}})
        return web.json_response({"userId": request.match_info["user_id"], "displayName": "山田 太郎", "language": "ja"})

    app = web.Application()
    app.router.add_post("/v2/bot/message/reply", reply)
    app.router.add_post("/v2/bot/message/push", push)
    app.router.add_get("/v2/bot/profile/{user_id}", profile)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    platform.url = f"http://127.0.0.1:{port}"
    try:
        yield platform
    finally:
        await runner.cleanup()
