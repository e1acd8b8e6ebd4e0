"""Shared helpers: a local stand-in for the LINE platform, signed webhooks, events from other contexts."""
from __future__ import annotations

import sys
from pathlib import Path
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web

from otasuke.platform.embedded import free_port

sys.path.insert(0, str(Path(__file__).parent))  # tests import helpdesk_testkit (importlib import mode)
from helpdesk_testkit import CHANNEL_SECRET  # noqa: E402



@dataclass
class LinePlatform:
    """Implements the documented Messaging API endpoints we use and records every request."""

    url: str = ""
    requests: list[dict] = field(default_factory=list)
    expired_reply_tokens: set[str] = field(default_factory=set)
    retry_keys: set[str] = field(default_factory=set)

    def sent(self, kind: str, to: str | None = None) -> list[dict]:
        return [r for r in self.requests if r["kind"] == kind and (to is None or r["body"].get("to") == to)]

    def texts(self) -> list[str]:
        return [m.get("text") or m.get("altText") for r in self.requests if r["kind"] in ("reply", "push")
                for m in r["body"]["messages"]]


@pytest.fixture
async def line_platform():
    platform = LinePlatform()

    async def reply(request: web.Request):
        body = await request.json()
        platform.requests.append({"kind": "reply", "body": body, "auth": request.headers.get("Authorization")})
        if body["replyToken"] in platform.expired_reply_tokens:
            return web.json_response({"message": "Invalid reply token"}, status=400)
        return web.json_response({"sentMessages": [{"id": str(i), "quoteToken": "q"} for i, _ in enumerate(body["messages"])]})

    async def push(request: web.Request):
        body = await request.json()
        key = request.headers.get("X-Line-Retry-Key")
        platform.requests.append({"kind": "push", "body": body, "retry_key": key})
        if key in platform.retry_keys:
            return web.json_response({"message": "The retry key is already accepted"}, status=409)
        platform.retry_keys.add(key)
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
    yield platform
    await runner.cleanup()


@pytest.fixture
async def helpdesk(start_service, line_platform, monkeypatch, auth_headers):
    monkeypatch.setenv("OTASUKE_LINE_CHANNEL_SECRET", CHANNEL_SECRET)
    monkeypatch.setenv("OTASUKE_LINE_CHANNEL_ACCESS_TOKEN", "test-access-token")
    monkeypatch.setenv("OTASUKE_LINE_API_BASE", line_platform.url)
    monkeypatch.setenv("OTASUKE_LINE_PARTNER_ID", "chubu")
    monkeypatch.setenv("OTASUKE_HELPDESK_TICK_SECONDS", "0.3")
    svc = await start_service("helpdesk_bot")
    async with httpx.AsyncClient(base_url=svc.url, timeout=30) as client:
        for partner, company in (("chubu", "gifu-seiki"), ("chubu", "ena-foods"), ("kansai", "osaka-print")):
            resp = await client.post("/api/v1/companies", headers=auth_headers("operator", partner_id=partner), json={
                "company_id": company, "name": f"{company} 株式会社", "industry": "manufacturing",
                "employees": 20, "prefecture": "岐阜県"})
            assert resp.status_code == 201, resp.text
    svc.client = httpx.AsyncClient(base_url=svc.url, timeout=30)
    yield svc
    await svc.client.aclose()
