"""Help desk chat: latency of one LINE turn, and what the persisted counters cost.

    .venv/bin/python benchmarks/helpdesk_chat/turns.py [--turns 200]

Starts embedded NATS and PostgreSQL, a local LINE Messaging API stand-in, a Rasa
REST stand-in that answers at once, and the help desk in-process, then prints the
median and p95 time of a signed LINE webhook POST (until the reply was sent) for:

1. an answered turn (loads the ``bot_turns`` aggregate, appends nothing);
2. a missed turn (the stand-in answers with a ``fallback``: one ``bot_missed`` event,
   every second miss a hand-over; the ticket is closed between rounds);
3. a wrong link code from an unlinked user (loads ``link_guard``, appends
   ``link_attempt_failed``; a fresh user each time so none is locked).
The bot itself is not measured (Rasa is a stand-in); see benchmarks/nlu for it.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import uvicorn
from aiohttp import web

from otasuke.platform.auth import issue_token
from otasuke.platform.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from otasuke.platform.service import create_app, load_spec
from otasuke.platform.settings import Settings

SECRET = "bench-secret"
PARTNER = "chubu"


def line_body(user: str, text: str) -> tuple[bytes, dict]:
    body = json.dumps({"destination": "U0", "events": [{
        "type": "message", "mode": "active", "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user}, "webhookEventId": uuid.uuid4().hex.upper()[:26],
        "deliveryContext": {"isRedelivery": False}, "replyToken": uuid.uuid4().hex,
        "message": {"type": "text", "id": "1", "quoteToken": "q", "text": text}}]}, ensure_ascii=False).encode()
    sig = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return body, {"X-Line-Signature": sig, "Content-Type": "application/json"}


async def stand_ins() -> tuple[web.AppRunner, int, int]:
    async def reply(request):
        body = await request.json()
        return web.json_response({"sentMessages": [{"id": "1", "quoteToken": "q"} for _ in body["messages"]]})

    async def rasa(request):
        body = await request.json()
        if body["message"].startswith("?"):
            return web.json_response([{"recipient_id": body["sender"], "text": "すみません、ご用件を確認させてください。"},
                                      {"recipient_id": body["sender"], "custom": {"type": "fallback"}}])
        return web.json_response([{"recipient_id": body["sender"], "text": "はい、お答えします。"}])

    app = web.Application()
    app.router.add_post("/v2/bot/message/reply", reply)
    app.router.add_post("/v2/bot/message/push", reply)
    app.router.add_post("/webhooks/rest/webhook", rasa)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port, port


def summary(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[max(0, int(len(ms) * 0.95) - 1)]
    return f"{name:<34} n={len(ms):4d}  median {statistics.median(ms):6.1f} ms  p95 {p95:6.1f} ms"


async def main(turns: int) -> None:
    import os

    tmp = Path(tempfile.mkdtemp(prefix="bench-chat-"))
    nats_server = EmbeddedNats(tmp / "nats", name="bench-chat").start()
    pg = EmbeddedPostgres(tmp / "pg").start()
    runner, line_port, rasa_port = await stand_ins()
    os.environ.update({"OTASUKE_LINE_CHANNEL_SECRET": SECRET, "OTASUKE_LINE_CHANNEL_ACCESS_TOKEN": "t",
                       "OTASUKE_LINE_API_BASE": f"http://127.0.0.1:{line_port}", "OTASUKE_LINE_PARTNER_ID": PARTNER,
                       "OTASUKE_RASA_URL": f"http://127.0.0.1:{rasa_port}"})
    key = secrets.token_hex(32)
    settings = Settings(nats_url=nats_server.url, database_url=pg.create_database("bench"), data_dir=tmp / "data",
                        ports={**Settings().ports, "helpdesk_bot": free_port()}, signing_key=key)
    server = uvicorn.Server(uvicorn.Config(create_app(load_spec("helpdesk_bot"), settings), host="127.0.0.1",
                                           port=settings.port("helpdesk_bot"), log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    op = {"Authorization": "Bearer " + issue_token(key, subject="bench", role="operator", partner_id=PARTNER)}
    try:
        async with httpx.AsyncClient(base_url=settings.url("helpdesk_bot"), timeout=30) as http:
            r = await http.post("/api/v1/companies", headers=op, json={
                "company_id": "bench-co", "name": "ベンチ株式会社", "industry": "manufacturing", "employees": 20,
                "prefecture": "岐阜県"})
            assert r.status_code == 201, r.text
            code = (await http.post("/api/v1/companies/bench-co/link-codes", headers=op,
                                    json={"contact_name": "総務"})).json()["code"]
            user = "U" + uuid.uuid4().hex

            async def turn(u: str, text: str) -> float:
                body, headers = line_body(u, text)
                t0 = time.perf_counter()
                resp = await http.post("/webhooks/line", content=body, headers=headers)
                assert resp.status_code == 200, resp.text
                return time.perf_counter() - t0

            await turn(user, code)
            answered = [await turn(user, f"質問 {i}") for i in range(turns)]
            missed: list[float] = []
            for i in range(turns // 2):
                missed.append(await turn(user, f"? {i}a"))
                missed.append(await turn(user, f"? {i}b"))  # the second miss hands over
                tickets = (await http.get("/api/v1/tickets", headers=op)).json()
                for t in tickets:
                    await http.post(f"/api/v1/tickets/{t['ticket_id']}/close", headers=op, json={"resolution": "bench"})
            wrong = [await turn("U" + uuid.uuid4().hex, "12345678") for _ in range(turns)]
        print(f"help desk LINE turn, {turns} turns each (stand-in bot and LINE; {sys.platform}):")
        print(summary("answered turn", answered))
        print(summary("missed turn (every 2nd hands over)", missed))
        print(summary("wrong link code", wrong))
    finally:
        server.should_exit = True
        await task
        await runner.cleanup()
        pg.stop()
        nats_server.stop()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    asyncio.run(main(parser.parse_args().turns))
